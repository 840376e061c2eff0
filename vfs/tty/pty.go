package tty

import (
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"kvsentry/vfs"
)

// Signaler is how a terminal reaches processes; the sentry implements it.
type Signaler interface {
	// SignalGroup sends sig to every process of process group pgid
	// (kill_pgrp): the line discipline's VINTR/VQUIT/VSUSP, SIGWINCH.
	SignalGroup(pgid int32, sig unix.Signal)
	// HangUp tells session sid that its controlling terminal hung up
	// (tty_signal_session_leader): SIGHUP and SIGCONT to its leader, and
	// the session loses its controlling terminal.
	HangUp(sid int32)
}

// PTY is a pseudo-terminal pair (drivers/tty/pty.c): the master end is
// the program driving the terminal (the host pump, script, tmux), the
// replica (/dev/pts/N) the terminal the guest's programs use. Termios,
// window size, session and foreground group are the replica's; master
// ioctls reach them too (tty_mode_ioctl's real_tty).
type PTY struct {
	index int
	sig   Signaler

	mu      sync.Mutex
	termios Termios
	size    Winsize
	// Input, master to replica: completed canonical lines, the line being
	// edited, and the non-canonical queue; lnext is a pending VLNEXT.
	lines [][]byte
	line  []byte
	raw   []byte
	lnext bool
	// Output, replica to master, and the output column (for erase);
	// lineCol is the column where the edited line began.
	out     []byte
	col     int
	lineCol int
	// stopped is set by VSTOP (IXON): replica writes wait.
	stopped bool
	// locked is TIOCSPTLCK: the replica cannot be opened.
	locked bool
	// session and pgrp are the controlling session and the foreground
	// process group (tty->ctrl.session, tty->ctrl.pgrp); 0 for none.
	session, pgrp int32
	// replicas counts open replica files; replicaOpened is set at the
	// first open (before it the master's reads wait rather than fail).
	replicas      int
	replicaOpened bool
	// masterOpen is false once the master is closed: the replica hung up.
	masterOpen bool
	// changed is closed and replaced at every state change (blocking waits).
	changed chan struct{}
	mq, rq  vfs.WaitQueue
	// masterStat describes the master's file; onClose runs when the
	// master is released (devpts removes /dev/pts/N).
	masterStat func() vfs.Stat
	onClose    func()
	master     *Master
}

// Options configure a new PTY.
type Options struct {
	// Index is N of /dev/pts/N.
	Index int
	// Signaler sends the terminal's signals (nil: none are sent).
	Signaler Signaler
	// Locked starts the pair locked, as a /dev/ptmx open does (unlockpt).
	Locked bool
	// MasterStat describes the master's file for fstat (nil: a bare 5:2
	// character device).
	MasterStat func() vfs.Stat
	// OnClose runs once the master end is released.
	OnClose func()
}

// New makes a pseudo-terminal pair with the default termios and a zero
// window size (ptmx_open, pty_common_install).
func New(o Options) *PTY {
	p := &PTY{index: o.Index, sig: o.Signaler, termios: DefaultTermios(), locked: o.Locked,
		masterOpen: true, changed: make(chan struct{}), masterStat: o.MasterStat, onClose: o.OnClose}
	p.master = &Master{p: p}
	return p
}

// Index is N of /dev/pts/N.
func (p *PTY) Index() int { return p.index }

// Master returns the master end (one per pair).
func (p *PTY) Master() *Master { return p.master }

// OpenReplica opens the replica end (pts_unix98_lookup, pty_open): EIO
// while the pair is locked or after the master closed. stat describes the
// opened node for fstat (nil: a bare 136:N device).
func (p *PTY) OpenReplica(stat func() vfs.Stat) (*Replica, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.locked || !p.masterOpen {
		return nil, unix.EIO
	}
	p.replicas++
	p.replicaOpened = true
	p.wakeLocked()
	return &Replica{p: p, stat: stat}, nil
}

// wakeLocked wakes blocking waits and pollers of both ends. p.mu held.
func (p *PTY) wakeLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
	// WaitQueue.Notify takes only the queue's own lock.
	p.mq.Notify(vfs.EventIn | vfs.EventOut | vfs.EventHup)
	p.rq.Notify(vfs.EventIn | vfs.EventOut | vfs.EventHup)
}

// wait blocks until the state changes, cancel closes (EINTR) or timeout
// passes (timeout < 0: none); it reports whether the timeout passed. p.mu
// is held on entry and on return.
func (p *PTY) wait(cancel <-chan struct{}, timeout time.Duration) (bool, error) {
	ch := p.changed
	p.mu.Unlock()
	defer p.mu.Lock()
	var tc <-chan time.Time
	if timeout >= 0 {
		tm := time.NewTimer(timeout)
		defer tm.Stop()
		tc = tm.C
	}
	select {
	case <-ch:
		return false, nil
	case <-cancel:
		return false, unix.EINTR
	case <-tc:
		return true, nil
	}
}

// Termios returns the terminal's settings (TCGETS).
func (p *PTY) Termios() Termios {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.termios
}

// SetTermios changes the settings (TCSETS, TCSETSW, TCSETSF; set_termios):
// flush discards unread input first. Switching canonical mode moves the
// pending input as n_tty_set_termios does.
func (p *PTY) SetTermios(t Termios, flush bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if flush {
		p.flushInput()
	}
	wasCanon := p.termios.lflag(unix.ICANON)
	p.termios = t
	switch canon := t.lflag(unix.ICANON); {
	case wasCanon && !canon:
		for _, l := range p.lines {
			p.raw = append(p.raw, l...)
		}
		p.raw = append(p.raw, p.line...)
		p.lines, p.line = nil, nil
	case !wasCanon && canon && len(p.raw) > 0:
		p.lines = append(p.lines, p.raw)
		p.raw = nil
	}
	if !t.iflag(unix.IXON) {
		p.stopped = false
	}
	p.wakeLocked()
}

// Winsize returns the window size (TIOCGWINSZ).
func (p *PTY) Winsize() Winsize {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.size
}

// SetWinsize sets the window size (TIOCSWINSZ; tty_do_resize): a change
// sends SIGWINCH to the foreground process group.
func (p *PTY) SetWinsize(w Winsize) {
	p.mu.Lock()
	if p.size == w {
		p.mu.Unlock()
		return
	}
	p.size = w
	pgrp := p.pgrp
	p.mu.Unlock()
	if pgrp > 0 && p.sig != nil {
		p.sig.SignalGroup(pgrp, unix.SIGWINCH)
	}
}

// Session returns the controlling session and foreground process group
// (0 when none).
func (p *PTY) Session() (sid, pgrp int32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.session, p.pgrp
}

// SetSession makes the terminal the controlling terminal of sid with
// foreground group pgrp (TIOCSCTTY, or sid 0 and pgrp 0: TIOCNOTTY and
// disassociation).
func (p *PTY) SetSession(sid, pgrp int32) {
	p.mu.Lock()
	p.session, p.pgrp = sid, pgrp
	p.mu.Unlock()
}

// SetPgrp sets the foreground process group (TIOCSPGRP).
func (p *PTY) SetPgrp(pgrp int32) {
	p.mu.Lock()
	p.pgrp = pgrp
	p.mu.Unlock()
}

// Locked reports TIOCGPTLCK.
func (p *PTY) Locked() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.locked
}

// SetLocked sets TIOCSPTLCK (unlockpt clears it).
func (p *PTY) SetLocked(l bool) {
	p.mu.Lock()
	p.locked = l
	p.mu.Unlock()
}

// HungUp reports whether the master has closed (the replica hung up).
func (p *PTY) HungUp() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.masterOpen
}

// Flush discards queued data (TCFLSH): TCIFLUSH the replica's unread
// input, TCOFLUSH the output the master has not read, TCIOFLUSH both.
// From the master side the queues swap roles (pty_flush_buffer).
func (p *PTY) Flush(queue int, master bool) error {
	if queue < unix.TCIFLUSH || queue > unix.TCIOFLUSH {
		return unix.EINVAL
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	in := queue == unix.TCIFLUSH || queue == unix.TCIOFLUSH
	out := queue == unix.TCOFLUSH || queue == unix.TCIOFLUSH
	if master {
		in, out = out, in
	}
	if in {
		p.flushInput()
	}
	if out {
		p.out = p.out[:0]
	}
	p.wakeLocked()
	return nil
}

// SetStopped stops or restarts output (TCXONC TCOOFF/TCOON).
func (p *PTY) SetStopped(s bool) {
	p.mu.Lock()
	p.stopped = s
	p.wakeLocked()
	p.mu.Unlock()
}

// InputQueued is the replica's unread input (TIOCINQ/FIONREAD on it).
func (p *PTY) InputQueued() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.inputAvail()
}

// OutputQueued is the output the master has not read (FIONREAD on the
// master, TIOCOUTQ on the replica).
func (p *PTY) OutputQueued() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.out)
}

// signal sends sigs to the foreground group, outside p.mu.
func (p *PTY) signal(pgrp int32, sigs []unix.Signal) {
	if p.sig == nil || pgrp <= 0 {
		return
	}
	for _, s := range sigs {
		p.sig.SignalGroup(pgrp, s)
	}
}

// ptyStat is the fstat of an end without a node (a sandbox console).
func ptyStat(rdev uint64, f func() vfs.Stat) vfs.Stat {
	if f != nil {
		return f()
	}
	return vfs.Stat{Mode: unix.S_IFCHR | 0o620, Rdev: rdev, Nlink: 1}
}

// replicaName is /dev/pts/N.
func (p *PTY) replicaName() string { return "/dev/pts/" + strconv.Itoa(p.index) }
