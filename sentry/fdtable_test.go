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

// TestFDTableSize checks the table size select(2) clamps to, against the
// sizes Linux's alloc_fdtable and dup_fd give (fs/file.c).
func TestFDTableSize(t *testing.T) {
	for _, c := range []struct{ fd, want int32 }{{64, 128}, {127, 128}, {128, 256}, {255, 256}, {256, 512}, {383, 512}, {384, 512}, {511, 512}, {512, 1024}, {1 << 21, 1 << 20}} {
		if got := fdTableSize(c.fd); got != c.want {
			t.Errorf("fdTableSize(%d) = %d, want %d", c.fd, got, c.want)
		}
	}
	ft := newFDTable()
	r, w := vfs.NewPipe()
	defer r.DecRef()
	defer w.DecRef()
	if got := ft.MaxFDs(); got != 64 {
		t.Fatalf("new table size %d, want 64", got)
	}
	ft.Add(r, false, 0)
	if err := ft.Set(130, w, false); err != nil {
		t.Fatal(err)
	}
	if got := ft.MaxFDs(); got != 256 {
		t.Errorf("after fd 130: size %d, want 256", got)
	}
	ft.Remove(130)
	if got := ft.MaxFDs(); got != 256 {
		t.Errorf("the table shrank on close: %d", got)
	}
	if got := ft.Fork().MaxFDs(); got != 64 {
		t.Errorf("fork with only fd 0 open: size %d, want 64", got)
	}
	ft.Set(100, w, false)
	if got := ft.Fork().MaxFDs(); got != 128 {
		t.Errorf("fork with fd 100 open: size %d, want 128", got)
	}
	ft.CloseAll()
}
