package vfs

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// buildRootfs makes a small host rootfs for tests.
func buildRootfs(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	mk := func(p string, perm os.FileMode) {
		if err := os.MkdirAll(filepath.Join(dir, p), perm); err != nil {
			t.Fatal(err)
		}
		unix.Chmod(filepath.Join(dir, p), uint32(perm))
	}
	wr := func(p, s string, perm os.FileMode) {
		if err := os.WriteFile(filepath.Join(dir, p), []byte(s), perm); err != nil {
			t.Fatal(err)
		}
		os.Chmod(filepath.Join(dir, p), perm)
	}
	ln := func(target, p string) {
		if err := os.Symlink(target, filepath.Join(dir, p)); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"etc", "bin", "dir/sub", "deep/a/b", "usr/lib", "dev", "proc"} {
		mk(d, 0o755)
	}
	mk("tmp", 0o1777)
	mk("secret", 0o700)
	wr("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n", 0o644)
	wr("etc/hosts", "127.0.0.1 localhost\n", 0o644)
	wr("bin/busybox", "\x7fELF fake busybox", 0o755)
	wr("dir/f1", "one", 0o644)
	wr("dir/f2", "two", 0o644)
	wr("dir/sub/inner", "in", 0o644)
	wr("secret/file", "s", 0o600)
	wr("noexec", "data", 0o644)
	wr("hard1", "hardlinked", 0o644)
	if err := os.Link(filepath.Join(dir, "hard1"), filepath.Join(dir, "hard2")); err != nil {
		t.Fatal(err)
	}
	ln("busybox", "bin/sh")
	ln("../../../etc", "escape")
	ln("../../../etc/passwd", "deep/a/b/up")
	ln("/etc/passwd", "abs")
	ln("loop2", "loop1")
	ln("loop1", "loop2")
	ln("nowhere/x", "dangling")
	return dir
}

// hashTree digests every name, mode, owner, size, time, link and content.
func hashTree(t *testing.T, root string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		line := fmt.Sprintf("%s %o %d %d %d %d %d.%d %d.%d", rel, st.Mode, st.Uid, st.Gid, st.Size, st.Ino,
			st.Mtim.Sec, st.Mtim.Nsec, st.Ctim.Sec, st.Ctim.Nsec)
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFLNK:
			l, _ := os.Readlink(p)
			line += " -> " + l
		case unix.S_IFREG:
			b, _ := os.ReadFile(p)
			line += fmt.Sprintf(" %x", sha256.Sum256(b))
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// fakeTask is a ProcTask for tests.
type fakeTask struct {
	exe, cwd string
	fds      map[int]string
	files    map[int]*File
}

func (t *fakeTask) Exe() string  { return t.exe }
func (t *fakeTask) Cwd() string  { return t.cwd }
func (t *fakeTask) Comm() string { return "busybox" }
func (t *fakeTask) Maps() []byte {
	return []byte("00400000-00401000 r-xp 00000000 00:2a 5 /bin/busybox\n")
}
func (t *fakeTask) Cmdline() []byte { return []byte("sh\x00-c\x00") }
func (t *fakeTask) Environ() []byte { return []byte("PATH=/bin\x00") }
func (t *fakeTask) Stat() []byte    { return []byte("7 (sh) S 1\n") }
func (t *fakeTask) Status() []byte  { return []byte("Name:\tsh\n") }
func (t *fakeTask) FDs() []int {
	var out []int
	for fd := range t.fds {
		out = append(out, fd)
	}
	sort.Ints(out)
	return out
}
func (t *fakeTask) FDLink(fd int) (string, bool) {
	if f, ok := t.files[fd]; ok && f.Path().Valid() {
		return f.Name(nil), true // calls back into the VFS, as the sentry will
	}
	s, ok := t.fds[fd]
	return s, ok
}
func (t *fakeTask) OpenFD(fd int) *File {
	f := t.files[fd]
	if f != nil {
		f.IncRef()
	}
	return f
}

type fakeProc map[int]*fakeTask

func (p fakeProc) PIDs() []int {
	var out []int
	for pid := range p {
		out = append(out, pid)
	}
	return out
}
func (p fakeProc) Task(pid int) ProcTask {
	if t, ok := p[pid]; ok {
		return t
	}
	return nil
}

// setup builds a rootfs and a VFS over it with a root context.
func setup(t *testing.T, proc ProcSource) (*VFS, *Ctx, string) {
	t.Helper()
	dir := buildRootfs(t)
	v, err := New(Options{RootDir: dir, Proc: proc})
	if err != nil {
		t.Fatal(err)
	}
	return v, &Ctx{Root: v.Root(), Cwd: v.Root(), PID: 7}, dir
}

// wantErr fails unless err is the errno want (nil for success).
func wantErr(t *testing.T, what string, err error, want error) {
	t.Helper()
	if want == nil && err != nil || want != nil && !errors.Is(err, want) {
		t.Fatalf("%s: got %v, want %v", what, err, want)
	}
}

// readAll reads a guest file to its end.
func readAll(t *testing.T, v *VFS, c *Ctx, name string) string {
	t.Helper()
	f, err := v.Open(c, Path{}, name, unix.O_RDONLY, 0)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	defer f.DecRef()
	var out []byte
	buf := make([]byte, 1000)
	for {
		n, err := f.Read(buf)
		if err != nil {
			t.Fatalf("read %s: %v", name, err)
		}
		if n == 0 {
			return string(out)
		}
		out = append(out, buf[:n]...)
	}
}

// writeFile creates/truncates a guest file with content.
func writeFile(t *testing.T, v *VFS, c *Ctx, name, s string) {
	t.Helper()
	f, err := v.Open(c, Path{}, name, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC, 0o644)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	defer f.DecRef()
	if n, err := f.Write([]byte(s)); err != nil || n != len(s) {
		t.Fatalf("write %s: %d %v", name, n, err)
	}
}

// listNames reads a directory with Getdents64 and returns its names.
func listNames(t *testing.T, v *VFS, c *Ctx, name string) []string {
	t.Helper()
	f, err := v.Open(c, Path{}, name, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	defer f.DecRef()
	var names []string
	for {
		b, err := f.Getdents64(4096)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) == 0 {
			return names
		}
		for _, d := range ParseDirents(b) {
			names = append(names, d.Name)
		}
	}
}

func hostIno(t *testing.T, p string) uint64 {
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}
