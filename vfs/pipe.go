package vfs

import (
	"sync"

	"golang.org/x/sys/unix"
)

// Pipe sizes (fs/pipe.c, include/uapi/linux/limits.h).
const (
	pipeCap = 64 << 10 // default pipe capacity: 16 pages
	pipeBuf = 4096     // PIPE_BUF: writes up to this size are atomic
)

// pipe is a pipe's shared buffer (struct pipe_inode_info). Blocked readers
// and writers wait on ch, which is closed and replaced at every state
// change, so a wait can also select on a cancellation channel; pollers
// (poll, select, epoll) register on q, which gets pipe_read/pipe_write's
// keyed wake-ups.
type pipe struct {
	mu      sync.Mutex
	buf     []byte
	readers int
	writers int
	rOpens  int // readers ever opened (fifo_open's r_counter)
	wOpens  int // writers ever opened (w_counter)
	ch      chan struct{}
	q       waitQueue
	ino     uint64
	created Stat
}

func newPipeState() *pipe {
	t := now()
	p := &pipe{ch: make(chan struct{}), ino: newIno()}
	p.created = Stat{Dev: pipefsDev, Ino: p.ino, Nlink: 1, Mode: unix.S_IFIFO | 0o600,
		Blksize: 4096, Atime: t, Mtime: t, Ctime: t}
	return p
}

// wakeLocked wakes every blocked reader and writer, and the pollers
// interested in events (none when events is 0). Call with p.mu held.
func (p *pipe) wakeLocked(events uint32) {
	close(p.ch)
	p.ch = make(chan struct{})
	if events != 0 {
		p.q.notify(events)
	}
}

// fullLocked reports whether a writer would have to wait (pipe_full; the
// buffer is byte-counted, so "full" means less than PIPE_BUF free).
func (p *pipe) fullLocked() bool { return pipeCap-len(p.buf) < pipeBuf }

// wait blocks until the state changes or cancel fires (then EINTR).
func wait(ch <-chan struct{}, cancel <-chan struct{}) error {
	select {
	case <-ch:
		return nil
	case <-cancel:
		return unix.EINTR
	}
}

// read is pipe_read: blocks while empty and writers remain; 0 at EOF.
func (p *pipe) read(dst []byte, nonblock bool, cancel <-chan struct{}) (int, error) {
	if len(dst) == 0 {
		return 0, nil
	}
	for {
		p.mu.Lock()
		if len(p.buf) > 0 {
			wasFull := p.fullLocked()
			n := copy(dst, p.buf)
			p.buf = p.buf[n:]
			if len(p.buf) == 0 {
				p.buf = nil
			}
			// pipe_read wakes pollers of the write end only when the
			// pipe was full.
			var ev uint32
			if wasFull {
				ev = EventOut | EventWrNorm
			}
			p.wakeLocked(ev)
			p.mu.Unlock()
			return n, nil
		}
		if p.writers == 0 {
			p.mu.Unlock()
			return 0, nil
		}
		if nonblock {
			p.mu.Unlock()
			return 0, unix.EAGAIN
		}
		ch := p.ch
		p.mu.Unlock()
		if err := wait(ch, cancel); err != nil {
			return 0, err
		}
	}
}

// write is pipe_write: EPIPE without readers (the caller raises SIGPIPE),
// writes of at most PIPE_BUF bytes are atomic, larger ones may be partial.
func (p *pipe) write(src []byte, nonblock bool, cancel <-chan struct{}) (int, error) {
	total := 0
	for {
		p.mu.Lock()
		if p.readers == 0 {
			p.mu.Unlock()
			if total > 0 {
				return total, nil
			}
			return 0, unix.EPIPE
		}
		space := pipeCap - len(p.buf)
		rem := len(src) - total
		if rem == 0 {
			p.mu.Unlock()
			return total, nil
		}
		if (len(src) <= pipeBuf && space >= rem) || (len(src) > pipeBuf && space > 0) {
			n := min(space, rem)
			p.buf = append(p.buf, src[total:total+n]...)
			total += n
			// pipe_write wakes readers' pollers at every write once the
			// pipe has been polled (epoll's edge-triggered users rely on it).
			p.wakeLocked(EventIn | EventRdNorm)
			p.mu.Unlock()
			if total == len(src) {
				return total, nil
			}
			continue
		}
		if nonblock {
			p.mu.Unlock()
			if total > 0 {
				return total, nil
			}
			return 0, unix.EAGAIN
		}
		ch := p.ch
		p.mu.Unlock()
		if err := wait(ch, cancel); err != nil {
			if total > 0 {
				return total, nil
			}
			return 0, err
		}
	}
}

// poll is pipe_poll for a file open for reading (r) and/or writing (w);
// wSeen is the writer count the file saw at open (f_pipe): a FIFO reader
// that has never seen a writer gets no POLLHUP.
func (p *pipe) poll(r, w bool, wSeen int) uint32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	var m uint32
	if r {
		if len(p.buf) > 0 {
			m |= EventIn | EventRdNorm
		}
		if p.writers == 0 && p.wOpens != wSeen {
			m |= EventHup
		}
	}
	if w {
		if !p.fullLocked() {
			m |= EventOut | EventWrNorm
		}
		if p.readers == 0 {
			m |= EventErr
		}
	}
	return m
}

// open adds a reader and/or writer.
func (p *pipe) open(r, w bool) {
	p.mu.Lock()
	if r {
		p.readers++
		p.rOpens++
	}
	if w {
		p.writers++
		p.wOpens++
	}
	p.wakeLocked(eventAll)
	p.mu.Unlock()
}

// release drops a reader and/or writer (pipe_release).
func (p *pipe) release(r, w bool) {
	p.mu.Lock()
	if r {
		p.readers--
	}
	if w {
		p.writers--
	}
	p.wakeLocked(eventAll)
	p.mu.Unlock()
}

// waitPeer blocks a FIFO open until the other side has opened
// (fifo_open's wait_for_partner).
func (p *pipe) waitPeer(forWriter bool, cancel <-chan struct{}) error {
	p.mu.Lock()
	start := p.wOpens
	if !forWriter {
		start = p.rOpens
	}
	for {
		cur, have := p.wOpens, p.writers
		if !forWriter {
			cur, have = p.rOpens, p.readers
		}
		if have > 0 || cur != start {
			p.mu.Unlock()
			return nil
		}
		ch := p.ch
		p.mu.Unlock()
		if err := wait(ch, cancel); err != nil {
			return err
		}
		p.mu.Lock()
	}
}

// NewPipe makes a pipe (pipe2(2)) and returns its read and write ends.
func NewPipe() (r, w *File) {
	p := newPipeState()
	p.open(true, true)
	r = newFile(nil, fkPipe, Path{}, nil, unix.O_RDONLY)
	r.pipe = p
	w = newFile(nil, fkPipe, Path{}, nil, unix.O_WRONLY)
	w.pipe = p
	return r, w
}
