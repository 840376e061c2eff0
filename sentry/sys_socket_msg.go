package sentry

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"kvsentry/vfs"
	"kvsentry/vfs/socket"
)

func init() {
	register(unix.SYS_SENDTO, "fbdxpd", Full, "", sysSendto)
	register(unix.SYS_RECVFROM, "fodxpp", Full, "", sysRecvfrom)
	register(unix.SYS_SENDMSG, "fpx", Full, "SCM_RIGHTS and SCM_CREDENTIALS on AF_UNIX", func(t *Task, a *sysArgs) (uint64, error) {
		return t.sendmsgFD(int32(a[0]), a[1], int(int32(a[2])))
	})
	register(unix.SYS_RECVMSG, "fpx", Full, "SCM_RIGHTS and SCM_CREDENTIALS on AF_UNIX", func(t *Task, a *sysArgs) (uint64, error) {
		return t.recvmsgFD(int32(a[0]), a[1], int(int32(a[2])))
	})
	register(unix.SYS_SENDMMSG, "fpdx", Full, "", sysSendmmsg)
	register(unix.SYS_RECVMMSG, "fpdxp", Partial, "the timeout is checked between messages, as Linux does", sysRecvmmsg)
}

// Linux's limits on message calls.
const (
	uioMaxIov = 1024  // UIO_MAXIOV
	scmMaxFD  = 253   // SCM_MAX_FD
	optmemMax = 20480 // net.core.optmem_max: control data of one sendmsg
	msgChunk  = 1 << 20
	cmsgHdr   = 16 // sizeof(struct cmsghdr)
	msghdrLen = 56 // sizeof(struct msghdr)
	mmsgLen   = 64 // sizeof(struct mmsghdr)
	msgMaxBuf = 1 << 24
)

// msghdr is struct msghdr as read from the guest.
type msghdr struct {
	name       uint64
	namelen    uint32
	iov        uint64
	iovlen     uint64
	control    uint64
	controllen uint64
	flags      int32
}

// copyInMsghdr reads a struct msghdr.
func (t *Task) copyInMsghdr(addr uint64) (msghdr, error) {
	var b [msghdrLen]byte
	if _, err := t.mm.CopyIn(addr, b[:]); err != nil {
		return msghdr{}, err
	}
	le := binary.LittleEndian
	return msghdr{
		name: le.Uint64(b[0:]), namelen: le.Uint32(b[8:]),
		iov: le.Uint64(b[16:]), iovlen: le.Uint64(b[24:]),
		control: le.Uint64(b[32:]), controllen: le.Uint64(b[40:]),
		flags: int32(le.Uint32(b[48:])),
	}, nil
}

// msgIovecs reads a message's iovecs: EMSGSIZE beyond UIO_MAXIOV.
func (t *Task) msgIovecs(m *msghdr) ([]iovec, uint64, error) {
	if m.iovlen > uioMaxIov {
		return nil, 0, unix.EMSGSIZE
	}
	iovs, err := t.copyInIovecs(m.iov, int32(m.iovlen))
	if err != nil {
		return nil, 0, err
	}
	var total uint64
	for _, v := range iovs {
		total += v.len
	}
	if total > maxRW {
		total = maxRW
	}
	return iovs, total, nil
}

// gather copies up to n bytes from iovecs starting at byte off.
func (t *Task) gather(iovs []iovec, off, n uint64) ([]byte, error) {
	buf := make([]byte, 0, n)
	for _, v := range iovs {
		if n == 0 {
			break
		}
		if off >= v.len {
			off -= v.len
			continue
		}
		take := min(v.len-off, n)
		start := len(buf)
		buf = buf[:start+int(take)]
		if _, err := t.mm.CopyIn(v.base+off, buf[start:]); err != nil {
			return nil, err
		}
		off = 0
		n -= take
	}
	return buf, nil
}

// scatter copies data into iovecs.
func (t *Task) scatter(iovs []iovec, data []byte) error {
	for _, v := range iovs {
		if len(data) == 0 {
			return nil
		}
		n := min(v.len, uint64(len(data)))
		if n == 0 {
			continue
		}
		if _, err := t.mm.CopyOut(v.base, data[:n]); err != nil {
			return err
		}
		data = data[n:]
	}
	return nil
}

// parseControl decodes sendmsg's control data (__scm_send): SCM_RIGHTS
// files (EBADF for a bad fd, EINVAL beyond SCM_MAX_FD) and SCM_CREDENTIALS;
// malformed headers give EINVAL.
func (t *Task) parseControl(addr, l uint64) (*socket.Control, error) {
	if l == 0 {
		return nil, nil
	}
	if l > 1<<31-1 {
		return nil, unix.ENOBUFS
	}
	if l > optmemMax {
		return nil, unix.ENOBUFS
	}
	if l < cmsgHdr {
		return nil, unix.EINVAL
	}
	raw := make([]byte, l)
	if _, err := t.mm.CopyIn(addr, raw); err != nil {
		return nil, err
	}
	c := &socket.Control{Raw: raw}
	le := binary.LittleEndian
	for off := uint64(0); off+cmsgHdr <= l; {
		clen := le.Uint64(raw[off:])
		level, typ := int32(le.Uint32(raw[off+8:])), int32(le.Uint32(raw[off+12:]))
		if clen < cmsgHdr || clen > l-off {
			c.Release()
			return nil, unix.EINVAL
		}
		data := raw[off+cmsgHdr : off+clen]
		if level == unix.SOL_SOCKET {
			switch typ {
			case unix.SCM_RIGHTS:
				n := len(data) / 4
				if len(c.Rights)+n > scmMaxFD {
					c.Release()
					return nil, unix.EINVAL
				}
				for i := 0; i < n; i++ {
					f, _, err := t.fds.Get(int32(le.Uint32(data[4*i:])))
					if err != nil {
						c.Release()
						return nil, err
					}
					c.Rights = append(c.Rights, f)
				}
			case unix.SCM_CREDENTIALS:
				if len(data) != 12 {
					c.Release()
					return nil, unix.EINVAL
				}
				c.Cred = &socket.Cred{PID: int32(le.Uint32(data)), UID: le.Uint32(data[4:]), GID: le.Uint32(data[8:])}
			}
		}
		off += (clen + 7) &^ 7
	}
	return c, nil
}

// send sends data from iovecs through s, in chunks for stream sockets as
// write(2) does; SIGPIPE on EPIPE unless MSG_NOSIGNAL.
func (t *Task) send(f *vfs.File, s socket.Socket, iovs []iovec, total uint64, to []byte, ctl *socket.Control, flags int) (uint64, error) {
	defer ctl.Release()
	_, typ, _ := s.Info()
	stream := typ == unix.SOCK_STREAM
	if !stream && total > msgMaxBuf {
		return 0, unix.EMSGSIZE
	}
	e := t.sockEnv()
	var done uint64
	for {
		n := total - done
		if stream && n > msgChunk {
			n = msgChunk
		}
		buf, err := t.gather(iovs, done, n)
		if err != nil {
			if done > 0 {
				return done, nil
			}
			return 0, err
		}
		c, err := s.SendMsg(e, buf, to, ctl, flags, nonblocking(f))
		done += uint64(c)
		ctl = nil
		if err != nil {
			if err == unix.EPIPE && flags&unix.MSG_NOSIGNAL == 0 {
				t.sendSelf(int(unix.SIGPIPE))
			}
			if done > 0 {
				return done, nil
			}
			return 0, err
		}
		if !stream || done >= total || uint64(c) < n {
			return done, nil
		}
	}
}

// sysSendto implements sendto(2) and send(2).
func sysSendto(t *Task, a *sysArgs) (uint64, error) {
	f, s, err := t.sockFor(int32(a[0]))
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	n := a[2]
	if n > maxRW {
		n = maxRW
	}
	if err := checkRange(a[1], n); err != nil {
		return 0, err
	}
	var to []byte
	if a[4] != 0 {
		if to, err = t.copyInSockaddr(a[4], int32(a[5])); err != nil {
			return 0, err
		}
	}
	return t.send(f, s, []iovec{{a[1], n}}, n, to, nil, int(int32(a[3])))
}

// sysRecvfrom implements recvfrom(2) and recv(2).
func sysRecvfrom(t *Task, a *sysArgs) (uint64, error) {
	f, s, err := t.sockFor(int32(a[0]))
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	n := a[2]
	if n > maxRW {
		n = maxRW
	}
	if err := checkRange(a[1], n); err != nil {
		return 0, err
	}
	r, err := t.recv(f, s, []iovec{{a[1], n}}, n, int(int32(a[3])), 0)
	if err != nil {
		return 0, err
	}
	for _, rf := range r.Rights {
		rf.DecRef()
	}
	if a[4] != 0 {
		if err := t.copyOutSockaddr(a[4], a[5], r.From); err != nil {
			return 0, err
		}
	}
	return t.recvResult(r, int(int32(a[3]))), nil
}

// recvResult is recv's return value: the real length with MSG_TRUNC.
func (t *Task) recvResult(r socket.Received, flags int) uint64 {
	if flags&unix.MSG_TRUNC != 0 && r.Len > r.N {
		return uint64(r.Len)
	}
	return uint64(r.N)
}

// recv receives into iovecs.
func (t *Task) recv(f *vfs.File, s socket.Socket, iovs []iovec, total uint64, flags, ctlLen int) (socket.Received, error) {
	if total > msgChunk*16 {
		total = msgChunk * 16
	}
	buf := make([]byte, total)
	r, err := s.RecvMsg(t.sockEnv(), buf, flags, nonblocking(f), ctlLen)
	if err != nil {
		return r, err
	}
	if err := t.scatter(iovs, buf[:r.N]); err != nil {
		for _, rf := range r.Rights {
			rf.DecRef()
		}
		return socket.Received{}, err
	}
	return r, nil
}

// sendmsgFD implements sendmsg(2).
func (t *Task) sendmsgFD(fd int32, msgAddr uint64, flags int) (uint64, error) {
	f, s, err := t.sockFor(fd)
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	return t.sendmsg(f, s, msgAddr, flags)
}

// sendmsg is ___sys_sendmsg on one struct msghdr.
func (t *Task) sendmsg(f *vfs.File, s socket.Socket, msgAddr uint64, flags int) (uint64, error) {
	m, err := t.copyInMsghdr(msgAddr)
	if err != nil {
		return 0, err
	}
	iovs, total, err := t.msgIovecs(&m)
	if err != nil {
		return 0, err
	}
	var to []byte
	if m.name != 0 && m.namelen != 0 {
		if to, err = t.copyInSockaddr(m.name, int32(m.namelen)); err != nil {
			return 0, err
		}
	}
	ctl, err := t.parseControl(m.control, m.controllen)
	if err != nil {
		return 0, err
	}
	return t.send(f, s, iovs, total, to, ctl, flags)
}

// recvmsgFD implements recvmsg(2).
func (t *Task) recvmsgFD(fd int32, msgAddr uint64, flags int) (uint64, error) {
	f, s, err := t.sockFor(fd)
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	return t.recvmsg(f, s, msgAddr, flags)
}

// recvmsg is ___sys_recvmsg on one struct msghdr: it writes msg_namelen,
// msg_controllen and msg_flags back.
func (t *Task) recvmsg(f *vfs.File, s socket.Socket, msgAddr uint64, flags int) (uint64, error) {
	m, err := t.copyInMsghdr(msgAddr)
	if err != nil {
		return 0, err
	}
	iovs, total, err := t.msgIovecs(&m)
	if err != nil {
		return 0, err
	}
	if int64(m.controllen) < 0 {
		return 0, unix.EINVAL
	}
	ctlLen := int(min(m.controllen, optmemMax*4))
	if m.control == 0 {
		ctlLen = 0
	}
	r, err := t.recv(f, s, iovs, total, flags, ctlLen)
	if err != nil {
		return 0, err
	}
	ctl, mflags := t.buildControl(&r, ctlLen, flags)
	mflags |= r.Flags
	var namelen uint32
	if m.name != 0 && r.From != nil {
		n := min(len(r.From), int(int32(m.namelen)))
		if n > 0 {
			if _, err := t.mm.CopyOut(m.name, r.From[:n]); err != nil {
				return 0, err
			}
		}
		namelen = uint32(len(r.From))
	}
	if len(ctl) > 0 {
		if _, err := t.mm.CopyOut(m.control, ctl); err != nil {
			return 0, err
		}
	}
	var b [8]byte
	binary.LittleEndian.PutUint32(b[:], namelen)
	if _, err := t.mm.CopyOut(msgAddr+8, b[:4]); err != nil {
		return 0, err
	}
	binary.LittleEndian.PutUint64(b[:], uint64(len(ctl)))
	if _, err := t.mm.CopyOut(msgAddr+40, b[:]); err != nil {
		return 0, err
	}
	if err := t.copyOutUint32(msgAddr+48, uint32(mflags)); err != nil {
		return 0, err
	}
	return t.recvResult(r, flags), nil
}

// cmsgAlign rounds to the cmsg alignment (8 on x86-64).
func cmsgAlign(n int) int { return (n + 7) &^ 7 }

// appendCmsg appends one control message.
func appendCmsg(b []byte, level, typ int32, data []byte) []byte {
	var h [cmsgHdr]byte
	binary.LittleEndian.PutUint64(h[:], uint64(cmsgHdr+len(data)))
	binary.LittleEndian.PutUint32(h[8:], uint32(level))
	binary.LittleEndian.PutUint32(h[12:], uint32(typ))
	b = append(b, h[:]...)
	b = append(b, data...)
	for len(b)%8 != 0 {
		b = append(b, 0)
	}
	return b
}

// buildControl lays out received control data (scm_recv: credentials,
// then the files, installed as new fds; put_cmsg and scm_detach_fds cut
// what does not fit and set MSG_CTRUNC, closing the files left over).
func (t *Task) buildControl(r *socket.Received, ctlLen, flags int) ([]byte, int) {
	var out []byte
	mflags := 0
	if r.RawCtl != nil {
		return r.RawCtl, 0
	}
	if r.Cred != nil {
		if ctlLen-len(out) >= cmsgHdr+12 {
			d := make([]byte, 12)
			binary.LittleEndian.PutUint32(d, uint32(r.Cred.PID))
			binary.LittleEndian.PutUint32(d[4:], r.Cred.UID)
			binary.LittleEndian.PutUint32(d[8:], r.Cred.GID)
			out = appendCmsg(out, unix.SOL_SOCKET, unix.SCM_CREDENTIALS, d)
		} else {
			mflags |= unix.MSG_CTRUNC
		}
	}
	if len(r.Rights) > 0 {
		room := (ctlLen - len(out) - cmsgHdr) / 4
		if room < 0 {
			room = 0
		}
		var fds []byte
		for i, rf := range r.Rights {
			if i >= room {
				mflags |= unix.MSG_CTRUNC
				rf.DecRef()
				continue
			}
			fd, err := t.fds.Add(rf, flags&unix.MSG_CMSG_CLOEXEC != 0, 0)
			rf.DecRef()
			if err != nil {
				mflags |= unix.MSG_CTRUNC
				continue
			}
			fds = binary.LittleEndian.AppendUint32(fds, uint32(fd))
		}
		r.Rights = nil
		if len(fds) > 0 {
			out = appendCmsg(out, unix.SOL_SOCKET, unix.SCM_RIGHTS, fds)
			if len(out) > ctlLen {
				out = out[:ctlLen] // the last cmsg's padding may not fit
			}
		}
	}
	return out, mflags
}

// sysSendmmsg implements sendmmsg(2): the count sent, or the first error.
func sysSendmmsg(t *Task, a *sysArgs) (uint64, error) {
	f, s, err := t.sockFor(int32(a[0]))
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	vlen, flags := uint32(a[2]), int(int32(a[3]))
	if vlen > uioMaxIov {
		vlen = uioMaxIov
	}
	var i uint32
	for i = 0; i < vlen; i++ {
		addr := a[1] + uint64(i)*mmsgLen
		n, err := t.sendmsg(f, s, addr, flags)
		if err == nil {
			err = t.copyOutUint32(addr+msghdrLen, uint32(n))
		}
		if err != nil {
			if i == 0 {
				return 0, err
			}
			break
		}
	}
	return uint64(i), nil
}

// sysRecvmmsg implements recvmmsg(2): MSG_WAITFORONE makes every message
// after the first non-blocking; the timeout ends the batch between
// messages.
func sysRecvmmsg(t *Task, a *sysArgs) (uint64, error) {
	f, s, err := t.sockFor(int32(a[0]))
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	vlen, flags := uint32(a[2]), int(int32(a[3]))
	if vlen > uioMaxIov {
		vlen = uioMaxIov
	}
	var deadline int64
	if a[4] != 0 {
		var ts [16]byte
		if _, err := t.mm.CopyIn(a[4], ts[:]); err != nil {
			return 0, err
		}
		sec, nsec := int64(binary.LittleEndian.Uint64(ts[:])), int64(binary.LittleEndian.Uint64(ts[8:]))
		if sec < 0 || nsec < 0 || nsec >= 1e9 {
			return 0, unix.EINVAL
		}
		deadline = monoNow() + sec*1e9 + nsec
	}
	var i uint32
	for i = 0; i < vlen; i++ {
		addr := a[1] + uint64(i)*mmsgLen
		fl := flags &^ unix.MSG_WAITFORONE
		if i > 0 && flags&unix.MSG_WAITFORONE != 0 {
			fl |= unix.MSG_DONTWAIT
		}
		n, err := t.recvmsg(f, s, addr, fl)
		if err == nil {
			err = t.copyOutUint32(addr+msghdrLen, uint32(n))
		}
		if err != nil {
			if i == 0 {
				return 0, err
			}
			break
		}
		if deadline != 0 && monoNow() > deadline {
			i++
			break
		}
	}
	return uint64(i), nil
}
