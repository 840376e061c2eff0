package socket

import (
	"sync"

	"kvsentry/vfs"
)

// queue is a socket's wait queue: the vfs.WaitQueue that poll, select and
// epoll register with, plus the socket's own blocked callers.
type queue struct {
	vfs.WaitQueue
	mu sync.Mutex
	ws map[*waiter]struct{}
}

// waiter is one blocked caller of a socket operation.
type waiter struct {
	mask uint32
	ch   chan struct{}
}

// add registers a waiter woken by events in mask.
func (q *queue) add(mask uint32) *waiter {
	w := &waiter{mask: mask, ch: make(chan struct{}, 1)}
	q.mu.Lock()
	if q.ws == nil {
		q.ws = map[*waiter]struct{}{}
	}
	q.ws[w] = struct{}{}
	q.mu.Unlock()
	return w
}

// remove unregisters w.
func (q *queue) remove(w *waiter) {
	q.mu.Lock()
	delete(q.ws, w)
	q.mu.Unlock()
}

// notify wakes pollers and blocked callers interested in mask.
func (q *queue) notify(mask uint32) {
	q.WaitQueue.Notify(mask)
	q.mu.Lock()
	for w := range q.ws {
		if w.mask&mask != 0 {
			select {
			case w.ch <- struct{}{}:
			default:
			}
		}
	}
	q.mu.Unlock()
}
