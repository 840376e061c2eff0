package syscalls

import (
	"testing"

	"kvsentry/test/internal/harness"
)

// TestLocks compares locks.c: flock exclusion across processes, fcntl record
// locks (F_GETLK owner pid, blocking F_SETLKW, split ranges, release on
// close of any fd), OFD locks, and argument errors.
func TestLocks(t *testing.T) {
	harness.RequireRoot(t)
	prog := harness.BuildAndInstallC(t, "locks.c", "locks", true)
	differential(t, []string{prog}, 0,
		"child flock EX|NB: -1 Resource temporarily unavailable\n",
		"child getlk: type=W start=0 len=8 pid-is-parent=1\n",
		"child setlk R 2..4: -1 busy\n", "child setlkw W 0..4 after unlock: 0\n",
		"piece 4: free\npiece 8: locked\n", "after close of another fd, child setlk W: 0\n",
		"OFD lock b (same process, other description): -1 busy\n", "OFD getlk pid=-1\n")
}

// TestMmapShared compares mmap_shared.c: one page cache behind MAP_SHARED
// mappings, read and write, across fork, beside MAP_PRIVATE copy-on-write.
func TestMmapShared(t *testing.T) {
	harness.RequireRoot(t)
	prog := harness.BuildAndInstallC(t, "mmap_shared.c", "mmap_shared", true)
	differential(t, []string{prog}, 0,
		"after pwrite map: WXYZ private: WXYZ\n", "pread after store: WXYZmmap\n",
		"private after cow: PX shared: QX\n", "child store seen by read: C\n",
		"mprotect write on O_RDONLY shared: -1\n")
}

// TestFileSemantics compares fssem.c: create/excl, pread, hard links and
// nlink, unlink of an open file, ftruncate, O_APPEND, rename over a file,
// ELOOP, ENOTDIR, ENOTEMPTY, RENAME_NOREPLACE, readdir counts and readdir
// during unlinks, umask, chmod, mkfifo, getcwd, ".." at the root, xattrs,
// statx and O_TMPFILE + linkat.
func TestFileSemantics(t *testing.T) {
	harness.RequireRoot(t)
	prog := harness.BuildAndInstallC(t, "fssem.c", "fssem", true)
	differential(t, []string{prog}, 0,
		"nlink of open fd: 1\n", "after O_APPEND: hello!\n", "open loop: -1 ELOOP\n",
		"rmdir d (not empty): -1 ENOTEMPTY\n", "rename b d/f NOREPLACE: -1 EEXIST\n",
		"cwd after /../../..: /\n", "getxattr small buffer: -1 ERANGE\n", "  names=user.k\n",
		"  linked data=tmp\n", "fchdir /etc: 0\n  cwd=/etc\n", "fchdir file: -1 ENOTDIR\n")
}

// TestFallocate compares fallocate.c: allocation extending the size,
// KEEP_SIZE, PUNCH_HOLE zeroing, and the EOPNOTSUPP/EINVAL cases.
func TestFallocate(t *testing.T) {
	harness.RequireRoot(t)
	prog := harness.BuildAndInstallC(t, "fallocate.c", "fallocate", true)
	differential(t, []string{prog}, 0, "size 100\n", "ab..efgh\n", "punch without keep: -1 Not supported\n")
}

// TestSplice compares splice.c: splice between a file and a pipe with and
// without offsets, tee duplicating pipe content, and the EINVAL/ESPIPE cases.
func TestSplice(t *testing.T) {
	harness.RequireRoot(t)
	prog := harness.BuildAndInstallC(t, "splice.c", "splice", true)
	differential(t, []string{prog}, 0, "off now 7\n", "tee copy: 23456\n", "file got: 23456\n",
		"offset on pipe: -1 Invalid seek\n", "tee same pipe: -1 Invalid argument\n")
}
