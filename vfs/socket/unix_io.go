package socket

import (
	"time"

	"golang.org/x/sys/unix"

	"kvsentry/vfs"
)

// Read implements vfs.FileImpl: recv without flags; passed files are
// dropped, as Linux closes the fds nobody asked for.
func (s *unixSocket) Read(dst []byte, nonblock bool, cancel <-chan struct{}) (int, error) {
	r, err := s.RecvMsg(&Env{Cancel: cancel}, dst, 0, nonblock, 0)
	for _, f := range r.Rights {
		f.DecRef()
	}
	return r.N, fileErr(err)
}

// Write implements vfs.FileImpl: send without flags, as the socket's owner.
func (s *unixSocket) Write(src []byte, nonblock bool, cancel <-chan struct{}) (int, error) {
	n, err := s.SendMsg(&Env{Cancel: cancel, Cred: s.owner}, src, nil, nil, 0, nonblock)
	return n, fileErr(err)
}

// checkCred validates an SCM_CREDENTIALS value (scm_check_creds): only a
// privileged sender may claim another process's identity.
func checkCred(e *Env, c *Cred) error {
	if e.Root {
		return nil
	}
	if c.PID != e.Cred.PID || c.UID != e.Cred.UID || c.GID != e.Cred.GID {
		return unix.EPERM
	}
	return nil
}

// SendMsg implements Socket (unix_stream_sendmsg, unix_dgram_sendmsg,
// unix_seqpacket_sendmsg).
func (s *unixSocket) SendMsg(e *Env, data, to []byte, ctl *Control, flags int, nonblock bool) (int, error) {
	if flags&unix.MSG_OOB != 0 {
		return 0, unix.EOPNOTSUPP
	}
	nonblock = nonblock || flags&unix.MSG_DONTWAIT != 0
	cred := e.Cred
	var rights []*vfs.File
	if ctl != nil {
		if ctl.Cred != nil {
			if err := checkCred(e, ctl.Cred); err != nil {
				return 0, err
			}
			cred = *ctl.Cred
		}
		rights, ctl.Rights = ctl.Rights, nil
	}
	var n int
	var err error
	switch s.typ {
	case unix.SOCK_STREAM:
		if to != nil {
			unixMu.Lock()
			c := s.connected
			unixMu.Unlock()
			if c {
				err = unix.EISCONN
			} else {
				err = unix.EOPNOTSUPP
			}
			break
		}
		n, err = s.streamSend(e, data, rights, cred, nonblock)
		if n > 0 {
			rights = nil
		}
	default:
		err = s.dgramSend(e, data, to, rights, cred, nonblock)
		if err == nil {
			n, rights = len(data), nil
		}
	}
	for _, f := range rights {
		f.DecRef()
	}
	return n, err
}

// sendErrLocked is why a connected send cannot proceed now, or 0.
func (s *unixSocket) sendErrLocked() error {
	if s.shutWR {
		return unix.EPIPE
	}
	if !s.connected || s.peer == nil {
		return unix.ENOTCONN
	}
	if p := s.peer; p.closed || p.shutRD {
		return unix.EPIPE
	}
	return nil
}

// streamSend queues data on the peer in pieces no larger than its room,
// blocking for room unless nonblock; files ride on the first piece.
func (s *unixSocket) streamSend(e *Env, data []byte, rights []*vfs.File, cred Cred, nonblock bool) (int, error) {
	if len(data) == 0 {
		unixMu.Lock()
		err := s.sendErrLocked()
		unixMu.Unlock()
		return 0, err
	}
	w := s.wq.add(vfs.EventOut | vfs.EventErr | vfs.EventHup)
	defer s.wq.remove(w)
	deadline := deadlineFor(s.tmo.snd.Load())
	sent := 0
	for sent < len(data) {
		unixMu.Lock()
		if err := s.sendErrLocked(); err != nil {
			unixMu.Unlock()
			if sent > 0 {
				return sent, nil
			}
			return 0, err
		}
		p := s.peer
		room := p.rcvbuf - p.recvBytes
		if room <= 0 {
			unixMu.Unlock()
			if nonblock {
				if sent > 0 {
					return sent, nil
				}
				return 0, unix.EAGAIN
			}
			if err := waitEvent(w.ch, e.Cancel, deadline); err != nil {
				if sent > 0 {
					return sent, nil
				}
				return 0, err
			}
			continue
		}
		chunk := min(room, len(data)-sent)
		m := &umsg{data: append([]byte(nil), data[sent:sent+chunk]...), cred: cred}
		if sent == 0 {
			m.rights = rights
		}
		p.recvq = append(p.recvq, m)
		p.recvBytes += chunk
		sent += chunk
		unixMu.Unlock()
		p.wq.notify(vfs.EventIn | vfs.EventRdNorm)
	}
	return sent, nil
}

// dgramSend queues one datagram or packet.
func (s *unixSocket) dgramSend(e *Env, data, to []byte, rights []*vfs.File, cred Cred, nonblock bool) error {
	if len(data) > s.sndbuf-32 {
		return unix.EMSGSIZE
	}
	seq := s.typ == unix.SOCK_SEQPACKET
	var target *unixSocket
	if to != nil && !seq {
		o, err := lookupUnix(e, to)
		if err != nil {
			return err
		}
		if o.typ != s.typ {
			return typeMismatch(to)
		}
		target = o
	}
	w := s.wq.add(vfs.EventOut | vfs.EventErr | vfs.EventHup)
	defer s.wq.remove(w)
	deadline := deadlineFor(s.tmo.snd.Load())
	for {
		unixMu.Lock()
		t := target
		if seq {
			if err := s.sendErrLocked(); err != nil {
				unixMu.Unlock()
				return err
			}
			t = s.peer
		} else if t == nil {
			t = s.peer
			if t == nil {
				unixMu.Unlock()
				return unix.ENOTCONN
			}
			if t.closed {
				s.peer = nil
				unixMu.Unlock()
				return unix.ECONNREFUSED
			}
		}
		if !seq {
			if t.closed {
				unixMu.Unlock()
				return unix.ECONNREFUSED
			}
			if t.peer != nil && t.peer != s && t != s {
				unixMu.Unlock()
				return unix.EPERM
			}
			if s.shutWR || t.shutRD {
				unixMu.Unlock()
				return unix.EPIPE
			}
		}
		full := len(t.recvq) > unixMaxDgramQ
		if seq {
			full = t.recvBytes >= t.rcvbuf
		}
		if !full {
			if s.name == nil && t.passcred && !seq {
				s.autobindLocked()
			}
			m := &umsg{data: append([]byte(nil), data...), from: s.name, rights: rights, cred: cred}
			t.recvq = append(t.recvq, m)
			t.recvBytes += len(data)
			unixMu.Unlock()
			t.wq.notify(vfs.EventIn | vfs.EventRdNorm)
			return nil
		}
		unixMu.Unlock()
		if nonblock {
			return unix.EAGAIN
		}
		// The reader wakes its own queue's writers when it dequeues.
		tw := t.wq.add(vfs.EventOut)
		err := waitEvent2(w.ch, tw.ch, e.Cancel, deadline)
		t.wq.remove(tw)
		if err != nil {
			return err
		}
	}
}

// waitEvent2 is waitEvent on either of two channels.
func waitEvent2(a, b <-chan struct{}, cancel <-chan struct{}, deadline time.Time) error {
	merged := make(chan struct{}, 1)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-a:
		case <-b:
		case <-stop:
			return
		}
		merged <- struct{}{}
	}()
	return waitEvent(merged, cancel, deadline)
}

// RecvMsg implements Socket (unix_stream_recvmsg, unix_dgram_recvmsg).
func (s *unixSocket) RecvMsg(e *Env, dst []byte, flags int, nonblock bool, ctlLen int) (Received, error) {
	if flags&unix.MSG_OOB != 0 {
		return Received{}, unix.EOPNOTSUPP
	}
	nonblock = nonblock || flags&unix.MSG_DONTWAIT != 0
	w := s.wq.add(vfs.EventIn | vfs.EventErr | vfs.EventHup | vfs.EventRdHup)
	defer s.wq.remove(w)
	deadline := deadlineFor(s.tmo.rcv.Load())
	var r Received
	for {
		unixMu.Lock()
		var done bool
		var err error
		if s.typ == unix.SOCK_STREAM {
			done, err = s.streamRecvLocked(dst, flags, &r)
		} else {
			done, err = s.dgramRecvLocked(dst, flags, &r)
		}
		p := s.peer
		unixMu.Unlock()
		if r.N > 0 || done {
			s.wq.notify(vfs.EventOut)
			if p != nil {
				p.wq.notify(vfs.EventOut | vfs.EventWrNorm)
			}
		}
		if err != nil || done {
			return r, err
		}
		if nonblock {
			if r.N > 0 {
				return r, nil
			}
			return r, unix.EAGAIN
		}
		if err := waitEvent(w.ch, e.Cancel, deadline); err != nil {
			if r.N > 0 {
				return r, nil
			}
			return r, err
		}
	}
}

// takeLocked moves a message's files and credentials into r.
func (s *unixSocket) takeLocked(m *umsg, peek bool, r *Received) {
	if len(m.rights) > 0 {
		if peek {
			for _, f := range m.rights {
				f.IncRef()
			}
			r.Rights = append([]*vfs.File(nil), m.rights...)
		} else {
			r.Rights, m.rights = m.rights, nil
		}
	}
	if s.passcred && r.Cred == nil {
		c := m.cred
		r.Cred = &c
	}
}

// streamRecvLocked reads what is queued into dst[r.N:]; done reports the
// call is over (data read, end of file or an error).
func (s *unixSocket) streamRecvLocked(dst []byte, flags int, r *Received) (bool, error) {
	if s.listening || !s.connected {
		return true, unix.EINVAL
	}
	peek := flags&unix.MSG_PEEK != 0
	if len(s.recvq) == 0 {
		if r.N > 0 && (flags&unix.MSG_WAITALL == 0 || s.shutRD) {
			return true, nil
		}
		if s.err != 0 {
			err := s.err
			s.err = 0
			return true, err
		}
		if s.shutRD || len(dst) == 0 {
			return true, nil
		}
		return false, nil
	}
	i := 0
	for i < len(s.recvq) && r.N < len(dst) {
		m := s.recvq[i]
		if r.N > 0 && len(m.rights) > 0 {
			return true, nil
		}
		n := copy(dst[r.N:], m.data)
		r.N += n
		s.takeLocked(m, peek, r)
		if peek {
			i++
		} else {
			m.data = m.data[n:]
			s.recvBytes -= n
			if len(m.data) == 0 {
				s.recvq = s.recvq[1:]
			}
		}
		if r.Rights != nil {
			return true, nil
		}
	}
	r.Len = r.N
	if flags&unix.MSG_WAITALL != 0 && r.N < len(dst) && !peek {
		return false, nil
	}
	return true, nil
}

// dgramRecvLocked takes one message; MSG_TRUNC in flags returns its real
// length.
func (s *unixSocket) dgramRecvLocked(dst []byte, flags int, r *Received) (bool, error) {
	seq := s.typ == unix.SOCK_SEQPACKET
	if seq && !s.connected {
		return true, unix.ENOTCONN
	}
	if len(s.recvq) == 0 {
		if s.err != 0 {
			err := s.err
			s.err = 0
			return true, err
		}
		if s.shutRD {
			return true, nil
		}
		return false, nil
	}
	m := s.recvq[0]
	r.N = copy(dst, m.data)
	r.Len = len(m.data)
	if r.N < r.Len {
		r.Flags |= unix.MSG_TRUNC
	}
	if m.from != nil {
		r.From = append([]byte(nil), m.from...)
	}
	peek := flags&unix.MSG_PEEK != 0
	s.takeLocked(m, peek, r)
	if !peek {
		s.recvq = s.recvq[1:]
		s.recvBytes -= len(m.data)
	}
	return true, nil
}

// GetSockOpt implements Socket for SOL_SOCKET (sk_getsockopt); other
// levels give EOPNOTSUPP as unix sockets have no protocol options.
func (s *unixSocket) GetSockOpt(e *Env, level, name, size int) ([]byte, error) {
	if level != unix.SOL_SOCKET {
		return nil, unix.EOPNOTSUPP
	}
	if v, ok := commonGetOpt(&s.tmo, unix.AF_UNIX, s.typ, 0, name); ok {
		return v, nil
	}
	unixMu.Lock()
	defer unixMu.Unlock()
	b2i := func(b bool) []byte {
		if b {
			return intOpt(1)
		}
		return intOpt(0)
	}
	switch name {
	case unix.SO_PEERCRED:
		if !s.hasPeerCr {
			return credBytes(Cred{PID: 0, UID: 65534, GID: 65534}), nil
		}
		return credBytes(s.peerCred), nil
	case unix.SO_PASSCRED:
		return b2i(s.passcred), nil
	case unix.SO_ACCEPTCONN:
		return b2i(s.listening), nil
	case unix.SO_SNDBUF:
		return intOpt(int32(s.sndbuf)), nil
	case unix.SO_RCVBUF:
		return intOpt(int32(s.rcvbuf)), nil
	case unix.SO_ERROR:
		err := s.err
		s.err = 0
		return intOpt(int32(err)), nil
	case unix.SO_LINGER:
		return make([]byte, 8), nil
	case unix.SO_REUSEADDR, unix.SO_KEEPALIVE, unix.SO_BROADCAST, unix.SO_OOBINLINE,
		unix.SO_PASSSEC, unix.SO_REUSEPORT, unix.SO_DONTROUTE, unix.SO_PRIORITY:
		return intOpt(0), nil
	case unix.SO_RCVLOWAT, unix.SO_SNDLOWAT:
		return intOpt(1), nil
	}
	return nil, unix.ENOPROTOOPT
}

// SetSockOpt implements Socket for SOL_SOCKET (sk_setsockopt).
func (s *unixSocket) SetSockOpt(e *Env, level, name int, val []byte) error {
	if level != unix.SOL_SOCKET {
		return unix.EOPNOTSUPP
	}
	if ok, err := setTimeoutOpt(&s.tmo, name, val); ok {
		return err
	}
	if name == unix.SO_LINGER {
		if len(val) < 8 {
			return unix.EINVAL
		}
		return nil
	}
	v, err := intArg(val)
	if err != nil {
		return err
	}
	unixMu.Lock()
	defer unixMu.Unlock()
	switch name {
	case unix.SO_PASSCRED:
		s.passcred = v != 0
	case unix.SO_SNDBUF, unix.SO_RCVBUF:
		// sk_setsockopt doubles the value and keeps a floor.
		n := int(v) * 2
		if v < 0 || n > 2*unixBufSize*4 {
			n = 2 * unixBufSize * 4
		}
		if n < 4608 {
			n = 4608
		}
		if name == unix.SO_SNDBUF {
			s.sndbuf = n
		} else {
			s.rcvbuf = n
		}
	case unix.SO_REUSEADDR, unix.SO_KEEPALIVE, unix.SO_BROADCAST, unix.SO_OOBINLINE,
		unix.SO_PASSSEC, unix.SO_REUSEPORT, unix.SO_DONTROUTE, unix.SO_PRIORITY,
		unix.SO_RCVLOWAT, unix.SO_SNDLOWAT:
	default:
		return unix.ENOPROTOOPT
	}
	return nil
}
