package vfs

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// inotifyMaskNames names event bits for readable expectations.
var inotifyMaskNames = []struct {
	bit  uint32
	name string
}{
	{unix.IN_ACCESS, "ACCESS"}, {unix.IN_MODIFY, "MODIFY"}, {unix.IN_ATTRIB, "ATTRIB"},
	{unix.IN_CLOSE_WRITE, "CLOSE_WRITE"}, {unix.IN_CLOSE_NOWRITE, "CLOSE_NOWRITE"},
	{unix.IN_OPEN, "OPEN"}, {unix.IN_MOVED_FROM, "MOVED_FROM"}, {unix.IN_MOVED_TO, "MOVED_TO"},
	{unix.IN_CREATE, "CREATE"}, {unix.IN_DELETE, "DELETE"}, {unix.IN_DELETE_SELF, "DELETE_SELF"},
	{unix.IN_MOVE_SELF, "MOVE_SELF"}, {unix.IN_Q_OVERFLOW, "Q_OVERFLOW"}, {unix.IN_IGNORED, "IGNORED"},
	{unix.IN_ISDIR, "ISDIR"},
}

// rawEvent is one decoded struct inotify_event.
type rawEvent struct {
	wd                int32
	mask, cookie, len uint32
	name              string
}

// decodeEvents parses read(2) output of an inotify fd.
func decodeEvents(t *testing.T, b []byte) []rawEvent {
	t.Helper()
	var out []rawEvent
	for len(b) > 0 {
		if len(b) < inotifyEventSize {
			t.Fatalf("short event record: %d bytes", len(b))
		}
		e := rawEvent{wd: int32(binary.NativeEndian.Uint32(b)), mask: binary.NativeEndian.Uint32(b[4:]),
			cookie: binary.NativeEndian.Uint32(b[8:]), len: binary.NativeEndian.Uint32(b[12:])}
		name := b[inotifyEventSize : inotifyEventSize+int(e.len)]
		e.name = strings.TrimRight(string(name), "\x00")
		if e.len != 0 && (e.len%inotifyEventSize != 0 || int(e.len) <= len(e.name)) {
			t.Fatalf("bad len %d for name %q", e.len, e.name)
		}
		out = append(out, e)
		b = b[inotifyEventSize+int(e.len):]
	}
	return out
}

// drain reads every queued event and renders them as "wd:MASK|BITS:name".
func drain(t *testing.T, f *File) []string {
	t.Helper()
	var out []string
	buf := make([]byte, 4096)
	for {
		n, err := f.Read(buf)
		if err == unix.EAGAIN {
			return out
		}
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		for _, e := range decodeEvents(t, buf[:n]) {
			out = append(out, fmtEvent(e))
		}
	}
}

func fmtEvent(e rawEvent) string {
	var bits []string
	for _, m := range inotifyMaskNames {
		if e.mask&m.bit != 0 {
			bits = append(bits, m.name)
		}
	}
	s := fmt.Sprintf("%d:%s", e.wd, strings.Join(bits, "|"))
	if e.name != "" {
		s += ":" + e.name
	}
	return s
}

// newInotifyT makes a non-blocking instance closed at the end of the test.
func newInotifyT(t *testing.T) (*File, *Inotify) {
	t.Helper()
	f, err := NewInotify(0, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.DecRef()
		if n := fsnWatches.Load(); n != 0 {
			t.Errorf("%d watches left after release", n)
		}
	})
	return f, f.Impl().(*Inotify)
}

func addWatch(t *testing.T, n *Inotify, v *VFS, c *Ctx, name string, mask uint32) int32 {
	t.Helper()
	wd, err := n.AddWatch(v, c, name, mask)
	if err != nil {
		t.Fatalf("add_watch %s: %v", name, err)
	}
	return wd
}

func wantEvents(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("%s:\n got %v\nwant %v", what, got, want)
	}
}

func TestInotifyFileEvents(t *testing.T) {
	v, c, _ := setup(t, nil)
	f, n := newInotifyT(t)
	wantErr(t, "mkdir", v.Mkdir(c, Path{}, "/tmp/w", 0o755), nil)
	dwd := addWatch(t, n, v, c, "/tmp/w", unix.IN_ALL_EVENTS)
	if dwd != 1 {
		t.Errorf("first wd %d", dwd)
	}
	g, err := v.Open(c, Path{}, "/tmp/w/f", unix.O_WRONLY|unix.O_CREAT, 0o644)
	wantErr(t, "create", err, nil)
	g.Write([]byte("ab"))
	g.Write([]byte("cd")) // merged with the first MODIFY
	g.DecRef()
	wantEvents(t, "create/write/close", drain(t, f), "1:CREATE:f", "1:OPEN:f", "1:MODIFY:f", "1:CLOSE_WRITE:f")

	fwd := addWatch(t, n, v, c, "/tmp/w/f", unix.IN_ALL_EVENTS)
	g, err = v.Open(c, Path{}, "/tmp/w/f", unix.O_WRONLY|unix.O_TRUNC, 0)
	wantErr(t, "open trunc", err, nil)
	g.DecRef()
	wantEvents(t, "O_TRUNC", drain(t, f), "1:OPEN:f", "2:OPEN", "1:MODIFY:f", "2:MODIFY",
		"1:CLOSE_WRITE:f", "2:CLOSE_WRITE")
	if fwd != 2 {
		t.Errorf("second wd %d", fwd)
	}

	g, _ = v.Open(c, Path{}, "/tmp/w/f", unix.O_RDONLY, 0)
	b := make([]byte, 1)
	g.Write([]byte("x")) // EBADF: no event
	g.Read(b)            // EOF: no event
	g.DecRef()
	wantEvents(t, "read-only open", drain(t, f), "1:OPEN:f", "2:OPEN", "1:CLOSE_NOWRITE:f", "2:CLOSE_NOWRITE")

	wantErr(t, "chmod", v.Chmod(c, Path{}, "/tmp/w/f", 0o600, true), nil)
	wantErr(t, "chown -1 -1", v.Chown(c, Path{}, "/tmp/w/f", -1, -1, true), nil)
	wantErr(t, "utimes atime", v.Utimes(c, Path{}, "/tmp/w/f", unix.Timespec{Nsec: utimeNow}, unix.Timespec{Nsec: utimeOmit}, true), nil)
	wantErr(t, "utimes mtime", v.Utimes(c, Path{}, "/tmp/w/f", unix.Timespec{Nsec: utimeOmit}, unix.Timespec{Nsec: utimeNow}, true), nil)
	wantErr(t, "utimes both", v.Utimes(c, Path{}, "/tmp/w/f", unix.Timespec{Nsec: utimeNow}, unix.Timespec{Nsec: utimeNow}, true), nil)
	wantErr(t, "truncate", v.Truncate(c, Path{}, "/tmp/w/f", 1), nil)
	wantErr(t, "setxattr", v.SetXattr(c, Path{}, "/tmp/w/f", "user.k", []byte("v"), 0, true), nil)
	wantEvents(t, "attributes", drain(t, f), "1:ATTRIB:f", "2:ATTRIB", "1:ACCESS:f", "2:ACCESS",
		"1:MODIFY:f", "2:MODIFY", "1:ATTRIB:f", "2:ATTRIB", "1:MODIFY:f", "2:MODIFY", "1:ATTRIB:f", "2:ATTRIB")

	wantErr(t, "link", v.Link(c, Path{}, "/tmp/w/f", Path{}, "/tmp/w/g", false), nil)
	wantErr(t, "unlink g", v.Unlink(c, Path{}, "/tmp/w/g"), nil)
	wantEvents(t, "link/unlink", drain(t, f), "2:ATTRIB", "1:CREATE:g", "2:ATTRIB", "1:DELETE:g")

	// A file open while unlinked reports DELETE_SELF at its last close;
	// its directory still hears of it by its old name.
	g, _ = v.Open(c, Path{}, "/tmp/w/f", unix.O_RDWR, 0)
	wantErr(t, "unlink f", v.Unlink(c, Path{}, "/tmp/w/f"), nil)
	g.Write([]byte("z"))
	g.DecRef()
	wantEvents(t, "unlink open", drain(t, f), "1:OPEN:f", "2:OPEN", "2:ATTRIB", "1:DELETE:f",
		"1:MODIFY:f", "2:MODIFY", "1:CLOSE_WRITE:f", "2:CLOSE_WRITE", "2:DELETE_SELF", "2:IGNORED")

	// Directories: ISDIR on events about them, not on DELETE_SELF.
	wantErr(t, "mkdir d", v.Mkdir(c, Path{}, "/tmp/w/d", 0o755), nil)
	ddwd := addWatch(t, n, v, c, "/tmp/w/d", unix.IN_ALL_EVENTS)
	d, _ := v.Open(c, Path{}, "/tmp/w/d", unix.O_RDONLY|unix.O_DIRECTORY, 0)
	d.Getdents64(4096)
	d.DecRef()
	wantErr(t, "rmdir", v.Rmdir(c, Path{}, "/tmp/w/d"), nil)
	w := fmt.Sprint(ddwd)
	wantEvents(t, "dir", drain(t, f), "1:CREATE|ISDIR:d", "1:OPEN|ISDIR:d", w+":OPEN|ISDIR",
		"1:ACCESS|ISDIR:d", w+":ACCESS|ISDIR", "1:CLOSE_NOWRITE|ISDIR:d", w+":CLOSE_NOWRITE|ISDIR",
		w+":DELETE_SELF", w+":IGNORED", "1:DELETE|ISDIR:d")
}

func TestInotifyRename(t *testing.T) {
	v, c, _ := setup(t, nil)
	f, n := newInotifyT(t)
	v.Mkdir(c, Path{}, "/tmp/a", 0o755)
	v.Mkdir(c, Path{}, "/tmp/b", 0o755)
	writeFile(t, v, c, "/tmp/a/x", "x")
	writeFile(t, v, c, "/tmp/b/y", "y")
	addWatch(t, n, v, c, "/tmp/a", unix.IN_MOVE)
	addWatch(t, n, v, c, "/tmp/b", unix.IN_MOVE)
	addWatch(t, n, v, c, "/tmp/a/x", unix.IN_ALL_EVENTS)
	addWatch(t, n, v, c, "/tmp/b/y", unix.IN_ALL_EVENTS)
	wantErr(t, "rename", v.Rename(c, Path{}, "/tmp/a/x", Path{}, "/tmp/b/y", 0), nil)
	buf := make([]byte, 4096)
	k, err := f.Read(buf)
	wantErr(t, "read", err, nil)
	evs := decodeEvents(t, buf[:k])
	var got []string
	for _, e := range evs {
		got = append(got, fmtEvent(e))
	}
	wantEvents(t, "rename over", got, "1:MOVED_FROM:x", "2:MOVED_TO:y", "4:ATTRIB", "3:MOVE_SELF",
		"4:DELETE_SELF", "4:IGNORED")
	if len(evs) >= 2 && (evs[0].cookie == 0 || evs[0].cookie != evs[1].cookie) {
		t.Errorf("cookies %d %d", evs[0].cookie, evs[1].cookie)
	}
	// Renaming onto itself reports nothing.
	v.Rename(c, Path{}, "/tmp/b/y", Path{}, "/tmp/b/y", 0)
	wantEvents(t, "self rename", drain(t, f))
}

func TestInotifyWatchManagement(t *testing.T) {
	v, c, _ := setup(t, nil)
	f, n := newInotifyT(t)
	wd := addWatch(t, n, v, c, "/tmp", unix.IN_CREATE)
	if again := addWatch(t, n, v, c, "/tmp/", unix.IN_DELETE); again != wd {
		t.Errorf("same inode: wd %d, want %d", again, wd)
	}
	// The mask was replaced: CREATE is no longer watched.
	v.Mkdir(c, Path{}, "/tmp/d1", 0o755)
	v.Rmdir(c, Path{}, "/tmp/d1")
	wantEvents(t, "replaced mask", drain(t, f), "1:DELETE|ISDIR:d1")
	addWatch(t, n, v, c, "/tmp", unix.IN_CREATE|unix.IN_MASK_ADD)
	v.Mkdir(c, Path{}, "/tmp/d2", 0o755)
	v.Rmdir(c, Path{}, "/tmp/d2")
	wantEvents(t, "MASK_ADD", drain(t, f), "1:CREATE|ISDIR:d2", "1:DELETE|ISDIR:d2")
	_, err := n.AddWatch(v, c, "/tmp", unix.IN_CREATE|unix.IN_MASK_CREATE)
	wantErr(t, "MASK_CREATE existing", err, unix.EEXIST)
	_, err = n.AddWatch(v, c, "/tmp", unix.IN_CREATE|unix.IN_MASK_CREATE|unix.IN_MASK_ADD)
	wantErr(t, "MASK_ADD|MASK_CREATE", err, unix.EINVAL)
	_, err = n.AddWatch(v, c, "/tmp", 0)
	wantErr(t, "mask 0", err, unix.EINVAL)
	_, err = n.AddWatch(v, c, "/tmp", unix.IN_OPEN|0x00100000)
	wantErr(t, "unknown bit", err, unix.EINVAL)
	_, err = n.AddWatch(v, c, "/etc/passwd", unix.IN_OPEN|unix.IN_ONLYDIR)
	wantErr(t, "ONLYDIR", err, unix.ENOTDIR)
	_, err = n.AddWatch(v, c, "/nope", unix.IN_OPEN)
	wantErr(t, "missing", err, unix.ENOENT)
	_, err = n.AddWatch(v, c, "", unix.IN_OPEN)
	wantErr(t, "empty", err, unix.ENOENT)
	nobody := &Ctx{Root: c.Root, Cwd: c.Cwd, Creds: Creds{UID: 65534, GID: 65534}}
	_, err = n.AddWatch(v, nobody, "/secret", unix.IN_OPEN)
	wantErr(t, "no read permission", err, unix.EACCES)
	// DONT_FOLLOW watches the link itself: another inode.
	l1 := addWatch(t, n, v, c, "/abs", unix.IN_OPEN|unix.IN_DONT_FOLLOW)
	l2 := addWatch(t, n, v, c, "/abs", unix.IN_OPEN)
	l3 := addWatch(t, n, v, c, "/etc/passwd", unix.IN_OPEN)
	if l1 == l2 || l2 != l3 {
		t.Errorf("symlink wds %d %d %d", l1, l2, l3)
	}
	wantErr(t, "rm", n.RmWatch(wd), nil)
	wantErr(t, "rm again", n.RmWatch(wd), unix.EINVAL)
	wantEvents(t, "rm", drain(t, f), "1:IGNORED")
	// Descriptors are not reused.
	if next := addWatch(t, n, v, c, "/tmp", unix.IN_CREATE|unix.IN_ONESHOT); next != l2+1 {
		t.Errorf("next wd %d, want %d", next, l2+1)
	}
	v.Mkdir(c, Path{}, "/tmp/o1", 0o755)
	v.Mkdir(c, Path{}, "/tmp/o2", 0o755)
	w := fmt.Sprint(l2 + 1)
	wantEvents(t, "ONESHOT", drain(t, f), w+":CREATE|ISDIR:o1", w+":IGNORED")
}

func TestInotifyQueue(t *testing.T) {
	v, c, _ := setup(t, nil)
	old := inotifyMaxQueuedEvents
	inotifyMaxQueuedEvents = 3
	f, n := newInotifyT(t)
	inotifyMaxQueuedEvents = old
	addWatch(t, n, v, c, "/tmp", unix.IN_CREATE)
	b := make([]byte, 64)
	_, err := f.Read(b)
	wantErr(t, "empty non-blocking read", err, unix.EAGAIN)
	if f.Poll()&EventIn != 0 {
		t.Error("readable while empty")
	}
	woken := 0
	wt := NewWaiter(EventIn, func(uint32) { woken++ })
	f.EventRegister(wt)
	defer f.EventUnregister(wt)
	for i := range 5 {
		v.Mkdir(c, Path{}, fmt.Sprintf("/tmp/q%d", i), 0o755)
	}
	if woken != 4 || f.Poll()&EventIn == 0 {
		t.Errorf("woken %d times, poll %#x", woken, f.Poll())
	}
	if got, _ := f.Ioctl(FIONREAD, 0); got != 3*32+16 {
		t.Errorf("FIONREAD %d", got)
	}
	_, err = f.Read(b[:31])
	wantErr(t, "small buffer", err, unix.EINVAL)
	k, err := f.Read(b[:40]) // one whole event only
	if err != nil || k != 32 {
		t.Fatalf("read 40: %d %v", k, err)
	}
	wantEvents(t, "overflow", drain(t, f), "1:CREATE|ISDIR:q1", "1:CREATE|ISDIR:q2", "-1:Q_OVERFLOW")
	if got, _ := f.Ioctl(FIONREAD, 0); got != 0 {
		t.Errorf("FIONREAD after drain %d", got)
	}
}

func TestInotifyBlockingRead(t *testing.T) {
	v, c, _ := setup(t, nil)
	f, err := NewInotify(0, false)
	if err != nil {
		t.Fatal(err)
	}
	defer f.DecRef()
	n := f.Impl().(*Inotify)
	addWatch(t, n, v, c, "/tmp", unix.IN_CREATE)
	done := make(chan []string)
	go func() {
		b := make([]byte, 256)
		k, err := f.Read(b)
		if err != nil {
			done <- []string{err.Error()}
			return
		}
		var out []string
		for _, e := range decodeEvents(t, b[:k]) {
			out = append(out, fmtEvent(e))
		}
		done <- out
	}()
	time.Sleep(20 * time.Millisecond)
	writeFile(t, v, c, "/tmp/late", "")
	select {
	case got := <-done:
		wantEvents(t, "blocking read", got, "1:CREATE:late")
	case <-time.After(5 * time.Second):
		t.Fatal("blocking read not woken")
	}
	cancel := make(chan struct{})
	close(cancel)
	_, err = f.ReadCancel(make([]byte, 64), cancel)
	wantErr(t, "cancelled read", err, unix.EINTR)
}

func TestInotifyExclUnlinkAndRelease(t *testing.T) {
	v, c, _ := setup(t, nil)
	f, n := newInotifyT(t)
	addWatch(t, n, v, c, "/tmp", unix.IN_MODIFY|unix.IN_EXCL_UNLINK)
	g, _ := v.Open(c, Path{}, "/tmp/e", unix.O_RDWR|unix.O_CREAT, 0o644)
	g.Write([]byte("1"))
	v.Unlink(c, Path{}, "/tmp/e")
	g.Write([]byte("2"))
	g.DecRef()
	wantEvents(t, "EXCL_UNLINK", drain(t, f), "1:MODIFY:e")

	// Overlay lower files are watched like memory ones.
	addWatch(t, n, v, c, "/dir", unix.IN_ACCESS|unix.IN_CLOSE)
	if got := readAll(t, v, c, "/dir/f1"); got != "one" {
		t.Fatalf("read %q", got)
	}
	wantEvents(t, "lower file", drain(t, f), "2:ACCESS:f1", "2:CLOSE_NOWRITE:f1")

	// Closing the instance drops its watches without events.
	g2, n2 := func() (*File, *Inotify) {
		g, err := NewInotify(0, true)
		if err != nil {
			t.Fatal(err)
		}
		return g, g.Impl().(*Inotify)
	}()
	addWatch(t, n2, v, c, "/tmp", unix.IN_ALL_EVENTS)
	before := fsnWatches.Load()
	g2.DecRef()
	if fsnWatches.Load() != before-1 {
		t.Errorf("watches %d -> %d", before, fsnWatches.Load())
	}
	if f.Name(nil) != "anon_inode:inotify" || f.Flags()&unix.O_ACCMODE != unix.O_RDONLY {
		t.Errorf("name %q flags %#x", f.Name(nil), f.Flags())
	}
	if _, err := f.Write([]byte("x")); err != unix.EBADF {
		t.Errorf("write: %v", err)
	}
}
