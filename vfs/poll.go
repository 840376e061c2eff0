package vfs

import "golang.org/x/sys/unix"

// Poll returns the file's current readiness events (vfs_poll): pipe_poll's
// rules for pipes and FIFOs, the host's poll(2) answer for host files, the
// eventfd/timerfd/epoll rules for those, and DEFAULT_POLLMASK for files
// without a poll method (regular files, directories, devices). O_PATH
// files report POLLNVAL, as poll(2) sees them (fdget refuses them).
func (f *File) Poll() uint32 {
	switch f.kind {
	case fkPath:
		return EventNval
	case fkPipe:
		return f.pipe.poll(f.readable(), f.writable(), f.pipeWSeen)
	case fkHost:
		return f.hw.poll()
	case fkEventFD:
		return f.efd.poll()
	case fkTimerFD:
		return f.tfd.poll()
	case fkEpoll:
		return f.ep.poll(0)
	case fkImpl:
		return f.impl.Poll()
	}
	return defaultPollMask
}

// queue returns the wait queue that carries the file's readiness changes,
// or nil for files that are always ready.
func (f *File) queue() *waitQueue {
	switch f.kind {
	case fkPipe:
		return &f.pipe.q
	case fkHost:
		return f.hw.queue()
	case fkEventFD:
		return &f.efd.q
	case fkTimerFD:
		return &f.tfd.q
	case fkEpoll:
		return &f.ep.q
	case fkImpl:
		if wq := f.impl.Queue(); wq != nil {
			return &wq.q
		}
	}
	return nil
}

// EventRegister adds w to the file's wait queue (poll_wait); files that are
// always ready never notify, so registering on them is a no-op.
func (f *File) EventRegister(w *Waiter) {
	if q := f.queue(); q != nil {
		q.add(w)
	}
}

// EventUnregister removes w from the file's wait queue.
func (f *File) EventUnregister(w *Waiter) {
	if q := f.queue(); q != nil {
		q.remove(w)
	}
}

// Pollable reports whether epoll can watch the file (file_can_poll): pipes,
// eventfd, timerfd, epoll and host files the host can poll; regular files,
// directories and devices without a poll method cannot (EPERM).
func (f *File) Pollable() bool {
	switch f.kind {
	case fkPipe, fkEventFD, fkTimerFD, fkEpoll:
		return true
	case fkHost:
		return f.hw.queue() != nil
	case fkImpl:
		return f.impl.Queue() != nil
	}
	return false
}

// IsEpoll reports whether the file is an epoll instance (is_file_epoll).
func (f *File) IsEpoll() bool { return f.kind == fkEpoll }

// Readiness reports whether a read or a write would not block.
func (f *File) Readiness() (readable, writable bool) {
	m := f.Poll()
	return m&(EventIn|EventHup|EventErr) != 0 && f.readable(), m&(EventOut|EventErr) != 0 && f.writable()
}

// anonInodeStat is what fstat(2) reports for eventfd, timerfd and epoll
// files: they share anon_inodefs's single inode, mode 0600 without a file
// type (fs/anon_inodes.c).
var anonInodeStat = Stat{Dev: unix.Mkdev(0, 0x0e), Ino: 1, Nlink: 1, Mode: 0o600, Blksize: 4096}

// anonFile makes a File of an anonymous-inode kind, open for reading and
// writing, with O_NONBLOCK when nonblock is set (anon_inode_getfile).
func anonFile(kind fileKind, nonblock bool) *File {
	flags := unix.O_RDWR
	if nonblock {
		flags |= unix.O_NONBLOCK
	}
	return newFile(nil, kind, Path{}, nil, flags)
}
