package vfs

import (
	"testing"

	"golang.org/x/sys/unix"
)

// fakeImpl is a FileImpl with a one-byte-at-a-time buffer.
type fakeImpl struct {
	wq       WaitQueue
	data     []byte
	released bool
}

func (f *fakeImpl) Read(dst []byte, nonblock bool, cancel <-chan struct{}) (int, error) {
	if len(f.data) == 0 {
		return 0, unix.EAGAIN
	}
	n := copy(dst, f.data)
	f.data = f.data[n:]
	return n, nil
}
func (f *fakeImpl) Write(src []byte, nonblock bool, cancel <-chan struct{}) (int, error) {
	f.data = append(f.data, src...)
	f.wq.Notify(EventIn)
	return len(src), nil
}
func (f *fakeImpl) Poll() uint32 {
	if len(f.data) > 0 {
		return EventIn | EventOut
	}
	return EventOut
}
func (f *fakeImpl) Queue() *WaitQueue { return &f.wq }
func (f *fakeImpl) Stat() Stat        { return Stat{Mode: unix.S_IFSOCK | 0o777, Ino: 7} }
func (f *fakeImpl) Name() string      { return "socket:[7]" }
func (f *fakeImpl) Ioctl(cmd uint32, arg uint64) (uint64, error) {
	return 0, unix.ENOTTY
}
func (f *fakeImpl) Release() { f.released = true }

func TestImplFile(t *testing.T) {
	impl := &fakeImpl{}
	f := NewImplFile(impl, unix.O_RDWR)
	if f.Impl() != impl || f.Name(nil) != "socket:[7]" {
		t.Fatal("Impl/Name")
	}
	woken := 0
	w := NewWaiter(EventIn, func(uint32) { woken++ })
	f.EventRegister(w)
	if _, err := f.Write([]byte("hi")); err != nil || woken != 1 {
		t.Fatalf("write: %v, woken %d", err, woken)
	}
	if f.Poll()&EventIn == 0 {
		t.Error("not readable after write")
	}
	b := make([]byte, 4)
	if n, _ := f.Read(b); n != 2 || string(b[:2]) != "hi" {
		t.Errorf("read %q", b[:n])
	}
	if _, err := f.Seek(0, 0); err != unix.ESPIPE {
		t.Errorf("seek: %v", err)
	}
	if _, err := f.Pread(b, 0); err != unix.ESPIPE {
		t.Errorf("pread: %v", err)
	}
	st, err := f.Stat()
	if err != nil || st.Mode&unix.S_IFMT != unix.S_IFSOCK || st.Blksize != 4096 || st.Nlink != 1 {
		t.Errorf("stat %+v %v", st, err)
	}
	f.EventUnregister(w)
	f.DecRef()
	if !impl.released {
		t.Error("Release not called on last DecRef")
	}
}
