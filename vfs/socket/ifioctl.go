package socket

import (
	"golang.org/x/sys/unix"
)

// Interface ioctls on any socket (net/core/dev_ioctl.c): they read the
// network interfaces of the sandbox's namespace. Changing interfaces is not
// offered (EPERM), as for a process without CAP_NET_ADMIN in the host.

// IfreqSize is sizeof(struct ifreq) on x86-64.
const IfreqSize = 40

// IsInterfaceIoctl reports whether cmd is one of the interface ioctls the
// stack answers.
func IsInterfaceIoctl(cmd uint32) bool {
	switch cmd {
	case unix.SIOCGIFCONF, unix.SIOCGIFFLAGS, unix.SIOCGIFADDR, unix.SIOCGIFDSTADDR,
		unix.SIOCGIFBRDADDR, unix.SIOCGIFNETMASK, unix.SIOCGIFMETRIC, unix.SIOCGIFMTU,
		unix.SIOCGIFHWADDR, unix.SIOCGIFINDEX, unix.SIOCGIFNAME, unix.SIOCGIFTXQLEN, unix.SIOCGIFMAP,
		unix.SIOCSIFFLAGS, unix.SIOCSIFADDR, unix.SIOCSIFNETMASK, unix.SIOCSIFMTU, unix.SIOCSIFBRDADDR:
		return true
	}
	return false
}

// InterfaceIoctl runs an interface ioctl whose argument is a struct ifreq
// (ifr, IfreqSize bytes, updated in place) in the stack's namespace.
func (st *Stack) InterfaceIoctl(cmd uint32, ifr []byte) error {
	if len(ifr) < IfreqSize {
		return unix.EFAULT
	}
	switch cmd {
	case unix.SIOCSIFFLAGS, unix.SIOCSIFADDR, unix.SIOCSIFNETMASK, unix.SIOCSIFMTU, unix.SIOCSIFBRDADDR:
		return unix.EPERM
	}
	fd, err := st.hostSocketFD(unix.AF_INET, unix.SOCK_DGRAM, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return ioctlBuf(fd, uint(cmd), ifr)
}

// InterfaceConf answers SIOCGIFCONF: the ifreq records of the IPv4
// interfaces, at most size bytes of them (size 0: just the needed size).
func (st *Stack) InterfaceConf(size int) ([]byte, int, error) {
	fd, err := st.hostSocketFD(unix.AF_INET, unix.SOCK_DGRAM, 0)
	if err != nil {
		return nil, 0, err
	}
	defer unix.Close(fd)
	// Ask for everything, then cut to whole records that fit.
	buf := make([]byte, 64*IfreqSize)
	n, err := ifconf(fd, buf)
	if err != nil {
		return nil, 0, err
	}
	if size == 0 {
		return nil, n, nil
	}
	n = min(n, size/IfreqSize*IfreqSize)
	return buf[:n], n, nil
}
