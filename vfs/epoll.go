package vfs

import (
	"sync"

	"golang.org/x/sys/unix"
)

// epoll flag bits beyond the readiness events (include/uapi/linux/eventpoll.h).
const (
	EpollExclusive uint32 = 1 << 28 // EPOLLEXCLUSIVE
	EpollWakeup    uint32 = 1 << 29 // EPOLLWAKEUP
	EpollOneShot   uint32 = 1 << 30 // EPOLLONESHOT
	EpollET        uint32 = 1 << 31 // EPOLLET
)

// epPrivateBits are the flag bits of an interest entry (EP_PRIVATE_BITS); an
// entry with no other bit left (a fired EPOLLONESHOT) is disabled.
const epPrivateBits = EpollWakeup | EpollOneShot | EpollET | EpollExclusive

// epExclusiveOK are the bits EPOLLEXCLUSIVE may come with (EPOLLEXCLUSIVE_OK_BITS).
const epExclusiveOK = EventIn | EventOut | EventErr | EventHup | EpollWakeup | EpollET | EpollExclusive

// epMaxNests bounds the nesting of epoll instances (EP_MAX_NESTS).
const epMaxNests = 4

// EpollEvent is one struct epoll_event: ready events and the user's data.
type EpollEvent struct {
	Events uint32
	Data   uint64
}

// epollKey names an interest entry: the file and the fd it was added by
// (struct epoll_filefd).
type epollKey struct {
	file *File
	fd   int32
}

// epitem is one interest entry (struct epitem).
type epitem struct {
	ep  *eventPoll
	key epollKey
	w   *Waiter
	// Guarded by eventPoll.lock.
	events  uint32
	data    uint64
	ready   bool // on the ready list
	removed bool
}

// eventPoll is an epoll instance (fs/eventpoll.c struct eventpoll).
//
// Lock order: eventPoll.mtx -> (a watched file's locks, File.epMu, a nested
// instance's mtx) -> waitQueue.mu -> eventPoll.lock. Callbacks run with the
// watched file's queue lock held and take only lock, then notify q.
type eventPoll struct {
	file *File
	// mtx serialises epoll_ctl and event harvesting; guards items.
	mtx   sync.Mutex
	items map[epollKey]*epitem
	// lock guards the ready list and every item's events, data and flags.
	lock   sync.Mutex
	rdlist []*epitem
	// q wakes epoll_wait callers and whoever polls this instance.
	q waitQueue
}

// epNestMu serialises insertions of epoll files, so that loop checks see a
// stable graph (epnested_mutex).
var epNestMu sync.Mutex

// NewEpoll makes an empty epoll instance (epoll_create1(2)).
func NewEpoll() *File {
	f := anonFile(fkEpoll, false)
	f.ep = &eventPoll{file: f, items: map[epollKey]*epitem{}}
	return f
}

// callback is ep_poll_callback: it queues the entry on the ready list when
// the event concerns it, and wakes the instance's waiters.
func (it *epitem) callback(mask uint32) {
	ep := it.ep
	ep.lock.Lock()
	if it.removed || it.events&^epPrivateBits == 0 || (mask != eventAll && mask&it.events == 0) {
		ep.lock.Unlock()
		return
	}
	if !it.ready {
		it.ready = true
		ep.rdlist = append(ep.rdlist, it)
	}
	ep.lock.Unlock()
	ep.q.notify(EventIn | EventRdNorm)
}

// queueIfReady polls the entry's file and puts the entry on the ready list
// if it has an event of interest (the tail of ep_insert and ep_modify).
func (ep *eventPoll) queueIfReady(it *epitem) {
	ep.lock.Lock()
	events := it.events
	ep.lock.Unlock()
	if it.key.file.Poll()&events == 0 {
		return
	}
	ep.lock.Lock()
	queued := !it.ready && !it.removed
	if queued {
		it.ready = true
		ep.rdlist = append(ep.rdlist, it)
	}
	ep.lock.Unlock()
	if queued {
		ep.q.notify(EventIn | EventRdNorm)
	}
}

// insertLocked is ep_insert. ep.mtx must be held.
func (ep *eventPoll) insertLocked(key epollKey, ev EpollEvent) {
	it := &epitem{ep: ep, key: key, events: ev.Events, data: ev.Data}
	it.w = NewWaiter(0, it.callback)
	ep.items[key] = it
	key.file.epMu.Lock()
	if key.file.epItems == nil {
		key.file.epItems = map[*epitem]struct{}{}
	}
	key.file.epItems[it] = struct{}{}
	key.file.epMu.Unlock()
	key.file.EventRegister(it.w)
	ep.queueIfReady(it)
}

// modifyLocked is ep_modify. ep.mtx must be held.
func (ep *eventPoll) modifyLocked(it *epitem, ev EpollEvent) {
	ep.lock.Lock()
	it.events, it.data = ev.Events, ev.Data
	ep.lock.Unlock()
	ep.queueIfReady(it)
}

// removeLocked is ep_remove. ep.mtx must be held.
func (ep *eventPoll) removeLocked(it *epitem) {
	it.key.file.EventUnregister(it.w)
	ep.lock.Lock()
	it.removed = true
	if it.ready {
		for i, r := range ep.rdlist {
			if r == it {
				ep.rdlist = append(ep.rdlist[:i], ep.rdlist[i+1:]...)
				break
			}
		}
		it.ready = false
	}
	ep.lock.Unlock()
	delete(ep.items, it.key)
	it.key.file.epMu.Lock()
	delete(it.key.file.epItems, it)
	it.key.file.epMu.Unlock()
}

// release empties the instance when its file goes away (ep_free).
func (ep *eventPoll) release() {
	ep.mtx.Lock()
	defer ep.mtx.Unlock()
	for _, it := range ep.items {
		ep.removeLocked(it)
	}
}

// eventpollRelease removes a file being released from every epoll set that
// watches it (eventpoll_release).
func eventpollRelease(f *File) {
	f.epMu.Lock()
	items := f.epItems
	f.epItems = nil
	f.epMu.Unlock()
	for it := range items {
		ep := it.ep
		ep.mtx.Lock()
		if ep.items[it.key] == it {
			ep.removeLocked(it)
		}
		ep.mtx.Unlock()
	}
}

// poll is ep_eventpoll_poll: readable when an entry on the ready list
// really has an event of interest; entries that do not are dropped.
func (ep *eventPoll) poll(int) uint32 {
	ep.mtx.Lock()
	defer ep.mtx.Unlock()
	ep.lock.Lock()
	list := append([]*epitem(nil), ep.rdlist...)
	ep.lock.Unlock()
	for _, it := range list {
		ep.lock.Lock()
		events := it.events
		ep.lock.Unlock()
		if it.key.file.Poll()&events != 0 {
			return EventIn | EventRdNorm
		}
		ep.lock.Lock()
		if it.ready {
			for i, r := range ep.rdlist {
				if r == it {
					ep.rdlist = append(ep.rdlist[:i], ep.rdlist[i+1:]...)
					break
				}
			}
			it.ready = false
		}
		ep.lock.Unlock()
	}
	return 0
}

// harvest is ep_send_events: it polls the entries on the ready list and
// returns at most max events. Level-triggered entries that are still ready
// go back on the list; edge-triggered ones wait for their next event; a
// reported EPOLLONESHOT entry is disabled until EPOLL_CTL_MOD.
func (ep *eventPoll) harvest(max int) []EpollEvent {
	ep.mtx.Lock()
	defer ep.mtx.Unlock()
	ep.lock.Lock()
	tx := ep.rdlist
	ep.rdlist = nil
	for _, it := range tx {
		it.ready = false
	}
	ep.lock.Unlock()
	var out []EpollEvent
	var level []*epitem
	i := 0
	for ; i < len(tx) && len(out) < max; i++ {
		it := tx[i]
		ep.lock.Lock()
		events, data := it.events, it.data
		ep.lock.Unlock()
		revents := it.key.file.Poll() & events
		if revents == 0 {
			continue
		}
		out = append(out, EpollEvent{Events: revents, Data: data})
		ep.lock.Lock()
		switch {
		case events&EpollOneShot != 0:
			it.events &= epPrivateBits
		case events&EpollET == 0:
			level = append(level, it)
		}
		ep.lock.Unlock()
	}
	// Entries not reached go back first, then those queued meanwhile, then
	// the level-triggered ones just reported (ep_done_scan).
	ep.lock.Lock()
	var front []*epitem
	for _, it := range tx[i:] {
		if !it.ready && !it.removed {
			it.ready = true
			front = append(front, it)
		}
	}
	rd := append(front, ep.rdlist...)
	for _, it := range level {
		if !it.ready && !it.removed {
			it.ready = true
			rd = append(rd, it)
		}
	}
	ep.rdlist = rd
	ep.lock.Unlock()
	return out
}

// EpollHarvest returns up to max ready events of an epoll file without
// blocking (ep_send_events); callers wait on the file's queue (EventIn)
// between attempts. EINVAL if f is not an epoll file.
func (f *File) EpollHarvest(max int) ([]EpollEvent, error) {
	if f.kind != fkEpoll {
		return nil, unix.EINVAL
	}
	return f.ep.harvest(max), nil
}

// EpollCtl adds, modifies or removes the interest entry of target, open
// at fd, in the epoll file f (epoll_ctl(2), do_epoll_ctl). ev is ignored
// for EPOLL_CTL_DEL. The caller has checked that both fds are open and
// not O_PATH.
func (f *File) EpollCtl(op int, target *File, fd int32, ev EpollEvent) error {
	if !target.Pollable() {
		return unix.EPERM
	}
	if f == target || f.kind != fkEpoll {
		return unix.EINVAL
	}
	hasEvent := op != unix.EPOLL_CTL_DEL
	if hasEvent && ev.Events&EpollExclusive != 0 {
		if op == unix.EPOLL_CTL_MOD {
			return unix.EINVAL
		}
		if op == unix.EPOLL_CTL_ADD && (target.kind == fkEpoll || ev.Events&^epExclusiveOK != 0) {
			return unix.EINVAL
		}
	}
	ep := f.ep
	if op == unix.EPOLL_CTL_ADD && target.kind == fkEpoll {
		epNestMu.Lock()
		defer epNestMu.Unlock()
		if !epLoopCheck(ep, target.ep) {
			return unix.ELOOP
		}
	}
	ep.mtx.Lock()
	defer ep.mtx.Unlock()
	key := epollKey{target, fd}
	it := ep.items[key]
	switch op {
	case unix.EPOLL_CTL_ADD:
		if it != nil {
			return unix.EEXIST
		}
		ev.Events |= EventErr | EventHup
		ep.insertLocked(key, ev)
		return nil
	case unix.EPOLL_CTL_DEL:
		if it == nil {
			return unix.ENOENT
		}
		ep.removeLocked(it)
		return nil
	case unix.EPOLL_CTL_MOD:
		if it == nil {
			return unix.ENOENT
		}
		ep.lock.Lock()
		excl := it.events&EpollExclusive != 0
		ep.lock.Unlock()
		if excl {
			return unix.EINVAL
		}
		ev.Events |= EventErr | EventHup
		ep.modifyLocked(it, ev)
		return nil
	}
	return unix.EINVAL
}

// epLoopCheck reports whether to may be added to ep: ep must not be
// reachable from to, and the resulting chain of nested instances must stay
// within EP_MAX_NESTS (ep_loop_check). epNestMu must be held.
func epLoopCheck(ep, to *eventPoll) bool {
	down := epDepthDown(to, ep, 0)
	if down > epMaxNests {
		return false
	}
	return down+1+epDepthUp(ep, 0) <= epMaxNests
}

// epDepthDown is the nesting depth below e, or more than EP_MAX_NESTS when
// into is reachable (ep_loop_check_proc).
func epDepthDown(e, into *eventPoll, depth int) int {
	e.mtx.Lock()
	var kids []*eventPoll
	for k := range e.items {
		if k.file.kind == fkEpoll {
			kids = append(kids, k.file.ep)
		}
	}
	e.mtx.Unlock()
	result := 0
	for _, c := range kids {
		if c == into || depth > epMaxNests {
			return epMaxNests + 1
		}
		result = max(result, epDepthDown(c, into, depth+1)+1)
		if result > epMaxNests {
			return result
		}
	}
	return result
}

// epDepthUp is how many instances are stacked above e
// (ep_get_upwards_depth_proc).
func epDepthUp(e *eventPoll, depth int) int {
	if depth > epMaxNests {
		return depth
	}
	e.file.epMu.Lock()
	var parents []*eventPoll
	for it := range e.file.epItems {
		parents = append(parents, it.ep)
	}
	e.file.epMu.Unlock()
	result := 0
	for _, p := range parents {
		result = max(result, epDepthUp(p, depth+1)+1)
	}
	return result
}
