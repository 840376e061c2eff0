package vfs

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

const alpineTarball = "../../shared/rootfs/alpine-minirootfs-3.20.3-x86_64.tar.gz"

// TestAlpineTree walks a real Alpine minirootfs through the VFS: every
// directory listing, stat and regular file must match the host's.
func TestAlpineTree(t *testing.T) {
	if _, err := os.Stat(alpineTarball); err != nil {
		t.Skip("no Alpine minirootfs tarball in ../shared/rootfs")
	}
	dir, err := os.MkdirTemp("/dev/shm", "vfs-alpine-") // much faster than /tmp here
	if err != nil {
		dir = t.TempDir()
	} else {
		t.Cleanup(func() { os.RemoveAll(dir) })
	}
	if out, err := exec.Command("tar", "-xzf", alpineTarball, "-C", dir).CombinedOutput(); err != nil {
		t.Skipf("tar: %v %s", err, out)
	}
	v, err := New(Options{RootDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	c := &Ctx{Root: v.Root(), Cwd: v.Root(), PID: 1}
	files := 0
	var walk func(guest string)
	walk = func(guest string) {
		host := filepath.Join(dir, guest)
		ents, err := os.ReadDir(host)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, n := range listNames(t, v, c, guest) {
			got[n] = true
		}
		for _, e := range ents {
			name := filepath.Join(guest, e.Name())
			if !got[e.Name()] {
				t.Fatalf("%s missing from listing", name)
			}
			if name == "/dev" || name == "/proc" || name == "/sys" || name == "/tmp" || name == "/run" {
				continue // mountpoints: the mounted root is seen
			}
			var hs unix.Stat_t
			unix.Lstat(filepath.Join(dir, name), &hs)
			gs, err := v.Stat(c, Path{}, name, false)
			if err != nil || gs.Ino != hs.Ino || gs.Mode != hs.Mode || gs.Size != hs.Size || gs.UID != hs.Uid || gs.Nlink != uint64(hs.Nlink) {
				t.Fatalf("%s: stat %+v vs host %+v (%v)", name, gs, hs, err)
			}
			switch hs.Mode & unix.S_IFMT {
			case unix.S_IFDIR:
				walk(name)
			case unix.S_IFREG:
				want, _ := os.ReadFile(filepath.Join(dir, name))
				if g := readAll(t, v, c, name); !bytes.Equal([]byte(g), want) {
					t.Fatalf("%s content differs", name)
				}
				files++
			}
		}
	}
	walk("/")
	if files < 50 {
		t.Fatalf("only %d files seen", files)
	}
	if s, _ := v.Readlink(c, Path{}, "/bin/sh"); s != "/bin/busybox" {
		t.Fatalf("/bin/sh -> %q", s)
	}
	if _, err := v.Stat(c, Path{}, "/bin/sh", true); err != nil {
		t.Fatal(err)
	}
}
