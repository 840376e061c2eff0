package socket

import (
	"fmt"
	"sync"

	"golang.org/x/sys/unix"

	"kvsentry/vfs"
)

// unixMu guards the state of every AF_UNIX socket and unixNames: a
// connection touches two or three sockets at once, and one lock keeps that
// free of lock-order questions (net/unix/af_unix.c takes the pair in
// address order instead).
var unixMu sync.Mutex

// unixNames maps bound names to their sockets: "@name" for the abstract
// namespace, "dev:ino" of the socket file for path names.
var unixNames = map[string]*unixSocket{}

// Limits of the AF_UNIX implementation, Linux's defaults.
const (
	unixBufSize     = 212992 // net.core.wmem_default: a stream peer's queue
	unixMaxDgramQ   = 10     // net.unix.max_dgram_qlen
	unixMaxSomaxcon = 4096   // net.core.somaxconn
	sunPathMax      = 108    // sizeof(sun_path)
)

// umsg is one queued message (a stream segment, datagram or packet).
type umsg struct {
	data   []byte
	from   []byte
	rights []*vfs.File
	cred   Cred
}

// release drops the files the message carries.
func (m *umsg) release() {
	for _, f := range m.rights {
		f.DecRef()
	}
	m.rights = nil
}

// unixSocket is an AF_UNIX socket (struct unix_sock).
type unixSocket struct {
	typ   int
	ino   uint64
	owner Cred
	wq    queue
	tmo   timeouts

	// Guarded by unixMu.
	name      []byte // bound sockaddr_un; nil if unbound
	key       string
	listening bool
	backlog   int
	pending   []*unixSocket // accept queue (server ends of connections)
	peer      *unixSocket   // connected peer / default datagram destination
	connected bool          // stream/seqpacket: was connected
	recvq     []*umsg
	recvBytes int
	shutRD    bool
	shutWR    bool
	err       unix.Errno // pending sk_err
	passcred  bool
	peerCred  Cred
	hasPeerCr bool
	closed    bool
	sndbuf    int
	rcvbuf    int
}

// NewUnix creates an AF_UNIX socket of type typ (unix_create): EINVAL for
// unknown protocols, ESOCKTNOSUPPORT for unknown types.
func NewUnix(typ, protocol int, owner Cred) (Socket, error) {
	if protocol != 0 && protocol != unix.AF_UNIX {
		return nil, unix.EPROTONOSUPPORT
	}
	switch typ {
	case unix.SOCK_STREAM, unix.SOCK_DGRAM, unix.SOCK_SEQPACKET:
	case unix.SOCK_RAW:
		typ = unix.SOCK_DGRAM
	default:
		return nil, unix.ESOCKTNOSUPPORT
	}
	return newUnix(typ, owner), nil
}

func newUnix(typ int, owner Cred) *unixSocket {
	return &unixSocket{typ: typ, ino: newIno(), owner: owner, sndbuf: unixBufSize, rcvbuf: unixBufSize}
}

// UnixPair returns a connected pair (unix_socketpair).
func UnixPair(typ, protocol int, owner Cred) (Socket, Socket, error) {
	s, err := NewUnix(typ, protocol, owner)
	if err != nil {
		return nil, nil, err
	}
	a := s.(*unixSocket)
	b := newUnix(a.typ, owner)
	a.peer, b.peer = b, a
	a.connected, b.connected = true, true
	a.peerCred, b.peerCred = owner, owner
	a.hasPeerCr, b.hasPeerCr = true, true
	return a, b, nil
}

// connOriented reports a stream or seqpacket socket.
func (s *unixSocket) connOriented() bool { return s.typ != unix.SOCK_DGRAM }

// Info implements Socket.
func (s *unixSocket) Info() (int, int, int) { return unix.AF_UNIX, s.typ, 0 }

// Stat implements vfs.FileImpl.
func (s *unixSocket) Stat() vfs.Stat { return sockStat(s.ino, s.owner.UID, s.owner.GID) }

// Name implements vfs.FileImpl.
func (s *unixSocket) Name() string { return sockName(s.ino) }

// Queue implements vfs.FileImpl.
func (s *unixSocket) Queue() *vfs.WaitQueue { return &s.wq.WaitQueue }

// Ioctl implements vfs.FileImpl: FIONREAD (SIOCINQ) and SIOCOUTQ.
func (s *unixSocket) Ioctl(cmd uint32, arg uint64) (uint64, error) {
	switch cmd {
	case vfs.FIONREAD:
		unixMu.Lock()
		l := s.listening
		unixMu.Unlock()
		if l {
			return 0, unix.EINVAL
		}
		return uint64(s.InQueue()), nil
	case unix.SIOCOUTQ:
		return 0, nil
	}
	return 0, unix.ENOTTY
}

// InQueue returns the bytes readable now (SIOCINQ): all queued bytes for a
// stream, the next message's length otherwise.
func (s *unixSocket) InQueue() int {
	unixMu.Lock()
	defer unixMu.Unlock()
	if s.listening {
		return 0
	}
	if s.typ == unix.SOCK_STREAM {
		return s.recvBytes
	}
	if len(s.recvq) > 0 {
		return len(s.recvq[0].data)
	}
	return 0
}

// parseUnixAddr decodes a sockaddr_un (unix_validate_addr, unix_mkname_bsd):
// the key under which it is registered, the normalised address, and the
// path for path names ("" for abstract ones).
func parseUnixAddr(addr []byte) (path string, abstract []byte, err error) {
	if len(addr) < 2 || len(addr) > 2+sunPathMax {
		return "", nil, unix.EINVAL
	}
	if int(addr[0])|int(addr[1])<<8 != unix.AF_UNIX {
		return "", nil, unix.EINVAL
	}
	p := addr[2:]
	if len(p) == 0 {
		return "", nil, nil
	}
	if p[0] == 0 {
		return "", append([]byte(nil), p...), nil
	}
	for i, c := range p {
		if c == 0 {
			p = p[:i]
			break
		}
	}
	return string(p), nil, nil
}

// unixAddrBytes builds a sockaddr_un for a path or abstract name.
func unixAddrBytes(path string, abstract []byte) []byte {
	b := []byte{unix.AF_UNIX, 0}
	if abstract != nil {
		return append(b, abstract...)
	}
	b = append(b, path...)
	return append(b, 0)
}

// pathKey identifies a socket file by its inode.
func pathKey(st vfs.Stat) string { return fmt.Sprintf("%d:%d", st.Dev, st.Ino) }

// Bind implements Socket (unix_bind): a length of 2 autobinds an abstract
// name; a path name creates the socket file (EADDRINUSE if it exists).
func (s *unixSocket) Bind(e *Env, addr []byte) error {
	path, abs, err := parseUnixAddr(addr)
	if err != nil {
		return err
	}
	unixMu.Lock()
	bound := s.name != nil
	unixMu.Unlock()
	if bound {
		return unix.EINVAL
	}
	if path == "" && abs == nil {
		unixMu.Lock()
		defer unixMu.Unlock()
		return s.autobindLocked()
	}
	if abs != nil {
		unixMu.Lock()
		defer unixMu.Unlock()
		if s.name != nil {
			return unix.EINVAL
		}
		key := "@" + string(abs)
		if _, used := unixNames[key]; used {
			return unix.EADDRINUSE
		}
		s.setNameLocked(key, unixAddrBytes("", abs))
		return nil
	}
	if e == nil || e.VFS == nil {
		return unix.EINVAL
	}
	if err := e.VFS.Mknod(e.Ctx, vfs.Path{}, path, unix.S_IFSOCK|(0o777&^e.Umask), 0); err != nil {
		if err == unix.EEXIST {
			return unix.EADDRINUSE
		}
		return err
	}
	st, err := e.VFS.Stat(e.Ctx, vfs.Path{}, path, false)
	if err != nil {
		return err
	}
	unixMu.Lock()
	defer unixMu.Unlock()
	if s.name != nil {
		return unix.EINVAL
	}
	s.setNameLocked(pathKey(st), unixAddrBytes(path, nil))
	return nil
}

// setNameLocked records s under key.
func (s *unixSocket) setNameLocked(key string, name []byte) {
	s.key, s.name = key, name
	unixNames[key] = s
}

// autobindCounter feeds autobind's names.
var autobindCounter uint32

// autobindLocked gives s an abstract name of five hex digits (unix_autobind).
func (s *unixSocket) autobindLocked() error {
	if s.name != nil {
		return nil
	}
	for i := 0; i < 0xfffff; i++ {
		autobindCounter = (autobindCounter + 1) & 0xfffff
		n := []byte(fmt.Sprintf("%05x", autobindCounter))
		abs := append([]byte{0}, n...)
		key := "@" + string(abs)
		if _, used := unixNames[key]; !used {
			s.setNameLocked(key, unixAddrBytes("", abs))
			return nil
		}
	}
	return unix.ENOSPC
}

// lookup finds the socket bound to addr (unix_find_other): ECONNREFUSED if
// nothing listens there, the path's errors otherwise.
func lookupUnix(e *Env, addr []byte) (*unixSocket, error) {
	path, abs, err := parseUnixAddr(addr)
	if err != nil {
		return nil, err
	}
	var key string
	switch {
	case abs != nil:
		key = "@" + string(abs)
	case path == "":
		return nil, unix.EINVAL
	default:
		if e == nil || e.VFS == nil {
			return nil, unix.ECONNREFUSED
		}
		st, err := e.VFS.Stat(e.Ctx, vfs.Path{}, path, true)
		if err != nil {
			return nil, err
		}
		if st.Mode&unix.S_IFMT != unix.S_IFSOCK {
			return nil, unix.ECONNREFUSED
		}
		if err := e.VFS.Access(e.Ctx, vfs.Path{}, path, unix.W_OK, true); err != nil {
			return nil, err
		}
		key = pathKey(st)
	}
	unixMu.Lock()
	defer unixMu.Unlock()
	o := unixNames[key]
	if o == nil || o.closed {
		return nil, unix.ECONNREFUSED
	}
	return o, nil
}

// Listen implements Socket (unix_listen).
func (s *unixSocket) Listen(e *Env, backlog int) error {
	if !s.connOriented() {
		return unix.EOPNOTSUPP
	}
	unixMu.Lock()
	defer unixMu.Unlock()
	if s.name == nil || s.connected {
		return unix.EINVAL
	}
	if backlog < 0 || backlog > unixMaxSomaxcon {
		backlog = unixMaxSomaxcon
	}
	s.backlog = backlog
	if !s.listening && e != nil {
		s.peerCred, s.hasPeerCr = e.Cred, true
	}
	s.listening = true
	s.wq.notify(vfs.EventIn | vfs.EventOut)
	return nil
}

// Connect implements Socket (unix_stream_connect, unix_dgram_connect).
func (s *unixSocket) Connect(e *Env, addr []byte, nonblock bool) error {
	if len(addr) >= 2 && int(addr[0])|int(addr[1])<<8 == unix.AF_UNSPEC && !s.connOriented() {
		unixMu.Lock()
		s.peer = nil
		unixMu.Unlock()
		return nil
	}
	o, err := lookupUnix(e, addr)
	if err != nil {
		return err
	}
	if o.typ != s.typ {
		return typeMismatch(addr)
	}
	if !s.connOriented() {
		unixMu.Lock()
		defer unixMu.Unlock()
		s.peer = o
		return nil
	}
	w := o.wq.add(^uint32(0))
	defer o.wq.remove(w)
	deadline := deadlineFor(s.tmo.snd.Load())
	for {
		unixMu.Lock()
		switch {
		case s.connected:
			unixMu.Unlock()
			return unix.EISCONN
		case s.listening:
			unixMu.Unlock()
			return unix.EINVAL
		case o.closed || !o.listening:
			unixMu.Unlock()
			return unix.ECONNREFUSED
		}
		if len(o.pending) <= o.backlog {
			n := newUnix(s.typ, o.owner)
			n.name, n.peer, n.connected = o.name, s, true
			n.peerCred, n.hasPeerCr = e.Cred, true
			n.passcred = o.passcred
			s.peer, s.connected = n, true
			s.peerCred, s.hasPeerCr = o.peerCred, o.hasPeerCr
			o.pending = append(o.pending, n)
			o.wq.notify(vfs.EventIn | vfs.EventRdNorm)
			unixMu.Unlock()
			return nil
		}
		unixMu.Unlock()
		if nonblock {
			return unix.EAGAIN
		}
		if err := waitEvent(w.ch, e.Cancel, deadline); err != nil {
			return err
		}
	}
}

// Accept implements Socket (unix_accept).
func (s *unixSocket) Accept(e *Env, nonblock bool) (Socket, error) {
	if !s.connOriented() {
		return nil, unix.EOPNOTSUPP
	}
	w := s.wq.add(vfs.EventIn)
	defer s.wq.remove(w)
	deadline := deadlineFor(s.tmo.rcv.Load())
	for {
		unixMu.Lock()
		if !s.listening {
			unixMu.Unlock()
			return nil, unix.EINVAL
		}
		if len(s.pending) > 0 {
			n := s.pending[0]
			s.pending = s.pending[1:]
			unixMu.Unlock()
			// Room in the backlog again: wake blocked connectors.
			s.wq.notify(vfs.EventOut)
			return n, nil
		}
		unixMu.Unlock()
		if nonblock {
			return nil, unix.EAGAIN
		}
		if err := waitEvent(w.ch, e.Cancel, deadline); err != nil {
			return nil, err
		}
	}
}

// Shutdown implements Socket (unix_shutdown): the peer of a connected
// socket sees the mirror image.
func (s *unixSocket) Shutdown(how int) error {
	if how < unix.SHUT_RD || how > unix.SHUT_RDWR {
		return unix.EINVAL
	}
	unixMu.Lock()
	rd, wr := how != unix.SHUT_WR, how != unix.SHUT_RD
	if s.connOriented() && !s.connected {
		unixMu.Unlock()
		return unix.ENOTCONN
	}
	s.shutRD = s.shutRD || rd
	s.shutWR = s.shutWR || wr
	p := s.peer
	if p != nil && s.connOriented() {
		p.shutRD = p.shutRD || wr
		p.shutWR = p.shutWR || rd
	}
	unixMu.Unlock()
	s.wq.notify(^uint32(0))
	if p != nil {
		p.wq.notify(^uint32(0))
	}
	return nil
}

// SockName implements Socket.
func (s *unixSocket) SockName() ([]byte, error) {
	unixMu.Lock()
	defer unixMu.Unlock()
	if s.name == nil {
		return []byte{unix.AF_UNIX, 0}, nil
	}
	return append([]byte(nil), s.name...), nil
}

// PeerName implements Socket.
func (s *unixSocket) PeerName() ([]byte, error) {
	unixMu.Lock()
	defer unixMu.Unlock()
	p := s.peer
	if p == nil || (s.connOriented() && !s.connected) {
		return nil, unix.ENOTCONN
	}
	if p.name == nil {
		return []byte{unix.AF_UNIX, 0}, nil
	}
	return append([]byte(nil), p.name...), nil
}

// Release implements vfs.FileImpl (unix_release_sock): queued messages and
// unaccepted connections go, the peer sees end of file.
func (s *unixSocket) Release() {
	unixMu.Lock()
	s.closed = true
	if s.key != "" && unixNames[s.key] == s {
		delete(unixNames, s.key)
	}
	p := s.peer
	unread := len(s.recvq) > 0
	var drop []*umsg
	drop = append(drop, s.recvq...)
	s.recvq, s.recvBytes = nil, 0
	pend := s.pending
	s.pending = nil
	if p != nil && s.connOriented() && p.peer == s {
		p.shutRD, p.shutWR = true, true
		if unread {
			p.err = unix.ECONNRESET
		}
	}
	unixMu.Unlock()
	for _, m := range drop {
		m.release()
	}
	for _, n := range pend {
		n.Release()
	}
	if p != nil {
		p.wq.notify(^uint32(0))
	}
	s.wq.notify(^uint32(0))
}

// Poll implements vfs.FileImpl (unix_poll, unix_dgram_poll).
func (s *unixSocket) Poll() uint32 {
	unixMu.Lock()
	defer unixMu.Unlock()
	var m uint32
	if s.err != 0 {
		m |= vfs.EventErr
	}
	if s.listening {
		if len(s.pending) > 0 {
			m |= vfs.EventIn | vfs.EventRdNorm
		}
		return m
	}
	if s.shutRD && s.shutWR {
		m |= vfs.EventHup
	}
	if s.shutRD {
		m |= vfs.EventRdHup | vfs.EventIn | vfs.EventRdNorm
	}
	if len(s.recvq) > 0 {
		m |= vfs.EventIn | vfs.EventRdNorm
	}
	if s.connOriented() && !s.connected {
		m |= vfs.EventHup
	}
	if s.writableLocked() {
		m |= vfs.EventOut | vfs.EventWrNorm | vfs.EventWrBand
	}
	return m
}

// writableLocked reports room at the destination of a send.
func (s *unixSocket) writableLocked() bool {
	p := s.peer
	if p == nil || p.closed {
		return true
	}
	if s.typ == unix.SOCK_DGRAM {
		return p.peer == s && len(p.recvq) <= unixMaxDgramQ || p.peer != s
	}
	return p.recvBytes < p.rcvbuf
}

// typeMismatch is the error for a name bound by a socket of another type:
// the abstract namespace is looked up per type (ECONNREFUSED), a path
// finds the socket and refuses it (EPROTOTYPE), as unix_find_other does.
func typeMismatch(addr []byte) error {
	if len(addr) > 2 && addr[2] == 0 {
		return unix.ECONNREFUSED
	}
	return unix.EPROTOTYPE
}
