package sentry

import (
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"kvsentry/kernel/signal"
	"kvsentry/vfs"
)

func init() {
	register(unix.SYS_SIGNALFD, "fpd", Partial, signalfdNote, func(t *Task, a *sysArgs) (uint64, error) {
		return t.signalfd(int32(a[0]), a[1], a[2], 0)
	})
	register(unix.SYS_SIGNALFD4, "fpdx", Partial, signalfdNote, func(t *Task, a *sysArgs) (uint64, error) {
		return t.signalfd(int32(a[0]), a[1], a[2], int32(a[3]))
	})
}

// signalfdNote is the syscall table's note for signalfd and signalfd4.
const signalfdNote = "lseek fails with ESPIPE"

// signalfd flags (include/uapi/linux/signalfd.h).
const (
	sfdCloexec  = unix.O_CLOEXEC
	sfdNonblock = unix.O_NONBLOCK
)

// signalfd implements signalfd4(2) (do_signalfd4): fd -1 makes a new
// signalfd, an existing signalfd gets the new mask; EINVAL for a bad size,
// unknown flags or an fd that is not a signalfd, EBADF for a closed fd.
func (t *Task) signalfd(fd int32, maskAddr, size uint64, flags int32) (uint64, error) {
	if size != 8 {
		return 0, unix.EINVAL
	}
	v, err := t.copyInUint64(maskAddr)
	if err != nil {
		return 0, err
	}
	if flags&^(sfdCloexec|sfdNonblock) != 0 {
		return 0, unix.EINVAL
	}
	mask := signal.Set(v) &^ signal.Unblockable
	if fd != -1 {
		f := t.fileForPoll(fd) // fdget: O_PATH files are not found
		if f == nil {
			return 0, unix.EBADF
		}
		defer f.DecRef()
		sf, ok := f.Impl().(*signalFile)
		if !ok {
			return 0, unix.EINVAL
		}
		sf.mu.Lock()
		sf.mask = mask
		if sf.arrived != nil {
			close(sf.arrived)
			sf.arrived = nil
		}
		sf.mu.Unlock()
		sf.q.Notify(vfs.EventIn | vfs.EventRdNorm)
		return uint64(fd), nil
	}
	sf := &signalFile{t: t, mask: mask}
	open := unix.O_RDWR
	if flags&sfdNonblock != 0 {
		open |= unix.O_NONBLOCK
	}
	f := vfs.NewImplFile(sf, open)
	sigWatchAdd(t.tg, sf)
	sfdPollers.open.Add(1)
	return t.newFD(f, flags&sfdCloexec != 0)
}

// signalFile is a signalfd (fs/signalfd.c struct signalfd_ctx): reads and
// polls see the pending signals of its mask of the calling thread and its
// process (Linux's current), whichever thread or process created it.
type signalFile struct {
	// t is the creating thread, the caller when none can be told.
	t  *Task
	mu sync.Mutex
	// mask holds the signals the fd reports (Linux keeps its complement).
	mask signal.Set
	// arrived is closed, and cleared, at the next notify (blocking reads).
	arrived chan struct{}
	q       vfs.WaitQueue
}

// arrival returns a channel closed at the next signal of the mask.
func (s *signalFile) arrival() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.arrived == nil {
		s.arrived = make(chan struct{})
	}
	return s.arrived
}

// getMask returns the current mask.
func (s *signalFile) getMask() signal.Set {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mask
}

// readerLocked returns the task reading: the one whose interrupt channel
// is cancel (every read passes its task's t.intr, which only that task
// replaces), or the creating thread when none matches. Kernel.mu held.
func (s *signalFile) readerLocked(cancel <-chan struct{}) *Task {
	if cancel == nil {
		return s.t
	}
	for t := range s.t.tg.tasks {
		if (<-chan struct{})(t.intr) == cancel {
			return t
		}
	}
	for _, t := range s.t.k.tasks {
		if (<-chan struct{})(t.intr) == cancel {
			return t
		}
	}
	return s.t
}

// dequeue takes the lowest pending signal of the mask of reader and its
// process into rec as a struct signalfd_siginfo (dequeue_signal,
// signalfd_copyinfo).
func (s *signalFile) dequeue(reader *Task, rec []byte) bool {
	k := reader.k
	k.mu.Lock()
	info, ok := reader.dequeueMaskLocked(^s.getMask())
	k.mu.Unlock()
	if ok {
		info.MarshalSignalfd(rec)
	}
	return ok
}

// Read is signalfd_read: EINVAL below one record; as many records as fit
// of the reading thread's signals, waiting (unless nonblock) only for the
// first.
func (s *signalFile) Read(dst []byte, nonblock bool, cancel <-chan struct{}) (int, error) {
	count := len(dst) / signal.SignalfdInfoSize
	if count == 0 {
		return 0, unix.EINVAL
	}
	s.t.k.mu.Lock()
	reader := s.readerLocked(cancel)
	s.t.k.mu.Unlock()
	n := 0
	for ; n < count; n++ {
		if !s.dequeue(reader, dst[n*signal.SignalfdInfoSize:]) {
			break
		}
	}
	if n > 0 {
		return n * signal.SignalfdInfoSize, nil
	}
	if nonblock {
		return 0, unix.EAGAIN
	}
	for {
		// Take the wake-up channel, then look again: a signal queued in
		// between is not lost.
		ch := s.arrival()
		if s.dequeue(reader, dst) {
			break
		}
		select {
		case <-ch:
		case <-cancel:
			return 0, unix.EINTR
		}
	}
	return signal.SignalfdInfoSize, nil
}

// Write fails: a signalfd has no write method.
func (s *signalFile) Write([]byte, bool, <-chan struct{}) (int, error) { return 0, unix.EINVAL }

// Poll is signalfd_poll: readable while a signal of the mask is pending
// for the polling thread or its process. It takes only ThreadGroup.sigMu
// (it runs under epoll's locks).
func (s *signalFile) Poll() uint32 {
	t := currentPoller(s.t)
	t.tg.sigMu.Lock()
	p := (t.pending | t.tg.pending) & s.getMask()
	t.tg.sigMu.Unlock()
	if p != 0 {
		return vfs.EventIn | vfs.EventRdNorm
	}
	return 0
}

// Queue is woken when a signal of the mask is queued (signalfd_notify).
func (s *signalFile) Queue() *vfs.WaitQueue { return &s.q }

// Stat is the anon_inode's (fs/anon_inodes.c): mode 0600 without a type.
func (s *signalFile) Stat() vfs.Stat {
	return vfs.Stat{Dev: unix.Mkdev(0, 0x0e), Ino: 1, Nlink: 1, Mode: 0o600, Blksize: 4096}
}

// Name is the /proc/self/fd link text.
func (s *signalFile) Name() string { return "anon_inode:[signalfd]" }

// Ioctl knows no command.
func (s *signalFile) Ioctl(uint32, uint64) (uint64, error) { return 0, unix.ENOTTY }

// Release forgets the signalfd when its last reference goes.
func (s *signalFile) Release() {
	sigWatchRemove(s.t.tg, s)
	sfdPollers.open.Add(-1)
}

// sfdPollers maps the host thread of each task inside poll, select,
// epoll_wait or epoll_ctl to that task while any signalfd exists, so that
// signalfd_poll sees the polling thread (Linux's current): vfs's Poll
// carries no caller, and a task's goroutine keeps its OS thread for life
// (task_worker.go locks it).
var sfdPollers struct {
	// open counts live signalfds; with none, nothing is recorded.
	open atomic.Int64
	m    sync.Map // host tid (int) -> *Task
}

// bindPoller records t as the task of its host thread until the returned
// function runs.
func (t *Task) bindPoller() (unbind func()) {
	if sfdPollers.open.Load() == 0 {
		return func() {}
	}
	tid := unix.Gettid()
	sfdPollers.m.Store(tid, t)
	return func() { sfdPollers.m.Delete(tid) }
}

// currentPoller returns the task bound to the calling host thread, or def.
func currentPoller(def *Task) *Task {
	if v, ok := sfdPollers.m.Load(unix.Gettid()); ok {
		return v.(*Task)
	}
	return def
}

// notify wakes the fd's waiters when sig, just queued, is in its mask.
func (s *signalFile) notify(sig int) {
	s.mu.Lock()
	in := s.mask.Has(sig)
	if in && s.arrived != nil {
		close(s.arrived)
		s.arrived = nil
	}
	s.mu.Unlock()
	if in {
		s.q.Notify(vfs.EventIn | vfs.EventRdNorm)
	}
}

// sigWatch records, per thread group, the signalfds its threads created
// and the rt_sigtimedwait callers waiting for one (Linux's
// sighand->signalfd_wqh and the real_blocked wake-up of complete_signal).
// Its lock is a leaf, taken under Kernel.mu; notifications run with it held
// and take only wait-queue locks.
var sigWatch struct {
	mu sync.Mutex
	m  map[*ThreadGroup]*sigWatchers
}

// sigWatchers is one thread group's entry of sigWatch.
type sigWatchers struct {
	files map[*signalFile]struct{}
	// waiters counts rt_sigtimedwait callers; arrived is closed at the next
	// signal queued while there are any.
	waiters int
	arrived chan struct{}
}

// sigWatchEntryLocked returns tg's entry, creating it. sigWatch.mu held.
func sigWatchEntryLocked(tg *ThreadGroup) *sigWatchers {
	if sigWatch.m == nil {
		sigWatch.m = map[*ThreadGroup]*sigWatchers{}
	}
	w := sigWatch.m[tg]
	if w == nil {
		w = &sigWatchers{files: map[*signalFile]struct{}{}}
		sigWatch.m[tg] = w
	}
	return w
}

// sigWatchDropLocked deletes tg's entry once nothing watches. sigWatch.mu held.
func sigWatchDropLocked(tg *ThreadGroup, w *sigWatchers) {
	if len(w.files) == 0 && w.waiters == 0 {
		delete(sigWatch.m, tg)
	}
}

// sigWatchAdd registers a new signalfd of tg.
func sigWatchAdd(tg *ThreadGroup, s *signalFile) {
	sigWatch.mu.Lock()
	sigWatchEntryLocked(tg).files[s] = struct{}{}
	sigWatch.mu.Unlock()
}

// sigWatchRemove unregisters a released signalfd.
func sigWatchRemove(tg *ThreadGroup, s *signalFile) {
	sigWatch.mu.Lock()
	defer sigWatch.mu.Unlock()
	if w := sigWatch.m[tg]; w != nil {
		delete(w.files, s)
		sigWatchDropLocked(tg, w)
	}
}

// sigArrival returns a channel closed at the next signal queued for tg or
// one of its threads; done must be called when the caller stops waiting.
func sigArrival(tg *ThreadGroup) (ch <-chan struct{}, done func()) {
	sigWatch.mu.Lock()
	defer sigWatch.mu.Unlock()
	w := sigWatchEntryLocked(tg)
	w.waiters++
	if w.arrived == nil {
		w.arrived = make(chan struct{})
	}
	return w.arrived, func() {
		sigWatch.mu.Lock()
		defer sigWatch.mu.Unlock()
		w.waiters--
		sigWatchDropLocked(tg, w)
	}
}

// notifySignalWatchers tells the signalfds and tg's rt_sigtimedwait
// callers that sig was queued (signalfd_notify). Every signalfd hears it,
// not only tg's: one inherited across fork or passed over a socket reads
// the signals of whoever reads it. Kernel.mu is held.
func notifySignalWatchers(tg *ThreadGroup, sig int) {
	sigWatch.mu.Lock()
	defer sigWatch.mu.Unlock()
	for _, w := range sigWatch.m {
		for s := range w.files {
			s.notify(sig)
		}
	}
	w := sigWatch.m[tg]
	if w == nil {
		return
	}
	if w.arrived != nil {
		close(w.arrived)
		w.arrived = nil
	}
}
