package syscalls

import (
	"testing"

	"kvsentry/test/internal/harness"
)

// TestNetUnix compares net_unix.c: AF_UNIX path sockets between two
// processes, socketpair, SCM_RIGHTS and SCM_CREDENTIALS, SO_PEERCRED,
// shutdown, non-blocking mode, abstract datagrams and seqpacket.
func TestNetUnix(t *testing.T) {
	harness.RequireRoot(t)
	prog := harness.BuildAndInstallC(t, "net_unix.c", "net_unix", true)
	differential(t, []string{prog}, 0,
		"server read 15: ping from child\n", "SO_PEERCRED: len=12 pid is child=1 uid=0 gid=0\n",
		"child read from passed fd: through a passed fd cloexec=1\n",
		"SCM_CREDENTIALS: n=1 type=2 pid is me=1 uid=0 gid=0\n",
		"recvfrom(5, MSG_TRUNC): ret=14 data=hello fromlen=17 from=kvtest-dgram-a\n",
		"seqpacket read(2): 2 on\n", "bind(bad pointer): ret=-1 EFAULT\n")
}

// TestNetInet compares net_inet.c on 127.0.0.1 (inside the sandbox's own
// network namespace): non-blocking connect, accept4 flags, half-close,
// options, UDP sendmmsg/recvmmsg and a 64 MiB transfer with a checksum.
func TestNetInet(t *testing.T) {
	harness.RequireRoot(t)
	prog := harness.BuildAndInstallC(t, "net_inet.c", "net_inet", true, "-O2")
	differential(t, []string{prog}, 0,
		"poll POLLOUT: revents=0x4 SO_ERROR=0\n", "accept4: ok=1 addrlen=16 family=2 nonblock=1 cloexec=1\n",
		"server recv: 4 half\n", "client recv (half-closed): 4 back\n", "recvmmsg: 4\n",
		"  [3] len=8 flags=0x20 namelen=16 data=delta-lo\n",
		"64 MiB transfer: got=67108864 checksum=a480fa0260000000 child=0\n")
}

// TestNetLookup compares getaddrinfo of localhost, of a name added to
// /etc/hosts and of a numeric address (the native side restores its
// /etc/hosts).
func TestNetLookup(t *testing.T) {
	harness.RequireRoot(t)
	prog := harness.BuildAndInstallC(t, "net_inet.c", "net_inet", true, "-O2")
	script := `cp /etc/hosts /tmp/hosts.kvtest && echo "10.1.2.3 kvtest-host.example" >> /etc/hosts && "$0" lookup; s=$?; cp /tmp/hosts.kvtest /etc/hosts; rm /tmp/hosts.kvtest; exit $s`
	differential(t, []string{"/bin/sh", "-c", script, prog}, 0,
		"getaddrinfo(localhost): 127.0.0.1 port 80\n", "getaddrinfo(kvtest-host.example): 10.1.2.3 port 80\n")
}
