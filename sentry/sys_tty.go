package sentry

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"kvsentry/kernel/signal"
	"kvsentry/vfs"
	"kvsentry/vfs/tty"
)

// Terminal ioctl numbers (include/uapi/asm-generic/ioctls.h).
const (
	tcgets      = 0x5401
	tcsets      = 0x5402
	tcsetsw     = 0x5403
	tcsetsf     = 0x5404
	tcsbrk      = 0x5409
	tcxonc      = 0x540a
	tcflsh      = 0x540b
	tiocexcl    = 0x540c
	tiocnxcl    = 0x540d
	tiocsctty   = 0x540e
	tiocgpgrp   = 0x540f
	tiocspgrp   = 0x5410
	tiocoutq    = 0x5411
	tiocsti     = 0x5412
	tiocgwinsz  = 0x5413
	tiocswinsz  = 0x5414
	tiocnotty   = 0x5422
	tiocsetd    = 0x5423
	tiocgetd    = 0x5424
	tcsbrkp     = 0x5425
	tiocsbrk    = 0x5427
	tioccbrk    = 0x5428
	tiocgsid    = 0x5429
	tcgets2     = 0x802c542a
	tcsets2     = 0x402c542b
	tcsetsw2    = 0x402c542c
	tcsetsf2    = 0x402c542d
	tiocgptn    = 0x80045430
	tiocsptlck  = 0x40045431
	tiocgdev    = 0x80045432
	tiocgptlck  = 0x80045439
	tiocgexcl   = 0x80045440
	tiocgptpeer = 0x5441
)

// termios2Size is struct termios2: termios and the two speeds.
const termios2Size = tty.TermiosSize + 8

// ttyIoctl carries out ioctl(2) on either end of a pseudo-terminal
// (tty_ioctl, tty_mode_ioctl, pty_unix98_ioctl): master and replica both
// reach the replica's settings, session and foreground group.
func (t *Task) ttyIoctl(f *vfs.File, e tty.End, cmd uint32, arg uint64) (uint64, error) {
	p, master := e.PTY(), e.IsMaster()
	if !master && p.HungUp() {
		// hung_up_tty_ioctl.
		if cmd == tiocspgrp {
			return 0, unix.ENOTTY
		}
		return 0, unix.EIO
	}
	switch cmd {
	case tcgets:
		tm := p.Termios()
		return 0, t.copyOutBytes(arg, tm.Marshal())
	case tcgets2:
		tm := p.Termios()
		b := append(tm.Marshal(), make([]byte, 8)...)
		binary.LittleEndian.PutUint32(b[tty.TermiosSize:], 38400)
		binary.LittleEndian.PutUint32(b[tty.TermiosSize+4:], 38400)
		return 0, t.copyOutBytes(arg, b)
	case tcsets, tcsetsw, tcsetsf, tcsets2, tcsetsw2, tcsetsf2:
		b := make([]byte, tty.TermiosSize)
		if _, err := t.mm.CopyIn(arg, b); err != nil {
			return 0, unix.EFAULT
		}
		if err := t.ttyJobControl(p, unix.SIGTTOU); err != nil {
			return 0, err
		}
		p.SetTermios(tty.UnmarshalTermios(b), cmd == tcsetsf || cmd == tcsetsf2)
		return 0, nil
	case tiocgwinsz:
		return 0, t.copyOutBytes(arg, p.Winsize().Marshal())
	case tiocswinsz:
		b := make([]byte, tty.WinsizeSize)
		if _, err := t.mm.CopyIn(arg, b); err != nil {
			return 0, unix.EFAULT
		}
		p.SetWinsize(tty.UnmarshalWinsize(b))
		return 0, nil
	case vfs.FIONREAD, tiocoutq:
		n := p.InputQueued()
		if master == (cmd == vfs.FIONREAD) {
			n = p.OutputQueued()
		}
		return 0, t.copyOutUint32(arg, uint32(n))
	case tcflsh:
		if err := t.ttyJobControl(p, unix.SIGTTOU); err != nil {
			return 0, err
		}
		return 0, p.Flush(int(arg), master)
	case tcxonc:
		if err := t.ttyJobControl(p, unix.SIGTTOU); err != nil {
			return 0, err
		}
		switch arg {
		case unix.TCOOFF, unix.TCOON:
			p.SetStopped(arg == unix.TCOOFF)
		case unix.TCIOFF, unix.TCION:
		default:
			return 0, unix.EINVAL
		}
		return 0, nil
	case tcsbrk, tcsbrkp:
		return 0, t.ttyJobControl(p, unix.SIGTTOU)
	case tiocsbrk, tioccbrk, tiocexcl, tiocnxcl:
		return 0, nil
	case tiocgexcl, tiocgetd:
		return 0, t.copyOutUint32(arg, 0)
	case tiocsetd:
		d, err := t.copyInUint32(arg)
		if err != nil {
			return 0, err
		}
		if d != 0 {
			return 0, unix.EINVAL // only N_TTY
		}
		return 0, nil
	case tiocsti:
		var b [1]byte
		if _, err := t.mm.CopyIn(arg, b[:]); err != nil {
			return 0, unix.EFAULT
		}
		if t.ids.euid != 0 && !t.isCTTY(p) {
			return 0, unix.EPERM
		}
		_, err := p.Master().Write(b[:], true, nil)
		return 0, err
	case tiocsctty:
		return 0, t.ttySetCTTY(f, p, arg)
	case tiocnotty:
		return 0, t.ttyNoCTTY(p)
	case tiocgpgrp:
		if !master && !t.isCTTY(p) {
			return 0, unix.ENOTTY
		}
		_, pgrp := p.Session()
		return 0, t.copyOutUint32(arg, uint32(pgrp))
	case tiocspgrp:
		return 0, t.ttySetPgrp(p, arg)
	case tiocgsid:
		if !master && !t.isCTTY(p) {
			return 0, unix.ENOTTY
		}
		sid, _ := p.Session()
		if sid == 0 {
			return 0, unix.ENOTTY
		}
		return 0, t.copyOutUint32(arg, uint32(sid))
	}
	if !master {
		if cmd == tiocgdev {
			return 0, t.copyOutUint32(arg, uint32(136<<8|p.Index()&0xff|(p.Index()&^0xff)<<12))
		}
		return 0, unix.ENOTTY
	}
	switch cmd {
	case tiocgptn:
		return 0, t.copyOutUint32(arg, uint32(p.Index()))
	case tiocsptlck:
		v, err := t.copyInUint32(arg)
		if err != nil {
			return 0, err
		}
		p.SetLocked(v != 0)
		return 0, nil
	case tiocgptlck:
		v := uint32(0)
		if p.Locked() {
			v = 1
		}
		return 0, t.copyOutUint32(arg, v)
	case tiocgptpeer:
		return t.openPTSPeer(p, int(arg))
	}
	return 0, unix.ENOTTY
}

// copyOutBytes writes b to the guest, EFAULT if it does not fit.
func (t *Task) copyOutBytes(addr uint64, b []byte) error {
	if _, err := t.mm.CopyOut(addr, b); err != nil {
		return unix.EFAULT
	}
	return nil
}

// isCTTY reports whether p is the caller's controlling terminal.
func (t *Task) isCTTY(p *tty.PTY) bool {
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	return t.k.cttyLocked(t.tg) == p
}

// ttyJobControl is __tty_check_change: a process of a background group
// touching its controlling terminal gets sig (SIGTTIN for reads, SIGTTOU
// for writes under TOSTOP and for changes) and the call restarts once it
// is continued; with sig ignored or blocked a change goes ahead and a read
// fails with EIO, as do both from an orphaned group.
func (t *Task) ttyJobControl(p *tty.PTY, sig unix.Signal) error {
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cttyLocked(t.tg) != p {
		return nil
	}
	_, pgrp := p.Session()
	if pgrp == 0 || pgrp == t.tg.pgid {
		return nil
	}
	t.tg.sigMu.Lock()
	ignored := t.sigMask.Has(int(sig)) || t.tg.actions[sig-1].Handler == signal.SigIgn
	t.tg.sigMu.Unlock()
	switch {
	case ignored:
		if sig == unix.SIGTTIN {
			return unix.EIO
		}
		return nil
	case k.pgrpOrphanedLocked(t.tg.pgid):
		return unix.EIO
	}
	k.signalPgrpLocked(t.tg.pgid, sig)
	return errRestartSys
}

// ttyAccessCheck is job control before a read or write of a terminal
// (n_tty_read's job_control, n_tty_write's TOSTOP check).
func (t *Task) ttyAccessCheck(f *vfs.File, write bool) error {
	r, ok := f.Impl().(*tty.Replica)
	if !ok {
		return nil
	}
	p := r.PTY()
	if !write {
		return t.ttyJobControl(p, unix.SIGTTIN)
	}
	if p.Termios().Lflag&unix.TOSTOP == 0 {
		return nil
	}
	return t.ttyJobControl(p, unix.SIGTTOU)
}

// ttySetCTTY is TIOCSCTTY (tiocsctty): a session leader without a
// controlling terminal takes p; p taken by another session needs arg 1
// and root (which steals it).
func (t *Task) ttySetCTTY(f *vfs.File, p *tty.PTY, arg uint64) error {
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	tg := t.tg
	leader := tg.sid == tg.pid
	sid, _ := p.Session()
	if sid != 0 && !k.sessionAliveLocked(sid) {
		p.SetSession(0, 0)
		sid = 0
	}
	if leader && sid == tg.sid {
		return nil
	}
	if !leader || k.cttyLocked(tg) != nil {
		return unix.EPERM
	}
	root := t.ids.euid == 0
	if sid != 0 && !(arg == 1 && root) {
		return unix.EPERM
	}
	if acc := f.Flags() & unix.O_ACCMODE; acc == unix.O_WRONLY && !root {
		return unix.EPERM
	}
	p.SetSession(tg.sid, tg.pgid)
	return nil
}

// ttyNoCTTY is TIOCNOTTY (no_tty, disassociate_ctty): a session leader
// gives up its terminal, its foreground group hearing SIGHUP and SIGCONT.
// Another process only loses the terminal for itself in Linux; here the
// call succeeds without that per-process effect.
func (t *Task) ttyNoCTTY(p *tty.PTY) error {
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cttyLocked(t.tg) != p {
		return unix.ENOTTY
	}
	if t.tg.sid != t.tg.pid {
		return nil
	}
	_, pgrp := p.Session()
	p.SetSession(0, 0)
	if pgrp > 0 {
		k.signalPgrpLocked(pgrp, unix.SIGHUP)
		k.signalPgrpLocked(pgrp, unix.SIGCONT)
	}
	return nil
}

// ttySetPgrp is TIOCSPGRP (tiocspgrp): the caller's controlling terminal
// gets a foreground group of the caller's session.
func (t *Task) ttySetPgrp(p *tty.PTY, arg uint64) error {
	if err := t.ttyJobControl(p, unix.SIGTTOU); err != nil {
		if err == unix.EIO {
			return unix.ENOTTY
		}
		return err
	}
	v, err := t.copyInUint32(arg)
	if err != nil {
		return err
	}
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	if sid, _ := p.Session(); k.cttyLocked(t.tg) != p || sid != t.tg.sid {
		return unix.ENOTTY
	}
	pgrp := int32(v)
	if pgrp < 0 {
		return unix.EINVAL
	}
	found, sameSession := false, false
	for _, tg := range k.tgs {
		if tg.pgid == pgrp && !tg.zombie {
			found = true
			if tg.sid == t.tg.sid {
				sameSession = true
			}
		}
	}
	switch {
	case !found:
		return unix.ESRCH
	case !sameSession:
		return unix.EPERM
	}
	p.SetPgrp(pgrp)
	return nil
}

// openPTSPeer is TIOCGPTPEER: a new fd on the replica of the master's
// pair, opened by its /dev/pts path.
func (t *Task) openPTSPeer(p *tty.PTY, flags int) (uint64, error) {
	if flags&^(unix.O_ACCMODE|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC) != 0 {
		return 0, unix.EINVAL
	}
	f, err := t.k.vfs.Open(t.vctx(), vfs.Path{}, "/dev/pts/"+itoa(int64(p.Index())), flags, 0)
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	fd, err := t.fds.Add(f, flags&unix.O_CLOEXEC != 0, 0)
	return uint64(fd), err
}

// ttyCopyCheck is ttyAccessCheck for sendfile and copy_file_range, which
// read in and write out.
func (t *Task) ttyCopyCheck(in, out *vfs.File) error {
	if err := t.ttyAccessCheck(in, false); err != nil {
		return err
	}
	return t.ttyAccessCheck(out, true)
}
