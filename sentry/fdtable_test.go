package sentry

import (
	"testing"

	"golang.org/x/sys/unix"

	"kvsentry/vfs"
)

func TestFDTableAllocationAndCloexec(t *testing.T) {
	ft := newFDTable()
	r, w := vfs.NewPipe()
	defer r.DecRef()
	defer w.DecRef()
	fd0, err := ft.Add(r, false, 0)
	if err != nil || fd0 != 0 {
		t.Fatalf("first fd = %d, %v", fd0, err)
	}
	fd1, _ := ft.Add(w, true, 0)
	if fd1 != 1 {
		t.Fatalf("second fd = %d", fd1)
	}
	if fd, _ := ft.Add(r, false, 10); fd != 10 {
		t.Fatalf("F_DUPFD-style min 10 gave %d", fd)
	}
	if err := ft.Remove(0); err != nil {
		t.Fatal(err)
	}
	if fd, _ := ft.Add(w, false, 0); fd != 0 {
		t.Errorf("lowest free descriptor not reused: %d", fd)
	}
	if err := ft.Remove(42); err != unix.EBADF {
		t.Errorf("close of a free fd: %v", err)
	}
	child := ft.Fork()
	ft.CloseOnExec()
	if _, _, err := ft.Get(1); err != unix.EBADF {
		t.Errorf("close-on-exec fd survived exec: %v", err)
	}
	if _, cloexec, err := child.Get(1); err != nil || !cloexec {
		t.Errorf("forked table lost fd 1 or its flag: %v %v", cloexec, err)
	}
	ft.limit = 11
	if _, err := ft.Add(r, false, 11); err != unix.EINVAL {
		t.Errorf("min beyond RLIMIT_NOFILE: %v", err)
	}
	for i := 0; i < 20; i++ {
		ft.Add(r, false, 0)
	}
	if _, err := ft.Add(r, false, 0); err != unix.EMFILE {
		t.Errorf("full table: %v", err)
	}
	ft.CloseRange(0, ^uint32(0), false)
	if len(ft.FDs()) != 0 {
		t.Errorf("close_range left %v", ft.FDs())
	}
	child.put()
}

func TestWaitStatusEncoding(t *testing.T) {
	if shellStatus(wsExited(7)) != 7 || shellStatus(wsExited(256)) != 0 {
		t.Error("exit codes")
	}
	if shellStatus(wsSignaled(9, false)) != 137 || wsSignaled(11, true)&0x80 == 0 {
		t.Error("signal statuses")
	}
}

func TestQuoteBytes(t *testing.T) {
	if got := quoteBytes([]byte("a\"b\n\x01"), 10); got != `"a\"b\n\1"...` {
		t.Errorf("quoteBytes = %s", got)
	}
}
