package tty

import (
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"kvsentry/vfs"
)

// End is either end of a pair, as the sentry sees it through File.Impl().
type End interface {
	vfs.FileImpl
	// PTY is the pair the end belongs to.
	PTY() *PTY
	// IsMaster tells the master (ptmx) end from a replica (/dev/pts/N).
	IsMaster() bool
}

// Master is the master end of a pair (ptm_unix98_ops).
type Master struct {
	p        *PTY
	released sync.Once
}

// PTY implements End.
func (m *Master) PTY() *PTY { return m.p }

// IsMaster implements End.
func (m *Master) IsMaster() bool { return true }

// Read takes the replica's processed output; EIO once every replica file
// opened so far has closed (TTY_OTHER_CLOSED).
func (m *Master) Read(dst []byte, nonblock bool, cancel <-chan struct{}) (int, error) {
	p := m.p
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		if len(p.out) > 0 {
			n := copy(dst, p.out)
			p.out = p.out[n:]
			p.wakeLocked()
			return n, nil
		}
		if len(dst) == 0 {
			return 0, nil
		}
		if p.replicaOpened && p.replicas == 0 {
			return 0, unix.EIO
		}
		if nonblock {
			return 0, unix.EAGAIN
		}
		if _, err := p.wait(cancel, -1); err != nil {
			return 0, err
		}
	}
}

// Write feeds keyboard input through the line discipline; it waits while
// the input buffer is full.
func (m *Master) Write(src []byte, nonblock bool, cancel <-chan struct{}) (int, error) {
	p := m.p
	p.mu.Lock()
	done := 0
	var err error
	for done < len(src) {
		if p.inputBlocked() {
			if done > 0 {
				break
			}
			if nonblock {
				err = unix.EAGAIN
				break
			}
			if _, err = p.wait(cancel, -1); err != nil {
				break
			}
			continue
		}
		var sigs []unix.Signal
		for done < len(src) && !p.inputBlocked() {
			p.receive(src[done], &sigs)
			done++
			if len(sigs) > 0 {
				break
			}
		}
		p.wakeLocked()
		if len(sigs) > 0 {
			pgrp := p.pgrp
			p.mu.Unlock()
			p.signal(pgrp, sigs)
			p.mu.Lock()
		}
	}
	p.mu.Unlock()
	if done > 0 {
		return done, nil
	}
	return 0, err
}

// Poll is n_tty_poll for the master: readable with output queued, HUP
// once the replicas closed, writable while input has room.
func (m *Master) Poll() uint32 {
	p := m.p
	p.mu.Lock()
	defer p.mu.Unlock()
	var ev uint32
	if len(p.out) > 0 {
		ev |= vfs.EventIn
	}
	if p.replicaOpened && p.replicas == 0 {
		ev |= vfs.EventHup
	}
	if !p.inputBlocked() {
		ev |= vfs.EventOut
	}
	return ev
}

// Queue implements vfs.FileImpl.
func (m *Master) Queue() *vfs.WaitQueue { return &m.p.mq }

// Stat implements vfs.FileImpl.
func (m *Master) Stat() vfs.Stat { return ptyStat(unix.Mkdev(5, 2), m.p.masterStat) }

// Name implements vfs.FileImpl.
func (m *Master) Name() string { return "/dev/ptmx" }

// Ioctl handles FIONREAD; the sentry handles the terminal ioctls.
func (m *Master) Ioctl(cmd uint32, arg uint64) (uint64, error) {
	if cmd == vfs.FIONREAD {
		return uint64(m.p.OutputQueued()), nil
	}
	return 0, unix.ENOTTY
}

// Release closes the master: the replica hangs up (pty_close, tty_vhangup),
// its session hears SIGHUP.
func (m *Master) Release() {
	m.released.Do(func() {
		p := m.p
		p.mu.Lock()
		p.masterOpen = false
		sid := p.session
		p.session, p.pgrp = 0, 0
		p.wakeLocked()
		p.mu.Unlock()
		if sid > 0 && p.sig != nil {
			p.sig.HangUp(sid)
		}
		if p.onClose != nil {
			p.onClose()
		}
	})
}

// Replica is one open file of a pair's replica end (pty_unix98_ops).
type Replica struct {
	p        *PTY
	stat     func() vfs.Stat
	released sync.Once
}

// PTY implements End.
func (r *Replica) PTY() *PTY { return r.p }

// IsMaster implements End.
func (r *Replica) IsMaster() bool { return false }

// Read is n_tty_read: a canonical read returns at most one line (an empty
// one at VEOF); a non-canonical one follows VMIN and VTIME. After a hang-up
// it reads end of file.
func (r *Replica) Read(dst []byte, nonblock bool, cancel <-chan struct{}) (int, error) {
	p := r.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(dst) == 0 {
		return 0, nil
	}
	if p.termios.lflag(unix.ICANON) {
		for {
			if !p.masterOpen {
				return 0, nil
			}
			if len(p.lines) > 0 {
				l := p.lines[0]
				n := copy(dst, l)
				if n < len(l) {
					p.lines[0] = l[n:]
				} else {
					p.lines = p.lines[1:]
				}
				p.wakeLocked()
				return n, nil
			}
			if nonblock {
				return 0, unix.EAGAIN
			}
			if _, err := p.wait(cancel, -1); err != nil {
				return 0, err
			}
			if !p.termios.lflag(unix.ICANON) {
				return r.readRaw(dst, nonblock, cancel)
			}
		}
	}
	return r.readRaw(dst, nonblock, cancel)
}

// readRaw is the non-canonical read: with VMIN > 0 it waits for VMIN bytes,
// VTIME then being an inter-byte timer; with VMIN 0, VTIME is how long to
// wait for any byte (0: do not wait). p.mu held.
func (r *Replica) readRaw(dst []byte, nonblock bool, cancel <-chan struct{}) (int, error) {
	p := r.p
	vmin := int(p.termios.CC[unix.VMIN])
	vtime := time.Duration(p.termios.CC[unix.VTIME]) * 100 * time.Millisecond
	minimum, timeout, interByte := vmin, time.Duration(-1), false
	if vmin == 0 {
		minimum, timeout = 1, vtime
	} else if vtime > 0 {
		interByte = true
	}
	minimum = min(minimum, len(dst))
	got := 0
	for {
		if !p.masterOpen {
			return got, nil
		}
		if len(p.raw) > 0 {
			n := copy(dst[got:], p.raw)
			p.raw = p.raw[n:]
			got += n
			p.wakeLocked()
			if got >= minimum {
				return got, nil
			}
			if interByte {
				timeout = vtime
			}
			continue
		}
		if timeout == 0 {
			return got, nil
		}
		if nonblock {
			if got > 0 {
				return got, nil
			}
			return 0, unix.EAGAIN
		}
		timedOut, err := p.wait(cancel, timeout)
		if err != nil {
			if got > 0 {
				return got, nil
			}
			return 0, err
		}
		if timedOut {
			return got, nil
		}
		if p.termios.lflag(unix.ICANON) && got == 0 {
			return r.Read(dst, nonblock, cancel)
		}
	}
}

// Write runs the output through OPOST processing to the master; EIO after
// a hang-up. It waits while the master's queue is full or output is
// stopped (VSTOP).
func (r *Replica) Write(src []byte, nonblock bool, cancel <-chan struct{}) (int, error) {
	p := r.p
	p.mu.Lock()
	defer p.mu.Unlock()
	done := 0
	for done < len(src) {
		if !p.masterOpen {
			if done > 0 {
				return done, nil
			}
			return 0, unix.EIO
		}
		if p.stopped || len(p.out) >= maxOutput {
			if done > 0 {
				return done, nil
			}
			if nonblock {
				return 0, unix.EAGAIN
			}
			if _, err := p.wait(cancel, -1); err != nil {
				return 0, err
			}
			continue
		}
		for done < len(src) && len(p.out) < maxOutput {
			p.output(src[done])
			done++
		}
		p.wakeLocked()
	}
	return done, nil
}

// Poll is n_tty_poll for the replica.
func (r *Replica) Poll() uint32 {
	p := r.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.masterOpen {
		return vfs.EventIn | vfs.EventOut | vfs.EventErr | vfs.EventHup
	}
	var ev uint32
	avail := p.inputAvail()
	need := 1
	if !p.termios.lflag(unix.ICANON) && p.termios.CC[unix.VTIME] == 0 && p.termios.CC[unix.VMIN] > 0 {
		need = int(p.termios.CC[unix.VMIN])
	}
	if p.termios.lflag(unix.ICANON) && len(p.lines) > 0 || avail >= need {
		ev |= vfs.EventIn
	}
	if !p.stopped && len(p.out) < maxOutput {
		ev |= vfs.EventOut
	}
	return ev
}

// Queue implements vfs.FileImpl.
func (r *Replica) Queue() *vfs.WaitQueue { return &r.p.rq }

// Stat implements vfs.FileImpl.
func (r *Replica) Stat() vfs.Stat { return ptyStat(unix.Mkdev(136, uint32(r.p.index)), r.stat) }

// Name implements vfs.FileImpl.
func (r *Replica) Name() string { return r.p.replicaName() }

// Ioctl handles FIONREAD; the sentry handles the terminal ioctls.
func (r *Replica) Ioctl(cmd uint32, arg uint64) (uint64, error) {
	if cmd == vfs.FIONREAD {
		return uint64(r.p.InputQueued()), nil
	}
	return 0, unix.ENOTTY
}

// Release closes this replica file; the master reads EIO once none is open.
func (r *Replica) Release() {
	r.released.Do(func() {
		p := r.p
		p.mu.Lock()
		p.replicas--
		p.wakeLocked()
		p.mu.Unlock()
	})
}
