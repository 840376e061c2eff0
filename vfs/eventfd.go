package vfs

import (
	"encoding/binary"
	"math"
	"sync"

	"golang.org/x/sys/unix"
)

// eventFD is an eventfd's 64-bit counter (fs/eventfd.c struct eventfd_ctx).
type eventFD struct {
	mu    sync.Mutex
	count uint64
	sem   bool // EFD_SEMAPHORE: each read takes 1
	q     waitQueue
}

// NewEventFD makes an eventfd file (eventfd2(2)) with the initial count;
// semaphore is EFD_SEMAPHORE, nonblock EFD_NONBLOCK.
func NewEventFD(initval uint64, semaphore, nonblock bool) *File {
	f := anonFile(fkEventFD, nonblock)
	f.efd = &eventFD{count: initval, sem: semaphore}
	return f
}

// poll is eventfd_poll.
func (e *eventFD) poll() uint32 {
	e.mu.Lock()
	defer e.mu.Unlock()
	var m uint32
	if e.count > 0 {
		m |= EventIn | EventRdNorm
	}
	if e.count == math.MaxUint64 {
		m |= EventErr
	}
	if e.count < math.MaxUint64-1 {
		m |= EventOut | EventWrNorm
	}
	return m
}

// read is eventfd_read: EINVAL below 8 bytes; the count (or 1 in
// semaphore mode) as a native-endian u64; blocks while the count is 0.
func (e *eventFD) read(dst []byte, nonblock bool, cancel <-chan struct{}) (int, error) {
	if len(dst) < 8 {
		return 0, unix.EINVAL
	}
	var ch chan struct{}
	for {
		e.mu.Lock()
		if e.count > 0 {
			v := e.count
			if e.sem {
				v = 1
			}
			e.count -= v
			binary.NativeEndian.PutUint64(dst, v)
			e.q.notify(EventOut | EventWrNorm)
			e.mu.Unlock()
			return 8, nil
		}
		if nonblock {
			e.mu.Unlock()
			return 0, unix.EAGAIN
		}
		if ch == nil {
			// Register, then look again: a write in between is not lost.
			ch = make(chan struct{}, 1)
			w := NewChanWaiter(EventIn, ch)
			e.q.add(w)
			defer e.q.remove(w)
			e.mu.Unlock()
			continue
		}
		e.mu.Unlock()
		if err := wait(ch, cancel); err != nil {
			return 0, err
		}
	}
}

// write is eventfd_write: EINVAL below 8 bytes or for 0xffffffffffffffff;
// blocks while adding the value would pass 0xfffffffffffffffe.
func (e *eventFD) write(src []byte, nonblock bool, cancel <-chan struct{}) (int, error) {
	if len(src) < 8 {
		return 0, unix.EINVAL
	}
	v := binary.NativeEndian.Uint64(src)
	if v == math.MaxUint64 {
		return 0, unix.EINVAL
	}
	var ch chan struct{}
	for {
		e.mu.Lock()
		if math.MaxUint64-e.count > v {
			e.count += v
			e.q.notify(EventIn | EventRdNorm)
			e.mu.Unlock()
			return 8, nil
		}
		if nonblock {
			e.mu.Unlock()
			return 0, unix.EAGAIN
		}
		if ch == nil {
			ch = make(chan struct{}, 1)
			w := NewChanWaiter(EventOut, ch)
			e.q.add(w)
			defer e.q.remove(w)
			e.mu.Unlock()
			continue
		}
		e.mu.Unlock()
		if err := wait(ch, cancel); err != nil {
			return 0, err
		}
	}
}
