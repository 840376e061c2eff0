package vfs

import (
	"fmt"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestNoEscape(t *testing.T) {
	v, c, _ := setup(t, nil)
	want, _ := v.Stat(c, Path{}, "/etc/passwd", true)
	for _, name := range []string{"/../../etc/passwd", "../../../etc/passwd", "/deep/a/b/up", "/escape/passwd", "/abs", "/deep/a/b/../../../../../etc/./passwd"} {
		st, err := v.Stat(c, Path{}, name, true)
		if err != nil || st.Ino != want.Ino {
			t.Fatalf("%s: %v ino %d want %d", name, err, st.Ino, want.Ino)
		}
	}
	p, err := v.Lookup(c, Path{}, "/../../x/..", true)
	if err == nil {
		t.Fatalf("/../../x/.. resolved to %s", v.PathString(c, p))
	}
	p, err = v.Lookup(c, Path{}, "/escape", true)
	wantErr(t, "lookup escape", err, nil)
	if s := v.PathString(c, p); s != "/etc" {
		t.Fatalf("escape resolves to %q", s)
	}
	// A chroot-like caller: c.Root = /dir.
	dir, _ := v.Lookup(c, Path{}, "/dir", true)
	cc := &Ctx{Root: dir, Cwd: dir, PID: 7}
	wantErr(t, "symlink", v.Symlink(cc, "/f2", Path{}, "/abslink"), nil)
	if got := readAll(t, v, cc, "/../../abslink"); got != "two" {
		t.Fatalf("absolute link inside chroot read %q", got)
	}
	p, _ = v.Lookup(cc, Path{}, "../..", true)
	if p != dir || v.PathString(cc, p) != "/" {
		t.Fatal(".. escaped the caller's root")
	}
	f2, _ := v.Lookup(c, Path{}, "/dir/f2", true)
	if s := v.PathString(cc, f2); s != "/f2" {
		t.Fatalf("PathString in chroot = %q", s)
	}
	// Relative lookups from a start directory and ".." across a mount.
	etc, _ := v.Lookup(c, Path{}, "/etc", true)
	if _, err := v.Stat(c, etc, "passwd", true); err != nil {
		t.Fatal(err)
	}
	p, _ = v.Lookup(c, Path{}, "/proc/../dev/../etc", true)
	if p != etc {
		t.Fatal(".. across mounts")
	}
}

func TestLinkLimits(t *testing.T) {
	v, c, _ := setup(t, nil)
	_, err := v.Stat(c, Path{}, "/loop1", true)
	wantErr(t, "loop", err, unix.ELOOP)
	_, err = v.Stat(c, Path{}, "/loop1", false)
	wantErr(t, "lstat loop", err, nil)
	// A chain of 40 links resolves, 41 do not.
	for i := 0; i < 41; i++ {
		v.Symlink(c, fmt.Sprintf("c%d", i+1), Path{}, fmt.Sprintf("/tmp/c%d", i))
	}
	writeFile(t, v, c, "/tmp/c41", "end")
	_, err = v.Stat(c, Path{}, "/tmp/c1", true)
	wantErr(t, "40 links", err, nil)
	_, err = v.Stat(c, Path{}, "/tmp/c0", true)
	wantErr(t, "41 links", err, unix.ELOOP)
	_, err = v.Open(c, Path{}, "/loop1", unix.O_CREAT|unix.O_WRONLY, 0o644)
	wantErr(t, "creat loop", err, unix.ELOOP)

	_, err = v.Stat(c, Path{}, "/"+strings.Repeat("a", 256), true)
	wantErr(t, "long component", err, unix.ENAMETOOLONG)
	_, err = v.Stat(c, Path{}, "/"+strings.Repeat("a", 255), true)
	wantErr(t, "255 component", err, unix.ENOENT)
	_, err = v.Stat(c, Path{}, strings.Repeat("./", 2048), true)
	wantErr(t, "long path", err, unix.ENAMETOOLONG)
	_, err = v.Lookup(c, Path{}, "", true)
	wantErr(t, "empty", err, unix.ENOENT)
	_, err = v.Stat(c, Path{}, "/etc/passwd/x", true)
	wantErr(t, "through file", err, unix.ENOTDIR)
	_, err = v.Stat(c, Path{}, "/bin/sh/", true)
	wantErr(t, "trailing slash", err, unix.ENOTDIR)
	if _, err := v.Stat(c, Path{}, "/escape/", false); err != nil {
		t.Fatalf("trailing slash follows dir link: %v", err)
	}
	st, err := v.Stat(c, Path{}, "", false)
	if err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		t.Fatalf("AT_EMPTY_PATH stat: %v", err)
	}
	s, err := v.Readlink(c, Path{}, "/bin/sh")
	if err != nil || s != "busybox" {
		t.Fatalf("readlink %q %v", s, err)
	}
	_, err = v.Readlink(c, Path{}, "/etc/passwd")
	wantErr(t, "readlink file", err, unix.EINVAL)
}

func TestPermissions(t *testing.T) {
	v, root, _ := setup(t, nil)
	u := &Ctx{Root: v.Root(), Cwd: v.Root(), Creds: Creds{UID: 1000, GID: 1000}}
	_, err := v.Open(u, Path{}, "/etc/passwd", unix.O_WRONLY, 0)
	wantErr(t, "write passwd", err, unix.EACCES)
	_, err = v.Stat(u, Path{}, "/secret/file", false)
	wantErr(t, "search secret", err, unix.EACCES)
	wantErr(t, "mkdir in /etc", v.Mkdir(u, Path{}, "/etc/x", 0o755), unix.EACCES)
	wantErr(t, "access X", v.Access(root, Path{}, "/noexec", unix.X_OK, true), unix.EACCES)
	wantErr(t, "access W root", v.Access(root, Path{}, "/noexec", unix.W_OK, true), nil)
	wantErr(t, "access R user", v.Access(u, Path{}, "/noexec", unix.R_OK, true), nil)
	wantErr(t, "chmod other's", v.Chmod(u, Path{}, "/noexec", 0o777, true), unix.EPERM)
	wantErr(t, "chown", v.Chown(u, Path{}, "/noexec", 1000, -1, true), unix.EPERM)
	// New files belong to the creator; sticky /tmp protects them.
	writeFile(t, v, u, "/tmp/mine", "x")
	st, _ := v.Stat(u, Path{}, "/tmp/mine", false)
	if st.UID != 1000 || st.GID != 1000 {
		t.Fatalf("owner %d:%d", st.UID, st.GID)
	}
	other := &Ctx{Root: v.Root(), Cwd: v.Root(), Creds: Creds{UID: 1001, GID: 1001}}
	wantErr(t, "sticky", v.Unlink(other, Path{}, "/tmp/mine"), unix.EPERM)
	wantErr(t, "utimes now other", v.Utimes(other, Path{}, "/tmp/mine", unix.Timespec{Nsec: utimeNow}, unix.Timespec{Nsec: utimeNow}, true), unix.EACCES)
	wantErr(t, "utimes explicit other", v.Utimes(other, Path{}, "/tmp/mine", unix.Timespec{Sec: 1}, unix.Timespec{Sec: 1}, true), unix.EPERM)
	wantErr(t, "chmod own", v.Chmod(u, Path{}, "/tmp/mine", 0o600, true), nil)
	_, err = v.Open(other, Path{}, "/tmp/mine", unix.O_RDONLY, 0)
	wantErr(t, "read 0600", err, unix.EACCES)
	wantErr(t, "unlink own", v.Unlink(u, Path{}, "/tmp/mine"), nil)
	wantErr(t, "mknod chr user", v.Mknod(u, Path{}, "/tmp/dev", unix.S_IFCHR|0o600, unix.Mkdev(1, 3)), unix.EPERM)
}
