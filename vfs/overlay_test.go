package vfs

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestNewRejectsBadRoot(t *testing.T) {
	if _, err := New(Options{RootDir: "/nonexistent/kvsentry"}); err == nil {
		t.Fatal("missing rootfs accepted")
	}
	dir := buildRootfs(t)
	if _, err := New(Options{RootDir: filepath.Join(dir, "etc/passwd")}); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("file as rootfs: %v", err)
	}
}

func TestLowerReadAndStat(t *testing.T) {
	v, c, dir := setup(t, nil)
	if got := readAll(t, v, c, "/etc/passwd"); got != "root:x:0:0:root:/root:/bin/sh\n" {
		t.Fatalf("passwd = %q", got)
	}
	st, err := v.Stat(c, Path{}, "/bin/sh", true)
	wantErr(t, "stat", err, nil)
	if st.Ino != hostIno(t, filepath.Join(dir, "bin/busybox")) || st.Mode != unix.S_IFREG|0o755 || st.Dev != overlayDev || st.Size != 17 {
		t.Fatalf("stat /bin/sh = %+v", st)
	}
	lst, _ := v.Stat(c, Path{}, "/bin/sh", false)
	if lst.Mode&unix.S_IFMT != unix.S_IFLNK || lst.Size != int64(len("busybox")) {
		t.Fatalf("lstat /bin/sh = %+v", lst)
	}
	h1, _ := v.Stat(c, Path{}, "/hard1", false)
	h2, _ := v.Stat(c, Path{}, "/hard2", false)
	if h1.Ino != h2.Ino || h1.Nlink != 2 {
		t.Fatalf("hard links: %+v %+v", h1, h2)
	}
	ds, _ := v.Stat(c, Path{}, "/dev/null", false)
	ps, _ := v.Stat(c, Path{}, "/proc", false)
	if ds.Dev == st.Dev || ps.Dev == st.Dev || ds.Dev == ps.Dev {
		t.Fatal("filesystems share a device number")
	}
}

func TestCopyUpLeavesHostUntouched(t *testing.T) {
	v, c, dir := setup(t, nil)
	before := hashTree(t, dir)

	f, err := v.Open(c, Path{}, "/etc/passwd", unix.O_WRONLY|unix.O_APPEND, 0)
	wantErr(t, "open passwd", err, nil)
	f.Write([]byte("guest:x:1000:1000::/home/guest:/bin/sh\n"))
	f.DecRef()
	writeFile(t, v, c, "/new", "fresh")
	writeFile(t, v, c, "/dir/f2", "TWO")
	wantErr(t, "chmod", v.Chmod(c, Path{}, "/bin/busybox", 0o700, true), nil)
	wantErr(t, "chown", v.Chown(c, Path{}, "/etc/hosts", 5, 6, true), nil)
	wantErr(t, "utimes", v.Utimes(c, Path{}, "/hard1", unix.Timespec{Sec: 1}, unix.Timespec{Sec: 2}, true), nil)
	wantErr(t, "rename", v.Rename(c, Path{}, "/etc/hosts", Path{}, "/etc/hosts2", 0), nil)
	wantErr(t, "unlink", v.Unlink(c, Path{}, "/hard2"), nil)
	wantErr(t, "unlink inner", v.Unlink(c, Path{}, "/dir/sub/inner"), nil)
	wantErr(t, "rmdir", v.Rmdir(c, Path{}, "/dir/sub"), nil)
	wantErr(t, "mkdir", v.Mkdir(c, Path{}, "/dir/sub", 0o755), nil)
	wantErr(t, "symlink", v.Symlink(c, "x", Path{}, "/lnk"), nil)
	wantErr(t, "truncate", v.Truncate(c, Path{}, "/dir/f1", 1), nil)
	wantErr(t, "rename dir", v.Rename(c, Path{}, "/deep", Path{}, "/deeper", 0), nil)
	wantErr(t, "link", v.Link(c, Path{}, "/hard1", Path{}, "/hard3", false), nil)

	if after := hashTree(t, dir); after != before {
		t.Fatalf("host rootfs changed:\n%s\n---\n%s", before, after)
	}
	if got := readAll(t, v, c, "/etc/passwd"); !strings.HasSuffix(got, "guest:x:1000:1000::/home/guest:/bin/sh\n") || !strings.HasPrefix(got, "root:") {
		t.Fatalf("passwd after append = %q", got)
	}
	if got := readAll(t, v, c, "/dir/f1"); got != "o" {
		t.Fatalf("truncated f1 = %q", got)
	}
	if got := readAll(t, v, c, "/deeper/a/b/up"); !strings.HasPrefix(got, "root:") {
		t.Fatalf("renamed lower dir lost its lower children: %q", got)
	}
	st, _ := v.Stat(c, Path{}, "/bin/busybox", true)
	if st.Mode != unix.S_IFREG|0o700 {
		t.Fatalf("chmod not visible: %o", st.Mode)
	}
	st, _ = v.Stat(c, Path{}, "/etc/hosts2", true)
	if st.UID != 5 || st.GID != 6 {
		t.Fatalf("chown not visible: %+v", st)
	}
	st, _ = v.Stat(c, Path{}, "/hard3", true)
	if st.Nlink != 3 || st.Mtime.Sec != 2 || st.Atime.Sec != 1 {
		t.Fatalf("link/utimes: %+v", st)
	}
	if names := listNames(t, v, c, "/dir/sub"); len(names) != 2 {
		t.Fatalf("recreated dir is not opaque: %v", names)
	}
	_, err = v.Stat(c, Path{}, "/etc/hosts", false)
	wantErr(t, "old name", err, unix.ENOENT)
}

func TestUnlinkHidesLower(t *testing.T) {
	v, c, _ := setup(t, nil)
	wantErr(t, "unlink", v.Unlink(c, Path{}, "/dir/f1"), nil)
	_, err := v.Stat(c, Path{}, "/dir/f1", false)
	wantErr(t, "stat", err, unix.ENOENT)
	names := listNames(t, v, c, "/dir")
	if slices.Contains(names, "f1") || !slices.Contains(names, "f2") || names[0] != "." || names[1] != ".." {
		t.Fatalf("listing = %v", names)
	}
	writeFile(t, v, c, "/dir/f1", "again")
	if got := readAll(t, v, c, "/dir/f1"); got != "again" {
		t.Fatalf("recreated = %q", got)
	}
	wantErr(t, "unlink dir", v.Unlink(c, Path{}, "/dir"), unix.EISDIR)
	wantErr(t, "rmdir nonempty", v.Rmdir(c, Path{}, "/dir"), unix.ENOTEMPTY)
	wantErr(t, "rmdir file", v.Rmdir(c, Path{}, "/dir/f2"), unix.ENOTDIR)
	wantErr(t, "rmdir root", v.Rmdir(c, Path{}, "/"), unix.EBUSY)
	wantErr(t, "rmdir mount", v.Rmdir(c, Path{}, "/proc"), unix.EBUSY)
	wantErr(t, "rmdir dot", v.Rmdir(c, Path{}, "/dir/."), unix.EINVAL)
	wantErr(t, "unlink missing", v.Unlink(c, Path{}, "/dir/nope"), unix.ENOENT)
}

func TestOpenFlags(t *testing.T) {
	v, c, _ := setup(t, nil)
	_, err := v.Open(c, Path{}, "/etc/passwd", unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY, 0o644)
	wantErr(t, "O_EXCL", err, unix.EEXIST)
	_, err = v.Open(c, Path{}, "/bin/sh", unix.O_RDONLY|unix.O_NOFOLLOW, 0)
	wantErr(t, "O_NOFOLLOW", err, unix.ELOOP)
	f, err := v.Open(c, Path{}, "/bin/sh", unix.O_PATH|unix.O_NOFOLLOW, 0)
	wantErr(t, "O_PATH|O_NOFOLLOW", err, nil)
	if st, _ := f.Stat(); st.Mode&unix.S_IFMT != unix.S_IFLNK {
		t.Fatal("O_PATH|O_NOFOLLOW did not open the link")
	}
	_, err = f.Read(make([]byte, 1))
	wantErr(t, "read O_PATH", err, unix.EBADF)
	_, err = v.Open(c, Path{}, "/etc/passwd", unix.O_RDONLY|unix.O_DIRECTORY, 0)
	wantErr(t, "O_DIRECTORY", err, unix.ENOTDIR)
	_, err = v.Open(c, Path{}, "/etc", unix.O_WRONLY, 0)
	wantErr(t, "write dir", err, unix.EISDIR)
	_, err = v.Open(c, Path{}, "/etc/passwd/", unix.O_RDONLY, 0)
	wantErr(t, "trailing slash", err, unix.ENOTDIR)
	_, err = v.Open(c, Path{}, "", unix.O_RDONLY, 0)
	wantErr(t, "empty", err, unix.ENOENT)
	_, err = v.Open(c, Path{}, "/nope/x", unix.O_CREAT|unix.O_WRONLY, 0o644)
	wantErr(t, "missing parent", err, unix.ENOENT)
	// O_CREAT through a dangling symlink creates its target.
	wantErr(t, "mkdir nowhere", v.Mkdir(c, Path{}, "/nowhere", 0o755), nil)
	f, err = v.Open(c, Path{}, "/dangling", unix.O_CREAT|unix.O_WRONLY, 0o600)
	wantErr(t, "create via dangling", err, nil)
	f.Write([]byte("made"))
	f.DecRef()
	if got := readAll(t, v, c, "/nowhere/x"); got != "made" {
		t.Fatalf("target = %q", got)
	}
	st, _ := v.Stat(c, Path{}, "/nowhere/x", false)
	if st.Mode != unix.S_IFREG|0o600 || st.Ino < 1<<40 || st.Nlink != 1 {
		t.Fatalf("new file stat %+v", st)
	}
	// O_TRUNC, O_APPEND, Seek, Pread.
	writeFile(t, v, c, "/tmp/t", "hello world")
	f, _ = v.Open(c, Path{}, "/tmp/t", unix.O_RDWR, 0)
	if off, _ := f.Seek(-5, unix.SEEK_END); off != 6 {
		t.Fatalf("seek end = %d", off)
	}
	b := make([]byte, 5)
	if n, _ := f.Read(b); string(b[:n]) != "world" {
		t.Fatalf("read after seek %q", b[:n])
	}
	f.Pwrite([]byte("J"), 0)
	if n, _ := f.Pread(b, 0); string(b[:n]) != "Jello" {
		t.Fatalf("pread %q", b[:n])
	}
	f.SetFlags(unix.O_APPEND)
	f.Write([]byte("!"))
	wantErr(t, "ftruncate", f.Truncate(3), nil)
	if st, _ := f.Stat(); st.Size != 3 {
		t.Fatalf("size after ftruncate %d", st.Size)
	}
	if f.Flags()&unix.O_ACCMODE != unix.O_RDWR || f.Flags()&unix.O_APPEND == 0 {
		t.Fatalf("flags %o", f.Flags())
	}
	f.DecRef()
	if got := readAll(t, v, c, "/tmp/t"); got != "Jel" {
		t.Fatalf("content %q", got)
	}
	r, _ := v.Open(c, Path{}, "/tmp/t", unix.O_RDONLY, 0)
	wantErr(t, "ftruncate ro", r.Truncate(0), unix.EINVAL)
	_, err = r.Write([]byte("x"))
	wantErr(t, "write ro", err, unix.EBADF)
	r.DecRef()
}

func TestMappable(t *testing.T) {
	v, c, _ := setup(t, nil)
	f, _ := v.Open(c, Path{}, "/bin/busybox", unix.O_RDONLY, 0)
	defer f.DecRef()
	m, dev, ino, err := f.Mappable()
	wantErr(t, "mappable", err, nil)
	st, _ := f.Stat()
	if dev != st.Dev || ino != st.Ino {
		t.Fatal("dev/ino mismatch")
	}
	b := make([]byte, 64)
	n, _ := m.ReadAt(b, 1)
	if string(b[:n]) != "ELF fake busybox" {
		t.Fatalf("mappable read %q", b[:n])
	}
	d, _ := v.Open(c, Path{}, "/etc", unix.O_RDONLY, 0)
	_, _, _, err = d.Mappable()
	wantErr(t, "dir mappable", err, unix.ENODEV)
	r, _ := NewPipe()
	_, _, _, err = r.Mappable()
	wantErr(t, "pipe mappable", err, unix.ENODEV)
}
