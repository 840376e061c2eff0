package vfs

import (
	"encoding/binary"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// u64 encodes v as eventfd/timerfd buffers hold it.
func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.NativeEndian.PutUint64(b, v)
	return b
}

// readU64 reads one u64 from f.
func readU64(t *testing.T, f *File) (uint64, error) {
	t.Helper()
	b := make([]byte, 8)
	n, err := f.Read(b)
	if err == nil && n != 8 {
		t.Fatalf("read %d bytes", n)
	}
	return binary.NativeEndian.Uint64(b), err
}

// woken reports whether ch fires within a second.
func woken(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	case <-time.After(time.Second):
		return false
	}
}

func TestPipePoll(t *testing.T) {
	r, w := NewPipe()
	defer r.DecRef()
	if got := r.Poll(); got != 0 {
		t.Fatalf("empty read end: %#x", got)
	}
	if got := w.Poll(); got != EventOut|EventWrNorm {
		t.Fatalf("write end: %#x", got)
	}
	ch := make(chan struct{}, 1)
	wt := NewChanWaiter(EventIn, ch)
	r.EventRegister(wt)
	go w.Write([]byte("x"))
	if !woken(ch) {
		t.Fatal("no wake-up for a write")
	}
	if got := r.Poll(); got != EventIn|EventRdNorm {
		t.Fatalf("read end with data: %#x", got)
	}
	r.EventUnregister(wt)
	w.DecRef()
	if got := r.Poll(); got != EventIn|EventRdNorm|EventHup {
		t.Fatalf("read end, writer gone: %#x", got)
	}
	r.Read(make([]byte, 4))
	if got := r.Poll(); got != EventHup {
		t.Fatalf("drained, writer gone: %#x", got)
	}
	r2, w2 := NewPipe()
	r2.DecRef()
	if got := w2.Poll(); got != EventOut|EventWrNorm|EventErr {
		t.Fatalf("write end, reader gone: %#x", got)
	}
	w2.DecRef()
}

func TestAlwaysReadyFiles(t *testing.T) {
	f := NewEpoll()
	defer f.DecRef()
	// A file without a poll method: a regular file through procfs is not
	// at hand here, so check an O_PATH-free kind directly.
	g := newFile(nil, fkReg, Path{}, nil, unix.O_RDONLY)
	if got := g.Poll(); got != defaultPollMask {
		t.Fatalf("regular file: %#x", got)
	}
	if g.Pollable() {
		t.Fatal("regular file pollable by epoll")
	}
	err := f.EpollCtl(unix.EPOLL_CTL_ADD, g, 3, EpollEvent{Events: EventIn})
	wantErr(t, "epoll_ctl regular file", err, unix.EPERM)
	p := newFile(nil, fkPath, Path{}, nil, unix.O_PATH)
	if got := p.Poll(); got != EventNval {
		t.Fatalf("O_PATH: %#x", got)
	}
}

func TestEventFD(t *testing.T) {
	f := NewEventFD(0, false, true)
	defer f.DecRef()
	_, err := readU64(t, f)
	wantErr(t, "empty nonblocking read", err, unix.EAGAIN)
	if got := f.Poll(); got != EventOut|EventWrNorm {
		t.Fatalf("poll empty: %#x", got)
	}
	_, err = f.Write([]byte{1, 2, 3})
	wantErr(t, "short write", err, unix.EINVAL)
	_, err = f.Read(make([]byte, 7))
	wantErr(t, "short read", err, unix.EINVAL)
	_, err = f.Write(u64(^uint64(0)))
	wantErr(t, "write of all ones", err, unix.EINVAL)
	f.Write(u64(3))
	f.Write(u64(4))
	if v, err := readU64(t, f); v != 7 || err != nil {
		t.Fatalf("read %d %v", v, err)
	}
	// Up to 0xfffffffffffffffe fits; beyond, EAGAIN.
	if _, err := f.Write(u64(^uint64(0) - 1)); err != nil {
		t.Fatal(err)
	}
	if got := f.Poll(); got != EventIn|EventRdNorm {
		t.Fatalf("poll at max: %#x", got)
	}
	_, err = f.Write(u64(1))
	wantErr(t, "overflowing write", err, unix.EAGAIN)
	readU64(t, f)

	s := NewEventFD(2, true, false)
	defer s.DecRef()
	for i := 0; i < 2; i++ {
		if v, _ := readU64(t, s); v != 1 {
			t.Fatalf("semaphore read %d", v)
		}
	}
	// A blocked read wakes for a write from another goroutine, and a
	// cancelled one returns EINTR.
	done := make(chan uint64)
	go func() {
		v, _ := readU64(t, s)
		done <- v
	}()
	time.Sleep(10 * time.Millisecond)
	s.Write(u64(5))
	select {
	case v := <-done:
		if v != 1 {
			t.Fatalf("woken read %d", v)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("blocked read never woken")
	}
	e := NewEventFD(0, false, false)
	defer e.DecRef()
	cancel := make(chan struct{})
	go func() { time.Sleep(10 * time.Millisecond); close(cancel) }()
	_, err = e.ReadCancel(make([]byte, 8), cancel)
	wantErr(t, "cancelled read", err, unix.EINTR)
	if e.Name(nil) != "anon_inode:[eventfd]" {
		t.Fatalf("name %q", e.Name(nil))
	}
	_, err = e.Pread(make([]byte, 8), 0)
	wantErr(t, "pread", err, unix.ESPIPE)
}

func TestTimerFD(t *testing.T) {
	f := NewTimerFD(unix.CLOCK_MONOTONIC, true)
	defer f.DecRef()
	_, err := readU64(t, f)
	wantErr(t, "disarmed read", err, unix.EAGAIN)
	_, err = f.Write(u64(1))
	wantErr(t, "write", err, unix.EINVAL)
	// One-shot: expires once.
	f.TimerSetTime(int64(5*time.Millisecond), 0, false)
	if v, _, _ := f.TimerGetTime(); v <= 0 || v > int64(5*time.Millisecond) {
		t.Fatalf("remaining %d", v)
	}
	ch := make(chan struct{}, 1)
	w := NewChanWaiter(EventIn, ch)
	f.EventRegister(w)
	if !woken(ch) {
		t.Fatal("expiry did not notify")
	}
	f.EventUnregister(w)
	if got := f.Poll(); got != EventIn|EventRdNorm {
		t.Fatalf("poll expired: %#x", got)
	}
	if v, err := readU64(t, f); v != 1 || err != nil {
		t.Fatalf("one-shot read %d %v", v, err)
	}
	if v, iv, _ := f.TimerGetTime(); v != 0 || iv != 0 {
		t.Fatalf("after one-shot: %d %d", v, iv)
	}
	// Periodic: periods pile up between reads.
	f.TimerSetTime(int64(10*time.Millisecond), int64(10*time.Millisecond), false)
	time.Sleep(55 * time.Millisecond)
	v, _ := readU64(t, f)
	if v < 3 || v > 6 {
		t.Fatalf("periodic count %d", v)
	}
	if rem, iv, _ := f.TimerGetTime(); rem <= 0 || rem > int64(10*time.Millisecond) || iv != int64(10*time.Millisecond) {
		t.Fatalf("periodic gettime %d %d", rem, iv)
	}
	// An absolute time in the past expires at once; disarming drops it.
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	f.TimerSetTime(ts.Nano()-int64(time.Second), 0, true)
	if got := f.Poll(); got&EventIn == 0 {
		t.Fatal("past absolute time not expired")
	}
	oldV, oldI, _ := f.TimerSetTime(0, 0, false)
	if oldV != 0 || oldI != 0 {
		t.Fatalf("old setting %d %d", oldV, oldI)
	}
	_, err = readU64(t, f)
	wantErr(t, "disarmed again", err, unix.EAGAIN)
	// A blocking read waits for the expiry.
	b := NewTimerFD(unix.CLOCK_REALTIME, false)
	defer b.DecRef()
	b.TimerSetTime(int64(5*time.Millisecond), 0, false)
	if v, err := readU64(t, b); v != 1 || err != nil {
		t.Fatalf("blocking read %d %v", v, err)
	}
}

func TestEpollLevelEdgeOneshot(t *testing.T) {
	r, w := NewPipe()
	defer r.DecRef()
	defer w.DecRef()
	lt, et, os := NewEpoll(), NewEpoll(), NewEpoll()
	defer lt.DecRef()
	defer et.DecRef()
	defer os.DecRef()
	for _, c := range []struct {
		ep    *File
		flags uint32
	}{{lt, 0}, {et, EpollET}, {os, EpollOneShot}} {
		if err := c.ep.EpollCtl(unix.EPOLL_CTL_ADD, r, 5, EpollEvent{Events: EventIn | c.flags, Data: 0xdeadbeef12345678}); err != nil {
			t.Fatal(err)
		}
	}
	err := lt.EpollCtl(unix.EPOLL_CTL_ADD, r, 5, EpollEvent{Events: EventIn})
	wantErr(t, "second add", err, unix.EEXIST)
	err = lt.EpollCtl(unix.EPOLL_CTL_MOD, r, 6, EpollEvent{Events: EventIn})
	wantErr(t, "mod of another fd", err, unix.ENOENT)
	err = lt.EpollCtl(unix.EPOLL_CTL_ADD, lt, 7, EpollEvent{Events: EventIn})
	wantErr(t, "add to itself", err, unix.EINVAL)
	count := func(ep *File) int {
		evs, _ := ep.EpollHarvest(10)
		for _, e := range evs {
			if e.Data != 0xdeadbeef12345678 || e.Events != EventIn {
				t.Fatalf("event %+v", e)
			}
		}
		return len(evs)
	}
	if count(lt)+count(et)+count(os) != 0 {
		t.Fatal("events on an empty pipe")
	}
	w.Write([]byte("ab"))
	w.Write([]byte("cd"))
	if n := count(lt); n != 1 {
		t.Fatalf("level %d", n)
	}
	if n := count(lt); n != 1 {
		t.Fatalf("level again %d", n)
	}
	if n := count(et); n != 1 {
		t.Fatalf("edge %d", n)
	}
	if n := count(et); n != 0 {
		t.Fatalf("edge again %d", n)
	}
	if n := count(os); n != 1 {
		t.Fatalf("oneshot %d", n)
	}
	w.Write([]byte("e"))
	if n := count(et); n != 1 {
		t.Fatalf("edge after new data %d", n)
	}
	if n := count(os); n != 0 {
		t.Fatalf("oneshot disabled %d", n)
	}
	os.EpollCtl(unix.EPOLL_CTL_MOD, r, 5, EpollEvent{Events: EventIn | EpollOneShot, Data: 0xdeadbeef12345678})
	if n := count(os); n != 1 {
		t.Fatalf("oneshot rearmed %d", n)
	}
	r.Read(make([]byte, 10))
	if n := count(lt); n != 0 {
		t.Fatalf("level after drain %d", n)
	}
	if got := lt.Poll(); got != 0 {
		t.Fatalf("epoll fd readiness after drain %#x", got)
	}
	// A wake-up from another goroutine reaches a waiter on the epoll file.
	ch := make(chan struct{}, 1)
	wt := NewChanWaiter(EventIn, ch)
	lt.EventRegister(wt)
	go w.Write([]byte("z"))
	if !woken(ch) {
		t.Fatal("epoll waiter not woken")
	}
	lt.EventUnregister(wt)
	if got := lt.Poll(); got != EventIn|EventRdNorm {
		t.Fatalf("epoll fd readiness %#x", got)
	}
	if err := lt.EpollCtl(unix.EPOLL_CTL_DEL, r, 5, EpollEvent{}); err != nil {
		t.Fatal(err)
	}
	if n := count(lt); n != 0 {
		t.Fatalf("after DEL %d", n)
	}
}

func TestEpollHupAndRelease(t *testing.T) {
	r, w := NewPipe()
	ep := NewEpoll()
	defer ep.DecRef()
	ep.EpollCtl(unix.EPOLL_CTL_ADD, r, 3, EpollEvent{Events: EventIn | EpollET, Data: 1})
	w.DecRef()
	evs, _ := ep.EpollHarvest(4)
	if len(evs) != 1 || evs[0].Events != EventHup {
		t.Fatalf("HUP events %+v", evs)
	}
	// Closing the last reference drops the entry from the set.
	w2r, w2 := NewPipe()
	defer w2r.DecRef()
	ep.EpollCtl(unix.EPOLL_CTL_ADD, w2, 4, EpollEvent{Events: EventOut, Data: 2})
	r.DecRef()
	w2.DecRef()
	if len(ep.ep.items) != 0 {
		t.Fatalf("%d entries left after release", len(ep.ep.items))
	}
}

func TestEpollNesting(t *testing.T) {
	var eps []*File
	for i := 0; i < 7; i++ {
		eps = append(eps, NewEpoll())
		defer eps[i].DecRef()
	}
	a, b := eps[0], eps[1]
	if err := a.EpollCtl(unix.EPOLL_CTL_ADD, b, 4, EpollEvent{Events: EventIn}); err != nil {
		t.Fatal(err)
	}
	err := b.EpollCtl(unix.EPOLL_CTL_ADD, a, 3, EpollEvent{Events: EventIn})
	wantErr(t, "loop", err, unix.ELOOP)
	err = a.EpollCtl(unix.EPOLL_CTL_ADD, eps[2], 5, EpollEvent{Events: EventIn | EpollExclusive})
	wantErr(t, "exclusive epoll", err, unix.EINVAL)
	// A readable pipe inside b makes a readable.
	r, w := NewPipe()
	defer r.DecRef()
	defer w.DecRef()
	b.EpollCtl(unix.EPOLL_CTL_ADD, r, 9, EpollEvent{Events: EventIn})
	ch := make(chan struct{}, 1)
	wt := NewChanWaiter(EventIn, ch)
	a.EventRegister(wt)
	defer a.EventUnregister(wt)
	w.Write([]byte("x"))
	if !woken(ch) {
		t.Fatal("nested wake-up lost")
	}
	if evs, _ := a.EpollHarvest(4); len(evs) != 1 || evs[0].Data != 0 {
		t.Fatalf("outer events %+v", evs)
	}
	// Chains deeper than EP_MAX_NESTS are refused.
	var err2 error
	for i := 2; i < 7 && err2 == nil; i++ {
		err2 = eps[i].EpollCtl(unix.EPOLL_CTL_ADD, eps[i-1], int32(i), EpollEvent{Events: EventIn})
	}
	wantErr(t, "too deep", err2, unix.ELOOP)
}
