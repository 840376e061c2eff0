package vfs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// newAt builds a VFS over dir with overlay mode m.
func newAt(t *testing.T, dir string, m OverlayMode, upper string, mounts ...BindMount) (*VFS, *Ctx) {
	t.Helper()
	v, err := New(Options{RootDir: dir, Overlay: m, UpperDir: upper, Mounts: mounts})
	if err != nil {
		t.Fatal(err)
	}
	return v, &Ctx{Root: v.Root(), Cwd: v.Root(), PID: 7}
}

// exists reports whether name resolves (without following a last symlink).
func exists(v *VFS, c *Ctx, name string) bool {
	_, err := v.Stat(c, Path{}, name, false)
	return err == nil
}

func TestOverlayDirPersists(t *testing.T) {
	dir := buildRootfs(t)
	before := hashTree(t, dir)
	upper := filepath.Join(t.TempDir(), "ov")

	v, c := newAt(t, dir, OverlayDir, upper)
	writeFile(t, v, c, "/etc/new", "fresh")
	writeFile(t, v, c, "/dir/f1", "ONE")                      // copy-up of a lower file
	wantErr(t, "unlink", v.Unlink(c, Path{}, "/dir/f2"), nil) // whiteout
	wantErr(t, "mkdir", v.Mkdir(c, Path{}, "/newdir", 0o750), nil)
	writeFile(t, v, c, "/newdir/in", "inside")
	wantErr(t, "chmod", v.Chmod(c, Path{}, "/etc/hosts", 0o600, true), nil)
	wantErr(t, "chown", v.Chown(c, Path{}, "/etc/new", 5, 6, true), nil)
	wantErr(t, "symlink", v.Symlink(c, "/etc/passwd", Path{}, "/lnk"), nil)
	wantErr(t, "rename", v.Rename(c, Path{}, "/dir/sub/inner", Path{}, "/etc/inner2", 0), nil)
	wantErr(t, "mkfifo", v.Mknod(c, Path{}, "/fifo", unix.S_IFIFO|0o640, 0), nil)
	// An opaque directory: the lower /deep is removed and made again.
	for _, p := range []string{"/deep/a/b/up"} {
		wantErr(t, "unlink "+p, v.Unlink(c, Path{}, p), nil)
	}
	wantErr(t, "rmdir b", v.Rmdir(c, Path{}, "/deep/a/b"), nil)
	wantErr(t, "rmdir a", v.Rmdir(c, Path{}, "/deep/a"), nil)
	wantErr(t, "rmdir deep", v.Rmdir(c, Path{}, "/deep"), nil)
	wantErr(t, "mkdir deep", v.Mkdir(c, Path{}, "/deep", 0o755), nil)
	// Moving a merged directory cannot be recorded: EXDEV, as overlayfs.
	wantErr(t, "rename merged dir", v.Rename(c, Path{}, "/usr", Path{}, "/usr2", 0), unix.EXDEV)
	// /tmp is a tmpfs: nothing of it persists.
	writeFile(t, v, c, "/tmp/gone", "x")

	if h := hashTree(t, dir); h != before {
		t.Fatal("rootfs changed in DIR mode")
	}
	// A torn record at the end of the log (a crash mid-append) is ignored.
	f, err := os.OpenFile(filepath.Join(upper, "meta.log"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`M "etc/new" 1006`)
	f.Close()
	os.WriteFile(filepath.Join(upper, "upper", "etc", tmpPrefix+"x"), []byte("half"), 0o600)

	v2, c2 := newAt(t, dir, OverlayDir, upper)
	for name, want := range map[string]string{"/etc/new": "fresh", "/dir/f1": "ONE", "/newdir/in": "inside", "/etc/inner2": "in", "/lnk": "root:x:0:0:root:/root:/bin/sh\n"} {
		if got := readAll(t, v2, c2, name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	for _, gone := range []string{"/dir/f2", "/dir/sub/inner", "/tmp/gone", "/deep/a", "/etc/" + tmpPrefix + "x"} {
		if exists(v2, c2, gone) {
			t.Errorf("%s still exists", gone)
		}
	}
	st, _ := v2.Stat(c2, Path{}, "/etc/hosts", true)
	if st.Mode&0o7777 != 0o600 {
		t.Errorf("/etc/hosts mode %o", st.Mode)
	}
	st, _ = v2.Stat(c2, Path{}, "/etc/new", true)
	if st.UID != 5 || st.GID != 6 {
		t.Errorf("/etc/new owner %d:%d", st.UID, st.GID)
	}
	st, _ = v2.Stat(c2, Path{}, "/newdir", true)
	if st.Mode != unix.S_IFDIR|0o750 {
		t.Errorf("/newdir mode %o", st.Mode)
	}
	st, _ = v2.Stat(c2, Path{}, "/fifo", true)
	if st.Mode != unix.S_IFIFO|0o640 {
		t.Errorf("/fifo mode %o", st.Mode)
	}
	if got := listNames(t, v2, c2, "/dir"); strings.Join(got, ",") != ".,..,f1,sub" {
		t.Errorf("/dir lists %v", got)
	}
	if got := listNames(t, v2, c2, "/etc"); !strings.Contains(strings.Join(got, ","), "new") || !strings.Contains(strings.Join(got, ","), "passwd") {
		t.Errorf("/etc lists %v", got)
	}
	if h := hashTree(t, dir); h != before {
		t.Fatal("rootfs changed by loading DIR")
	}
}

func TestOverlayNoneWritesRootfs(t *testing.T) {
	dir := buildRootfs(t)
	v, c := newAt(t, dir, OverlayNone, "")
	writeFile(t, v, c, "/etc/new", "hello")
	writeFile(t, v, c, "/dir/f1", "changed")
	wantErr(t, "unlink", v.Unlink(c, Path{}, "/dir/f2"), nil)
	wantErr(t, "mkdir", v.Mkdir(c, Path{}, "/nd", 0o700), nil)
	wantErr(t, "rename", v.Rename(c, Path{}, "/dir", Path{}, "/nd/dir", 0), nil)
	if got := readAll(t, v, c, "/nd/dir/sub/inner"); got != "in" {
		t.Fatalf("moved lower dir content %q", got)
	}
	for p, want := range map[string]string{"etc/new": "hello", "nd/dir/f1": "changed"} {
		b, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil || string(b) != want {
			t.Errorf("host %s: %q %v", p, b, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "nd/dir/f2")); !os.IsNotExist(err) {
		t.Errorf("f2 still on the host: %v", err)
	}
}

func TestBindMounts(t *testing.T) {
	dir := buildRootfs(t)
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "h"), []byte("host"), 0o644)
	v, c := newAt(t, dir, OverlayMemory, "",
		BindMount{Source: src, Target: "/mnt/ro", ReadOnly: true},
		BindMount{Source: src, Target: "/data"})
	if got := readAll(t, v, c, "/mnt/ro/h"); got != "host" {
		t.Fatalf("ro read %q", got)
	}
	_, err := v.Open(c, Path{}, "/mnt/ro/h", unix.O_WRONLY, 0)
	wantErr(t, "open ro", err, unix.EROFS)
	wantErr(t, "mkdir ro", v.Mkdir(c, Path{}, "/mnt/ro/x", 0o755), unix.EROFS)
	wantErr(t, "unlink ro", v.Unlink(c, Path{}, "/mnt/ro/h"), unix.EROFS)
	wantErr(t, "chmod ro", v.Chmod(c, Path{}, "/mnt/ro/h", 0o600, true), unix.EROFS)
	writeFile(t, v, c, "/data/w", "written")
	if b, _ := os.ReadFile(filepath.Join(src, "w")); string(b) != "written" {
		t.Fatalf("rw bind write reached the host as %q", b)
	}
	p, _ := v.Lookup(c, Path{}, "/mnt/ro", true)
	s, _ := v.Statfs(c, p)
	if s.Flags&unix.ST_RDONLY == 0 {
		t.Errorf("statfs flags %#x lack ST_RDONLY", s.Flags)
	}
	if _, err := os.Stat(filepath.Join(dir, "mnt")); !os.IsNotExist(err) {
		t.Error("mountpoint made on the host")
	}
}

func TestMountTree(t *testing.T) {
	v, c, _ := setup(t, nil)
	for name, magic := range map[string]int64{"/": overlayfsMagic, "/tmp": tmpfsMagic, "/run": tmpfsMagic,
		"/dev/shm": tmpfsMagic, "/proc": procMagic, "/sys": sysfsMagic, "/dev/pts": devptsMagic, "/dev": tmpfsMagic} {
		p, err := v.Lookup(c, Path{}, name, true)
		if err != nil {
			t.Fatal(err)
		}
		s, _ := v.Statfs(c, p)
		if s.Type != magic {
			t.Errorf("statfs %s: type %#x, want %#x", name, s.Type, magic)
		}
	}
	wantErr(t, "write /sys", v.Mkdir(c, Path{}, "/sys/x", 0o755), unix.EROFS)
	if got := readAll(t, v, c, "/sys/devices/system/cpu/online"); !strings.HasPrefix(got, "0") {
		t.Errorf("cpu/online %q", got)
	}
	mounts := readAll(t, v, c, "/proc/mounts")
	for _, want := range []string{"tmpfs /tmp tmpfs rw,nosuid,nodev", "sysfs /sys sysfs ro,", "shm /dev/shm tmpfs", "devpts /dev/pts devpts"} {
		if !strings.Contains(mounts, want) {
			t.Errorf("/proc/mounts lacks %q:\n%s", want, mounts)
		}
	}
	// mount -t tmpfs and umount, root only.
	wantErr(t, "mkdir", v.Mkdir(c, Path{}, "/mnt", 0o755), nil)
	user := &Ctx{Root: c.Root, Cwd: c.Cwd, Creds: Creds{UID: 1000, GID: 1000}}
	wantErr(t, "user mount", v.MountTmpfs(user, "/mnt", 0, ""), unix.EPERM)
	wantErr(t, "bad opt", v.MountTmpfs(c, "/mnt", 0, "bogus=1"), unix.EINVAL)
	wantErr(t, "mount", v.MountTmpfs(c, "/mnt", 0, "mode=700,size=1m"), nil)
	writeFile(t, v, c, "/mnt/f", "x")
	st, _ := v.Stat(c, Path{}, "/mnt", true)
	if st.Mode != unix.S_IFDIR|0o700 {
		t.Errorf("tmpfs root mode %o", st.Mode)
	}
	if !strings.Contains(readAll(t, v, c, "/proc/mounts"), "tmpfs /mnt tmpfs rw,relatime,mode=700,size=1024k") {
		t.Errorf("mounts: %s", readAll(t, v, c, "/proc/mounts"))
	}
	wantErr(t, "rename across", v.Rename(c, Path{}, "/mnt/f", Path{}, "/etc/f", 0), unix.EXDEV)
	wantErr(t, "umount non-root", v.Umount(c, "/etc", true), unix.EINVAL)
	wantErr(t, "umount", v.Umount(c, "/mnt", true), nil)
	if exists(v, c, "/mnt/f") {
		t.Error("tmpfs content visible after umount")
	}
	wantErr(t, "umount /", v.Umount(c, "/", true), unix.EBUSY)
	if mi := readAll(t, v, c, "/proc/mounts"); strings.Contains(mi, "/mnt") {
		t.Errorf("umounted still listed: %s", mi)
	}
}

func TestSymlinkEscapeStaysInRoot(t *testing.T) {
	dir := buildRootfs(t)
	host := filepath.Join(t.TempDir(), "hostsecret")
	os.WriteFile(host, []byte("HOST"), 0o644)
	os.Symlink(host, filepath.Join(dir, "tohost"))
	v, c := newAt(t, dir, OverlayMemory, "")
	_, err := v.Open(c, Path{}, "/tohost", unix.O_RDONLY, 0)
	wantErr(t, "absolute host symlink", err, unix.ENOENT)
	if got := readAll(t, v, c, "/../../../etc/passwd"); !strings.HasPrefix(got, "root:") {
		t.Errorf("/../../../etc/passwd: %q", got)
	}
}
