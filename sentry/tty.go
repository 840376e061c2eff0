package sentry

import (
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"

	"kvsentry/kernel/signal"
	"kvsentry/vfs"
	"kvsentry/vfs/tty"
)

// ttyTable holds the sandbox's pseudo-terminals by /dev/pts index and the
// console. A session's controlling terminal is the pair whose session is
// the session's id (tty->ctrl.session); forks inherit it through their
// sid and setsid leaves it behind, as signal->tty does.
//
// Lock order: Kernel.mu -> ttyTable.mu -> tty.PTY's lock.
type ttyTable struct {
	mu      sync.Mutex
	ptys    map[int]*tty.PTY
	console *tty.PTY
}

// ttyDriver implements vfs.Terminals for the kernel.
type ttyDriver struct{ k *Kernel }

// ttySignaler implements tty.Signaler for the kernel.
type ttySignaler struct{ k *Kernel }

// setupTerminals installs the terminal driver in the kernel's VFS.
func (k *Kernel) setupTerminals() {
	k.ttys.ptys = map[int]*tty.PTY{}
	k.vfs.SetTerminals(ttyDriver{k})
}

// newConsole makes the pair behind /dev/console and /dev/pts/0 for a run
// with a terminal (-t); the caller drives its master end.
func (k *Kernel) newConsole() (*tty.PTY, error) {
	index, remove, err := k.vfs.AddPTSNode(0)
	if err != nil {
		return nil, err
	}
	p := k.addPTY(tty.Options{Index: index, OnClose: remove})
	k.ttys.mu.Lock()
	k.ttys.console = p
	k.ttys.mu.Unlock()
	return p, nil
}

// addPTY makes a pair and registers it by index until its master closes.
func (k *Kernel) addPTY(o tty.Options) *tty.PTY {
	o.Signaler = ttySignaler{k}
	onClose := o.OnClose
	var p *tty.PTY
	o.OnClose = func() {
		k.ttys.mu.Lock()
		if k.ttys.ptys[p.Index()] == p {
			delete(k.ttys.ptys, p.Index())
		}
		k.ttys.mu.Unlock()
		if onClose != nil {
			onClose()
		}
	}
	p = tty.New(o)
	k.ttys.mu.Lock()
	k.ttys.ptys[o.Index] = p
	k.ttys.mu.Unlock()
	return p
}

// NewPTY implements vfs.Terminals (ptmx_open): the pair starts locked.
func (d ttyDriver) NewPTY(c *vfs.Ctx, index, flags int, stat func() vfs.Stat, onClose func()) (vfs.FileImpl, error) {
	p := d.k.addPTY(tty.Options{Index: index, Locked: true, MasterStat: stat, OnClose: onClose})
	return p.Master(), nil
}

// OpenPTS implements vfs.Terminals.
func (d ttyDriver) OpenPTS(c *vfs.Ctx, index, flags int, stat func() vfs.Stat) (vfs.FileImpl, error) {
	k := d.k
	k.ttys.mu.Lock()
	p := k.ttys.ptys[index]
	k.ttys.mu.Unlock()
	if p == nil {
		return nil, unix.EIO
	}
	r, err := p.OpenReplica(stat)
	if err != nil {
		return nil, err
	}
	if flags&unix.O_NOCTTY == 0 {
		k.openSetCTTY(int32(c.PID), p)
	}
	return r, nil
}

// OpenTTY implements vfs.Terminals: /dev/tty is the caller's controlling
// terminal.
func (d ttyDriver) OpenTTY(c *vfs.Ctx, flags int, stat func() vfs.Stat) (vfs.FileImpl, error) {
	k := d.k
	k.mu.Lock()
	var p *tty.PTY
	if tg := k.tgs[int32(c.PID)]; tg != nil {
		p = k.cttyLocked(tg)
	}
	k.mu.Unlock()
	if p == nil {
		return nil, unix.ENXIO
	}
	return p.OpenReplica(stat)
}

// OpenConsole implements vfs.Terminals; /dev/console never becomes a
// controlling terminal by being opened (tty_open's noctty).
func (d ttyDriver) OpenConsole(c *vfs.Ctx, flags int, stat func() vfs.Stat) (vfs.FileImpl, error) {
	d.k.ttys.mu.Lock()
	p := d.k.ttys.console
	d.k.ttys.mu.Unlock()
	if p == nil {
		return nil, unix.ENXIO
	}
	return p.OpenReplica(stat)
}

// openSetCTTY makes p the controlling terminal of process pid when it is a
// session leader without one and p has no session (tty_open_proc_set_tty).
func (k *Kernel) openSetCTTY(pid int32, p *tty.PTY) {
	k.mu.Lock()
	defer k.mu.Unlock()
	tg := k.tgs[pid]
	if tg == nil || tg.sid != tg.pid || k.cttyLocked(tg) != nil {
		return
	}
	if sid, _ := p.Session(); sid != 0 && k.sessionAliveLocked(sid) {
		return
	}
	p.SetSession(tg.sid, tg.pgid)
}

// cttyLocked returns tg's controlling terminal, nil if none. A terminal
// whose session leader is gone has lost its session (disassociate_ctty).
// Kernel.mu must be held.
func (k *Kernel) cttyLocked(tg *ThreadGroup) *tty.PTY {
	k.ttys.mu.Lock()
	defer k.ttys.mu.Unlock()
	for _, p := range k.ttys.ptys {
		sid, _ := p.Session()
		if sid == 0 || sid != tg.sid {
			continue
		}
		if !k.sessionAliveLocked(sid) {
			p.SetSession(0, 0)
			continue
		}
		return p
	}
	return nil
}

// sessionAliveLocked reports whether the leader of session sid is alive.
// Kernel.mu must be held.
func (k *Kernel) sessionAliveLocked(sid int32) bool {
	l := k.tgs[sid]
	return l != nil && l.sid == sid && !l.zombie && !l.exiting
}

// SignalGroup implements tty.Signaler (kill_pgrp with a kernel sender).
func (s ttySignaler) SignalGroup(pgid int32, sig unix.Signal) {
	k := s.k
	k.mu.Lock()
	defer k.mu.Unlock()
	k.signalPgrpLocked(pgid, sig)
}

// HangUp implements tty.Signaler: SIGHUP and SIGCONT to the session leader
// (tty_signal_session_leader).
func (s ttySignaler) HangUp(sid int32) {
	k := s.k
	k.mu.Lock()
	defer k.mu.Unlock()
	if l := k.tgs[sid]; l != nil && !l.zombie {
		for _, sig := range []unix.Signal{unix.SIGHUP, unix.SIGCONT} {
			k.sendSignalLocked(l, signal.Info{Signo: int32(sig), Code: signal.SIKernel})
		}
	}
}

// signalPgrpLocked sends sig to every live process of pgid. Kernel.mu held.
func (k *Kernel) signalPgrpLocked(pgid int32, sig unix.Signal) {
	for _, tg := range k.tgs {
		if tg.pgid == pgid && !tg.zombie {
			k.sendSignalLocked(tg, signal.Info{Signo: int32(sig), Code: signal.SIKernel})
		}
	}
}

// pgrpOrphanedLocked reports whether no member of pgid has a parent in
// another group of the same session (is_current_pgrp_orphaned; the
// sandbox's init counts, as a container's init does). Kernel.mu held.
func (k *Kernel) pgrpOrphanedLocked(pgid int32) bool {
	for _, m := range k.tgs {
		if m.pgid != pgid || m.zombie || m.parent == nil {
			continue
		}
		if m.parent.pgid != pgid && m.parent.sid == m.sid {
			return false
		}
	}
	return true
}

// hostStdio is what of the host's stdio init gets as fds 0, 1, 2: nothing
// with a terminal, no stdin unless interactive.
func hostStdio(cfg Config) []*os.File {
	if cfg.TTY {
		return []*os.File{nil, nil, nil}
	}
	if !cfg.Interactive {
		return []*os.File{nil, cfg.Stdout, cfg.Stderr}
	}
	return []*os.File{cfg.Stdin, cfg.Stdout, cfg.Stderr}
}

// initStdio gives init what hostStdio left out: with TTY the console's
// replica as fds 0, 1 and 2 (and as its controlling terminal), else
// /dev/null as stdin when not interactive.
func (k *Kernel) initStdio(t *Task, cfg Config) error {
	if !cfg.TTY {
		if cfg.Interactive {
			return nil
		}
		f, err := k.vfs.Open(t.vctx(), vfs.Path{}, "/dev/null", unix.O_RDONLY, 0)
		if err != nil {
			return fmt.Errorf("stdin /dev/null: %w", err)
		}
		defer f.DecRef()
		return t.fds.Set(0, f, false)
	}
	if cfg.OnConsole == nil {
		return fmt.Errorf("a terminal needs a console driver")
	}
	p, err := k.newConsole()
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	f, err := k.vfs.Open(t.vctx(), vfs.Path{}, "/dev/pts/"+itoa(int64(p.Index())), unix.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	defer f.DecRef()
	for fd := int32(0); fd < 3; fd++ {
		if err := t.fds.Set(fd, f, false); err != nil {
			return err
		}
	}
	p.SetSession(t.tg.sid, t.tg.pgid)
	cfg.OnConsole(p)
	return nil
}
