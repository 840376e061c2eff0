package vfs

import "golang.org/x/sys/unix"

// FileImpl is an open file whose behaviour lives outside vfs's built-in
// kinds: sockets, signalfd, inotify, terminals. vfs keeps the generic parts
// (reference counting, flags, epoll bookkeeping) and calls the
// implementation for the rest; the sentry reaches kind-specific operations
// (sendmsg, ...) by asserting File.Impl() to its own interface.
type FileImpl interface {
	// Read reads into dst; cancel closes when the caller is interrupted
	// (a blocking read then returns EINTR). nonblock is O_NONBLOCK.
	Read(dst []byte, nonblock bool, cancel <-chan struct{}) (int, error)
	// Write writes src, with Read's conventions.
	Write(src []byte, nonblock bool, cancel <-chan struct{}) (int, error)
	// Poll returns the current readiness events (Event* bits).
	Poll() uint32
	// Queue is the wait queue notified at readiness changes (nil: the file
	// is always ready).
	Queue() *WaitQueue
	// Stat describes the file for fstat.
	Stat() Stat
	// Name is the /proc/self/fd link text ("socket:[N]", ...).
	Name() string
	// Ioctl handles ioctl(2) commands (ENOTTY for unknown ones).
	Ioctl(cmd uint32, arg uint64) (uint64, error)
	// Release runs when the last reference to the file goes.
	Release()
}

// WaitQueue is a readiness wait queue for FileImpl implementations
// (wait_queue_head_t); the zero value is ready to use.
type WaitQueue struct{ q waitQueue }

// Notify wakes the waiters interested in events (poll/epoll/blocking waits).
func (w *WaitQueue) Notify(events uint32) { w.q.notify(events) }

// NewImplFile returns a File backed by impl, with open flags flags
// (O_RDWR, O_NONBLOCK ...) and one reference.
func NewImplFile(impl FileImpl, flags int) *File {
	f := newFile(nil, fkImpl, Path{}, nil, flags)
	f.impl = impl
	return f
}

// Impl returns the implementation of a File made by NewImplFile, else nil.
func (f *File) Impl() FileImpl { return f.impl }

// implStatDefaults fills what an implementation leaves zero.
func implStat(f *File) Stat {
	st := f.impl.Stat()
	if st.Blksize == 0 {
		st.Blksize = 4096
	}
	if st.Nlink == 0 {
		st.Nlink = 1
	}
	return st
}

// errImplSeek is what seeking or positional I/O on an implementation file
// gives (no_llseek: ESPIPE).
var errImplSeek = unix.ESPIPE
