package vfs

import (
	"encoding/binary"
	"sync"

	"golang.org/x/sys/unix"
)

// inotify(7) instances (fs/notify/inotify/inotify_user.c). Events reach an
// instance through the watches of fsnotify.go.

// Limits of /proc/sys/fs/inotify (their Linux defaults; max_user_watches
// is Linux's upper bound for it, which Linux scales down on small machines).
const (
	inotifyMaxUserInstances = 128
	inotifyMaxUserWatches   = 1 << 20
)

// inotifyMaxQueuedEvents is max_queued_events (a variable for tests).
var inotifyMaxQueuedEvents = 16384

// inotifyEventSize is sizeof(struct inotify_event) without the name.
const inotifyEventSize = 16

// inotifyUsers counts instances and watches per user id (the ucounts
// behind max_user_instances and max_user_watches); guarded by fsnMu.
var inotifyUsers = map[uint32]*inotifyUser{}

type inotifyUser struct{ instances, watches int }

// inotifyEvent is one queued event (struct inotify_event_info).
type inotifyEvent struct {
	wd           int32
	mask, cookie uint32
	name         string
}

// nameLen is the event's len field: the name, its NUL and padding to a
// multiple of sizeof(struct inotify_event) (round_event_name_len).
func (e *inotifyEvent) nameLen() int {
	if e.name == "" {
		return 0
	}
	return (len(e.name) + 1 + inotifyEventSize - 1) / inotifyEventSize * inotifyEventSize
}

// size is the event's length as read(2) returns it.
func (e *inotifyEvent) size() int { return inotifyEventSize + e.nameLen() }

// Inotify is an inotify instance (struct fsnotify_group and its inotify
// data), the FileImpl behind an inotify file descriptor.
type Inotify struct {
	uid uint32

	// Guarded by fsnMu.
	byWd     map[int32]*watch
	byInode  map[*inode]*watch
	lastWd   int32
	released bool

	mu        sync.Mutex // guards the event queue
	events    []inotifyEvent
	head      int  // events[head:] are queued
	bytes     int  // their total size (FIONREAD)
	overflow  bool // an IN_Q_OVERFLOW event is queued
	maxEvents int
	wq        WaitQueue
}

// NewInotify makes an inotify instance owned by user uid (inotify_init1(2));
// nonblock is IN_NONBLOCK. EMFILE when uid has max_user_instances already.
func NewInotify(uid uint32, nonblock bool) (*File, error) {
	fsnMu.Lock()
	u := inotifyUsers[uid]
	if u == nil {
		u = &inotifyUser{}
		inotifyUsers[uid] = u
	}
	if u.instances >= inotifyMaxUserInstances {
		fsnMu.Unlock()
		return nil, unix.EMFILE
	}
	u.instances++
	fsnMu.Unlock()
	n := &Inotify{uid: uid, byWd: map[int32]*watch{}, byInode: map[*inode]*watch{}, maxEvents: inotifyMaxQueuedEvents}
	flags := unix.O_RDONLY
	if nonblock {
		flags |= unix.O_NONBLOCK
	}
	return NewImplFile(n, flags), nil
}

// inotifyAllBits are the mask bits inotify_add_watch accepts (ALL_INOTIFY_BITS).
const inotifyAllBits = unix.IN_ALL_EVENTS | unix.IN_UNMOUNT | unix.IN_Q_OVERFLOW | unix.IN_IGNORED |
	unix.IN_ONLYDIR | unix.IN_DONT_FOLLOW | unix.IN_EXCL_UNLINK | unix.IN_MASK_CREATE |
	unix.IN_MASK_ADD | unix.IN_ISDIR | unix.IN_ONESHOT

// InotifyCheckMask validates an inotify_add_watch mask before the fd is
// looked up: EINVAL for unknown bits or none at all.
func InotifyCheckMask(mask uint32) error {
	if mask&^uint32(inotifyAllBits) != 0 || mask&inotifyAllBits == 0 {
		return unix.EINVAL
	}
	return nil
}

// AddWatch watches name, resolved from c's working directory, for the
// events of mask, or updates the instance's watch of that inode; it
// returns the watch descriptor (inotify_add_watch(2); inotify_find_inode,
// inotify_update_watch). The caller needs read permission on the file.
func (n *Inotify) AddWatch(v *VFS, c *Ctx, name string, mask uint32) (int32, error) {
	if err := InotifyCheckMask(mask); err != nil {
		return 0, err
	}
	if mask&unix.IN_MASK_ADD != 0 && mask&unix.IN_MASK_CREATE != 0 {
		return 0, unix.EINVAL
	}
	if name == "" {
		return 0, unix.ENOENT
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	w := &walker{v: v, c: c}
	p, err := w.resolve(Path{}, name, mask&unix.IN_DONT_FOLLOW == 0)
	if err != nil {
		return 0, err
	}
	in := p.d.inode
	if mask&unix.IN_ONLYDIR != 0 && !in.isDir() {
		return 0, unix.ENOTDIR
	}
	if err := permits(&c.Creds, in, mayRead); err != nil {
		return 0, err
	}
	bits := mask & (unix.IN_ALL_EVENTS | watchFlags)
	fsnMu.Lock()
	defer fsnMu.Unlock()
	if n.released {
		return 0, unix.EBADF
	}
	if old := n.byInode[in]; old != nil {
		if mask&unix.IN_MASK_CREATE != 0 {
			return 0, unix.EEXIST
		}
		if mask&unix.IN_MASK_ADD != 0 {
			bits |= old.mask
		}
		old.mask = bits
		return old.wd, nil
	}
	u := inotifyUsers[n.uid]
	if u.watches >= inotifyMaxUserWatches {
		return 0, unix.ENOSPC
	}
	// Watch descriptors count up from 1 and are not reused until they
	// wrap (idr_alloc_cyclic).
	wd := n.lastWd
	for {
		wd++
		if wd <= 0 {
			wd = 1
		}
		if n.byWd[wd] == nil {
			break
		}
	}
	n.lastWd = wd
	nw := &watch{ino: n, node: in, wd: wd, mask: bits}
	n.byWd[wd] = nw
	n.byInode[in] = nw
	in.notify.watches = append(in.notify.watches, nw)
	u.watches++
	fsnWatches.Add(1)
	return wd, nil
}

// RmWatch removes watch wd, queueing IN_IGNORED (inotify_rm_watch(2));
// EINVAL if the instance has no such watch.
func (n *Inotify) RmWatch(wd int32) error {
	fsnMu.Lock()
	defer fsnMu.Unlock()
	w := n.byWd[wd]
	if w == nil {
		return unix.EINVAL
	}
	w.destroyLocked()
	return nil
}

// unlinkLocked detaches w from its inode and instance (fsnotify_detach_mark).
func (w *watch) unlinkLocked() {
	ws := w.node.notify.watches
	for i, x := range ws {
		if x == w {
			ws = append(ws[:i:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) == 0 {
		ws = nil
	}
	w.node.notify.watches = ws
	delete(w.ino.byWd, w.wd)
	delete(w.ino.byInode, w.node)
	if u := inotifyUsers[w.ino.uid]; u != nil {
		u.watches--
	}
	fsnWatches.Add(-1)
}

// destroyLocked removes w and queues IN_IGNORED for it
// (inotify_freeing_mark). fsnMu must be held.
func (w *watch) destroyLocked() {
	if w.ino.byWd[w.wd] != w {
		return
	}
	w.unlinkLocked()
	w.ino.queue(inotifyEvent{wd: w.wd, mask: unix.IN_IGNORED})
}

// queue appends ev (fsnotify_add_event with inotify_merge): an event equal
// to the last queued one is dropped, and a full queue takes one
// IN_Q_OVERFLOW event instead.
func (n *Inotify) queue(ev inotifyEvent) {
	n.mu.Lock()
	q := n.events[n.head:]
	if len(q) >= n.maxEvents {
		if n.overflow {
			n.mu.Unlock()
			return
		}
		n.overflow = true
		ev = inotifyEvent{wd: -1, mask: unix.IN_Q_OVERFLOW}
	} else if len(q) > 0 {
		last := &q[len(q)-1]
		if last.mask&unix.IN_IGNORED == 0 && last.mask == ev.mask && last.wd == ev.wd && last.name == ev.name {
			n.mu.Unlock()
			return
		}
	}
	if n.head > 0 && n.head >= len(n.events)/2 {
		n.events = append(n.events[:0], n.events[n.head:]...)
		n.head = 0
	}
	n.events = append(n.events, ev)
	n.bytes += ev.size()
	n.mu.Unlock()
	n.wq.Notify(EventIn | EventRdNorm)
}

// Read returns as many whole events as fit in dst, waiting (unless
// nonblock) for the first; EINVAL if the next event does not fit
// (inotify_read, get_one_event, copy_event_to_user).
func (n *Inotify) Read(dst []byte, nonblock bool, cancel <-chan struct{}) (int, error) {
	var ch chan struct{}
	for {
		n.mu.Lock()
		if n.head < len(n.events) {
			off := 0
			for n.head < len(n.events) {
				ev := &n.events[n.head]
				sz := ev.size()
				if sz > len(dst)-off {
					break
				}
				b := dst[off : off+sz]
				binary.NativeEndian.PutUint32(b[0:], uint32(ev.wd))
				binary.NativeEndian.PutUint32(b[4:], ev.mask)
				binary.NativeEndian.PutUint32(b[8:], ev.cookie)
				binary.NativeEndian.PutUint32(b[12:], uint32(ev.nameLen()))
				clear(b[inotifyEventSize:])
				copy(b[inotifyEventSize:], ev.name)
				if ev.mask&unix.IN_Q_OVERFLOW != 0 && ev.wd == -1 {
					n.overflow = false
				}
				*ev = inotifyEvent{}
				n.head++
				n.bytes -= sz
				off += sz
			}
			if n.head == len(n.events) {
				n.events, n.head = n.events[:0], 0
			}
			n.mu.Unlock()
			if off == 0 {
				return 0, unix.EINVAL
			}
			return off, nil
		}
		if nonblock {
			n.mu.Unlock()
			return 0, unix.EAGAIN
		}
		if ch == nil {
			// Register, then look again: an event queued in between is
			// not lost.
			ch = make(chan struct{}, 1)
			w := NewChanWaiter(EventIn, ch)
			n.wq.q.add(w)
			defer n.wq.q.remove(w)
			n.mu.Unlock()
			continue
		}
		n.mu.Unlock()
		if err := wait(ch, cancel); err != nil {
			return 0, err
		}
	}
}

// Write fails: the instance is open read-only.
func (n *Inotify) Write(src []byte, nonblock bool, cancel <-chan struct{}) (int, error) {
	return 0, unix.EBADF
}

// Poll is inotify_poll: readable while events are queued.
func (n *Inotify) Poll() uint32 {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.head < len(n.events) {
		return EventIn | EventRdNorm
	}
	return 0
}

// Queue returns the wait queue woken when events arrive.
func (n *Inotify) Queue() *WaitQueue { return &n.wq }

// Stat describes the anonymous inode behind the instance.
func (n *Inotify) Stat() Stat { return anonInodeStat }

// Name is the /proc/self/fd link text.
func (n *Inotify) Name() string { return "anon_inode:inotify" }

// Ioctl handles FIONREAD, the bytes of the queued events (inotify_ioctl).
func (n *Inotify) Ioctl(cmd uint32, arg uint64) (uint64, error) {
	if cmd != FIONREAD {
		return 0, unix.ENOTTY
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return uint64(n.bytes), nil
}

// Release drops every watch without reporting anything (the group is
// shutting down: fsnotify_destroy_group).
func (n *Inotify) Release() {
	fsnMu.Lock()
	defer fsnMu.Unlock()
	for _, w := range n.byWd {
		w.unlinkLocked()
	}
	n.released = true
	if u := inotifyUsers[n.uid]; u != nil {
		u.instances--
		if u.instances == 0 && u.watches == 0 {
			delete(inotifyUsers, n.uid)
		}
	}
	n.mu.Lock()
	n.events, n.head, n.bytes = nil, 0, 0
	n.mu.Unlock()
}
