package socket

import (
	"fmt"
	"runtime"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// Network modes of a sandbox (kvsentry run --network).
const (
	// NetworkNone: a fresh host network namespace with only loopback up.
	NetworkNone = "none"
	// NetworkHost: the host's network.
	NetworkHost = "host"
)

// Stack creates a sandbox's sockets: AF_UNIX in memory, the others as host
// sockets in the sandbox's network namespace.
type Stack struct {
	mode string
	// reqs runs functions on the thread that lives in the sandbox's
	// network namespace (NetworkNone); nil in NetworkHost mode.
	reqs chan func()
}

// NewStack prepares a stack for mode. For NetworkNone it starts a locked OS
// thread that unshares CLONE_NEWNET, brings lo up and stays there: sockets
// keep the namespace they were created in, so only socket(2) runs on it.
func NewStack(mode string) (*Stack, error) {
	switch mode {
	case NetworkHost:
		return &Stack{mode: mode}, nil
	case NetworkNone, "":
	default:
		return nil, fmt.Errorf("unknown network mode %q (want none or host)", mode)
	}
	st := &Stack{mode: NetworkNone, reqs: make(chan func())}
	ready := make(chan error, 1)
	go func() {
		// Never unlocked: the thread leaves with the goroutine instead of
		// going back to the scheduler in a foreign namespace.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ready <- fmt.Errorf("unshare(CLONE_NEWNET): %w", err)
			return
		}
		if err := loopbackUp(); err != nil {
			ready <- fmt.Errorf("bringing up lo: %w", err)
			return
		}
		ready <- nil
		for f := range st.reqs {
			f()
		}
	}()
	if err := <-ready; err != nil {
		return nil, err
	}
	logrus.Debug("socket: network namespace with loopback only ready")
	return st, nil
}

// Mode returns the stack's network mode.
func (st *Stack) Mode() string { return st.mode }

// loopbackUp sets IFF_UP on lo (SIOCSIFFLAGS), on the calling thread's
// namespace.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

// hostSocketFD creates a non-blocking host socket in the stack's namespace.
func (st *Stack) hostSocketFD(family, typ, proto int) (int, error) {
	mk := func() (int, error) {
		return unix.Socket(family, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, proto)
	}
	if st.reqs == nil {
		return mk()
	}
	type res struct {
		fd  int
		err error
	}
	ch := make(chan res, 1)
	st.reqs <- func() {
		fd, err := mk()
		ch <- res{fd, err}
	}
	r := <-ch
	return r.fd, r.err
}

// Socket creates a socket as socket(2) does (__sock_create): typ without
// SOCK_NONBLOCK/SOCK_CLOEXEC.
func (st *Stack) Socket(family, typ, proto int, owner Cred) (Socket, error) {
	switch family {
	case unix.AF_UNIX:
		return NewUnix(typ, proto, owner)
	case unix.AF_INET, unix.AF_INET6:
		if typ != unix.SOCK_STREAM && typ != unix.SOCK_DGRAM {
			if typ == unix.SOCK_RAW {
				return nil, unix.EPERM
			}
			return nil, unix.ESOCKTNOSUPPORT
		}
	case unix.AF_NETLINK:
		if typ != unix.SOCK_RAW && typ != unix.SOCK_DGRAM {
			return nil, unix.ESOCKTNOSUPPORT
		}
		if proto != unix.NETLINK_ROUTE {
			return nil, unix.EPROTONOSUPPORT
		}
	default:
		return nil, unix.EAFNOSUPPORT
	}
	fd, err := st.hostSocketFD(family, typ, proto)
	if err != nil {
		if e, ok := err.(unix.Errno); ok {
			return nil, e
		}
		return nil, unix.ENOMEM
	}
	return newHostSocket(fd, family, typ, proto, owner)
}

// Pair creates a connected pair (socketpair(2)); only AF_UNIX has them.
func (st *Stack) Pair(family, typ, proto int, owner Cred) (Socket, Socket, error) {
	switch family {
	case unix.AF_UNIX:
		return UnixPair(typ, proto, owner)
	case unix.AF_INET, unix.AF_INET6, unix.AF_NETLINK:
		return nil, nil, unix.EOPNOTSUPP
	}
	return nil, nil, unix.EAFNOSUPPORT
}
