package socket

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"kvsentry/vfs"
)

var root = Cred{PID: 1}

func TestUnixPairStream(t *testing.T) {
	a, b, err := UnixPair(unix.SOCK_STREAM, 0, root)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := a.Write([]byte("hello"), false, nil); n != 5 || err != nil {
		t.Fatalf("write: %d %v", n, err)
	}
	if b.Poll()&vfs.EventIn == 0 {
		t.Error("peer not readable after write")
	}
	buf := make([]byte, 16)
	if n, err := b.Read(buf, false, nil); n != 5 || string(buf[:n]) != "hello" || err != nil {
		t.Fatalf("read: %q %v", buf[:n], err)
	}
	if _, err := b.Read(buf, true, nil); err != unix.EAGAIN {
		t.Errorf("nonblocking read of empty socket: %v, want EAGAIN", err)
	}
	a.Release()
	if n, err := b.Read(buf, false, nil); n != 0 || err != nil {
		t.Errorf("read after peer close: %d %v, want EOF", n, err)
	}
	if _, err := b.Write([]byte("x"), false, nil); err != unix.EPIPE {
		t.Errorf("write after peer close: %v, want EPIPE", err)
	}
}

func TestUnixBlockingReadCancel(t *testing.T) {
	_, b, _ := UnixPair(unix.SOCK_STREAM, 0, root)
	cancel := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := b.RecvMsg(&Env{Cancel: cancel}, make([]byte, 4), 0, false, 0)
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	close(cancel)
	select {
	case err := <-done:
		if err != ErrRestart {
			t.Errorf("interrupted recv: %v, want ErrRestart", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("recv did not return when cancelled")
	}
}

func TestUnixAbstractListenConnect(t *testing.T) {
	addr := []byte{unix.AF_UNIX, 0, 0, 'k', 'v', 't'}
	l, _ := NewUnix(unix.SOCK_STREAM, 0, root)
	defer l.Release()
	if err := l.Bind(nil, addr); err != nil {
		t.Fatal(err)
	}
	c, _ := NewUnix(unix.SOCK_STREAM, 0, root)
	e := &Env{Cred: Cred{PID: 7, UID: 1, GID: 2}}
	if err := c.Connect(e, addr, true); err != unix.ECONNREFUSED {
		t.Errorf("connect before listen: %v", err)
	}
	if err := l.Listen(&Env{Cred: root}, 1); err != nil {
		t.Fatal(err)
	}
	if err := c.Connect(e, addr, true); err != nil {
		t.Fatalf("connect: %v", err)
	}
	s, err := l.Accept(&Env{}, true)
	if err != nil {
		t.Fatal(err)
	}
	cr, _ := s.GetSockOpt(nil, unix.SOL_SOCKET, unix.SO_PEERCRED, 12)
	if got := credBytes(Cred{PID: 7, UID: 1, GID: 2}); string(cr) != string(got) {
		t.Errorf("SO_PEERCRED %v, want %v", cr, got)
	}
	if _, err := l.Accept(&Env{}, true); err != unix.EAGAIN {
		t.Errorf("accept with empty queue: %v", err)
	}
	name, _ := s.SockName()
	if string(name) != string(addr) {
		t.Errorf("accepted socket's name %q", name)
	}
	for _, bad := range [][]byte{{1}, {unix.AF_INET, 0, 'x'}, make([]byte, 200)} {
		n, _ := NewUnix(unix.SOCK_STREAM, 0, root)
		if err := n.Bind(nil, bad); err != unix.EINVAL {
			t.Errorf("bind(%v): %v, want EINVAL", bad[:min(3, len(bad))], err)
		}
	}
}

func TestUnixRightsTravel(t *testing.T) {
	a, b, _ := UnixPair(unix.SOCK_DGRAM, 0, root)
	r, w := vfs.NewPipe()
	defer w.DecRef()
	ctl := &Control{Rights: []*vfs.File{r}}
	if _, err := a.SendMsg(&Env{Cred: root}, []byte("x"), nil, ctl, 0, false); err != nil {
		t.Fatal(err)
	}
	got, err := b.RecvMsg(&Env{}, make([]byte, 1), 0, false, 64)
	if err != nil || len(got.Rights) != 1 || got.Rights[0] != r {
		t.Fatalf("recv: %+v %v", got, err)
	}
	got.Rights[0].DecRef()
}

func TestStackRefusesOthers(t *testing.T) {
	st, _ := NewStack(NetworkHost)
	if _, err := st.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0, root); err != unix.EAFNOSUPPORT {
		t.Errorf("AF_PACKET: %v", err)
	}
	if _, err := st.Socket(unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_AUDIT, root); err != unix.EPROTONOSUPPORT {
		t.Errorf("NETLINK_AUDIT: %v", err)
	}
	if _, _, err := st.Pair(unix.AF_INET, unix.SOCK_STREAM, 0, root); err != unix.EOPNOTSUPP {
		t.Errorf("socketpair(AF_INET): %v", err)
	}
}
