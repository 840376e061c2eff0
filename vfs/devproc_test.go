package vfs

import (
	"bytes"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

func TestDevfs(t *testing.T) {
	v, c, _ := setup(t, nil)
	for name, rdev := range map[string]uint64{"null": unix.Mkdev(1, 3), "zero": unix.Mkdev(1, 5), "full": unix.Mkdev(1, 7),
		"random": unix.Mkdev(1, 8), "urandom": unix.Mkdev(1, 9), "tty": unix.Mkdev(5, 0), "console": unix.Mkdev(5, 1)} {
		st, err := v.Stat(c, Path{}, "/dev/"+name, true)
		if err != nil || st.Rdev != rdev || st.Mode&unix.S_IFMT != unix.S_IFCHR {
			t.Fatalf("%s: %+v %v", name, st, err)
		}
		perm := uint32(0o666)
		if name == "console" {
			perm = 0o600
		}
		if st.Mode&0o777 != perm {
			t.Fatalf("%s perm %o", name, st.Mode)
		}
	}
	null, _ := v.Open(c, Path{}, "/dev/null", unix.O_RDWR, 0)
	if n, err := null.Write([]byte("abc")); n != 3 || err != nil {
		t.Fatal("null write")
	}
	if n, _ := null.Read(make([]byte, 4)); n != 0 {
		t.Fatal("null read")
	}
	zero, _ := v.Open(c, Path{}, "/dev/zero", unix.O_RDONLY, 0)
	b := []byte{1, 2, 3}
	if n, _ := zero.Read(b); n != 3 || !bytes.Equal(b, []byte{0, 0, 0}) {
		t.Fatal("zero read")
	}
	if _, _, _, err := zero.Mappable(); err != nil {
		t.Fatal("zero not mappable")
	}
	full, _ := v.Open(c, Path{}, "/dev/full", unix.O_WRONLY, 0)
	_, err := full.Write([]byte("x"))
	wantErr(t, "full", err, unix.ENOSPC)
	ur, _ := v.Open(c, Path{}, "/dev/urandom", unix.O_RDONLY, 0)
	rb := make([]byte, 32)
	if n, _ := ur.Read(rb); n != 32 || bytes.Equal(rb, make([]byte, 32)) {
		t.Fatal("urandom")
	}
	_, err = v.Open(c, Path{}, "/dev/tty", unix.O_RDWR, 0)
	wantErr(t, "tty", err, unix.ENXIO)
	if s, _ := v.Readlink(c, Path{}, "/dev/stdout"); s != "/proc/self/fd/1" {
		t.Fatalf("stdout link %q", s)
	}
	names := listNames(t, v, c, "/dev")
	for _, n := range []string{"null", "pts", "shm", "fd", "stderr"} {
		if !slices.Contains(names, n) {
			t.Fatalf("/dev lacks %s: %v", n, names)
		}
	}
	// mknod of a known device elsewhere works like the real one.
	wantErr(t, "mknod", v.Mknod(c, Path{}, "/tmp/mynull", unix.S_IFCHR|0o666, unix.Mkdev(1, 3)), nil)
	f, err := v.Open(c, Path{}, "/tmp/mynull", unix.O_WRONLY, 0)
	wantErr(t, "open mknod null", err, nil)
	if n, _ := f.Write([]byte("zz")); n != 2 {
		t.Fatal("mynull write")
	}
}

func TestProcfs(t *testing.T) {
	task := &fakeTask{exe: "/bin/busybox", cwd: "/etc", fds: map[int]string{0: "/dev/null", 1: "pipe:[42]", 3: "/etc/passwd"}}
	r, _ := NewPipe()
	task.files = map[int]*File{1: r}
	v, c, _ := setup(t, fakeProc{7: task})
	if s, err := v.Readlink(c, Path{}, "/proc/self"); s != "7" || err != nil {
		t.Fatalf("self %q %v", s, err)
	}
	if s, _ := v.Readlink(c, Path{}, "/proc/self/exe"); s != "/bin/busybox" {
		t.Fatalf("exe %q", s)
	}
	if s, _ := v.Readlink(c, Path{}, "/proc/self/fd/1"); s != "pipe:[42]" {
		t.Fatalf("fd/1 %q", s)
	}
	if got := readAll(t, v, c, "/proc/self/maps"); !strings.Contains(got, "/bin/busybox") {
		t.Fatalf("maps %q", got)
	}
	if got := readAll(t, v, c, "/proc/7/comm"); got != "busybox\n" {
		t.Fatalf("comm %q", got)
	}
	pw, _ := v.Open(c, Path{}, "/etc/passwd", unix.O_RDONLY, 0)
	task.files[4], task.fds[4] = pw, ""
	if s, _ := v.Readlink(c, Path{}, "/proc/7/fd/4"); s != "/etc/passwd" {
		t.Fatalf("fd/4 via File.Name: %q", s)
	}
	if got := readAll(t, v, c, "/proc/self/fd/3"); !strings.HasPrefix(got, "root:") {
		t.Fatalf("fd/3 follow %q", got)
	}
	f, err := v.Open(c, Path{}, "/proc/self/fd/1", unix.O_RDONLY, 0)
	if err != nil || f != r {
		t.Fatalf("magic fd open: %v", err)
	}
	cwd, _ := v.Lookup(c, Path{}, "/proc/self/cwd", true)
	if v.PathString(c, cwd) != "/etc" {
		t.Fatal("cwd follow")
	}
	fdn := listNames(t, v, c, "/proc/self/fd")
	if !slices.Equal(fdn, []string{".", "..", "0", "1", "3", "4"}) {
		t.Fatalf("fd dir %v", fdn)
	}
	root := listNames(t, v, c, "/proc")
	for _, n := range []string{"self", "7", "meminfo", "mounts", "sys"} {
		if !slices.Contains(root, n) {
			t.Fatalf("/proc lacks %s: %v", n, root)
		}
	}
	if got := readAll(t, v, c, "/proc/mounts"); !strings.Contains(got, " /proc proc ") || !strings.HasPrefix(got, "overlay / ") {
		t.Fatalf("mounts %q", got)
	}
	if got := readAll(t, v, c, "/proc/sys/kernel/ostype"); got != "Linux\n" {
		t.Fatalf("ostype %q", got)
	}
	if got := readAll(t, v, c, "/proc/version"); !strings.HasPrefix(got, "Linux version ") {
		t.Fatalf("version %q", got)
	}
	_, err = v.Open(c, Path{}, "/proc/self/maps", unix.O_WRONLY, 0)
	wantErr(t, "write proc", err, unix.EACCES)
	_, err = v.Open(c, Path{}, "/proc/new", unix.O_CREAT|unix.O_WRONLY, 0o644)
	wantErr(t, "create in proc", err, unix.EACCES)
	_, err = v.Stat(c, Path{}, "/proc/8", false)
	wantErr(t, "no such pid", err, unix.ENOENT)
	st, _ := v.Stat(c, Path{}, "/proc/self/status", true)
	if st.Dev != procfsDev || st.Size != 0 || st.Mode != unix.S_IFREG|0o444 {
		t.Fatalf("status stat %+v", st)
	}
	// /proc without a source is just the fixed entries.
	v2, c2, _ := setup(t, nil)
	_, err = v2.Stat(c2, Path{}, "/proc/self/exe", false)
	wantErr(t, "no source", err, unix.ENOENT)
}

func TestConcurrentUse(t *testing.T) {
	v, c, _ := setup(t, nil)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			dir := "/tmp/g" + string(rune('0'+g))
			if err := v.Mkdir(c, Path{}, dir, 0o755); err != nil {
				t.Error(err)
				return
			}
			for i := 0; i < 50; i++ {
				name := dir + "/f" + itoa(int64(i))
				f, err := v.Open(c, Path{}, name, unix.O_CREAT|unix.O_RDWR, 0o644)
				if err != nil {
					t.Error(err)
					return
				}
				f.Write([]byte(name))
				f.DecRef()
				if i%2 == 0 {
					v.Unlink(c, Path{}, name)
				}
				v.Stat(c, Path{}, "/etc/passwd", true)
			}
		}(g)
	}
	wg.Wait()
	for g := 0; g < 4; g++ {
		if n := len(listNames(t, v, c, "/tmp/g"+string(rune('0'+g)))); n != 27 {
			t.Fatalf("dir %d has %d entries", g, n)
		}
	}
}
