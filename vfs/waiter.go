package vfs

import "sync"

// Readiness event bits, as poll(2) and epoll(7) share them
// (include/uapi/asm-generic/poll.h, include/uapi/linux/eventpoll.h).
const (
	EventIn     uint32 = 0x1    // POLLIN / EPOLLIN
	EventPri    uint32 = 0x2    // POLLPRI
	EventOut    uint32 = 0x4    // POLLOUT
	EventErr    uint32 = 0x8    // POLLERR
	EventHup    uint32 = 0x10   // POLLHUP
	EventNval   uint32 = 0x20   // POLLNVAL
	EventRdNorm uint32 = 0x40   // POLLRDNORM
	EventRdBand uint32 = 0x80   // POLLRDBAND
	EventWrNorm uint32 = 0x100  // POLLWRNORM
	EventWrBand uint32 = 0x200  // POLLWRBAND
	EventMsg    uint32 = 0x400  // POLLMSG
	EventRdHup  uint32 = 0x2000 // POLLRDHUP / EPOLLRDHUP
)

// defaultPollMask is what a file without a poll method reports
// (DEFAULT_POLLMASK in include/linux/poll.h): always readable and writable.
const defaultPollMask = EventIn | EventOut | EventRdNorm | EventWrNorm

// eventAll is the key of a wake-up that concerns every waiter, as Linux's
// wake_up calls without a poll key (pipe_release, wake_up_partner).
const eventAll = ^uint32(0)

// Waiter is one entry of a file's wait queue (struct wait_queue_entry). Its
// callback runs, with the queue's lock held, for every notification whose
// event mask meets the waiter's; it must not block nor take file locks.
type Waiter struct {
	mask uint32
	fn   func(mask uint32)
}

// NewWaiter returns a waiter calling fn for events in mask (0: every event).
func NewWaiter(mask uint32, fn func(mask uint32)) *Waiter {
	return &Waiter{mask: mask, fn: fn}
}

// NewChanWaiter returns a waiter that makes ch readable (a non-blocking send
// on a channel of capacity 1) at every event in mask, as pollwake wakes a
// poll(2) sleeper; several waiters may share ch.
func NewChanWaiter(mask uint32, ch chan struct{}) *Waiter {
	return NewWaiter(mask, func(uint32) {
		select {
		case ch <- struct{}{}:
		default:
		}
	})
}

// waitQueue is a file's list of waiters (wait_queue_head_t).
//
// Lock order: a file's own state lock (pipe.mu, eventFD.mu, timerFD.mu) ->
// waitQueue.mu -> eventPoll.lock -> the instance's waitQueue.mu (nested
// epoll) ...; callbacks never take a file's state lock or eventPoll.mtx.
type waitQueue struct {
	mu sync.Mutex
	ws map[*Waiter]struct{}
}

// add registers w.
func (q *waitQueue) add(w *Waiter) {
	q.mu.Lock()
	if q.ws == nil {
		q.ws = map[*Waiter]struct{}{}
	}
	q.ws[w] = struct{}{}
	q.mu.Unlock()
}

// remove unregisters w; after it returns, w's callback no longer runs.
func (q *waitQueue) remove(w *Waiter) {
	q.mu.Lock()
	delete(q.ws, w)
	q.mu.Unlock()
}

// notify runs the callback of every waiter interested in mask
// (__wake_up with a poll key; eventAll reaches everyone).
func (q *waitQueue) notify(mask uint32) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for w := range q.ws {
		if mask == eventAll || w.mask == 0 || w.mask&mask != 0 {
			w.fn(mask)
		}
	}
}
