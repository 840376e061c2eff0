package sentry

import (
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"kvsentry/vfs"
	"kvsentry/vfs/socket"
)

// DefaultHostname is the guest's hostname when Config.Hostname is empty.
const DefaultHostname = "kvsentry"

// netState is a sandbox's network: its socket stack and names.
type netState struct {
	stack    *socket.Stack
	hostname string
}

// kernelNets maps each Kernel to its netState (kept beside the Kernel so
// the network needs no field in it).
var kernelNets sync.Map

// netStack returns the kernel's socket stack; a kernel without network
// setup (unit tests) gets a host-mode stack.
func (k *Kernel) netStack() *socket.Stack {
	if ns, ok := kernelNets.Load(k); ok {
		return ns.(*netState).stack
	}
	st, _ := socket.NewStack(socket.NetworkHost)
	return st
}

// hostname returns the guest's hostname (uname's nodename).
func (k *Kernel) hostname() string {
	if ns, ok := kernelNets.Load(k); ok {
		return ns.(*netState).hostname
	}
	return DefaultHostname
}

// cfgHostname is cfg.Hostname or the default.
func cfgHostname(cfg Config) string {
	if cfg.Hostname != "" {
		return cfg.Hostname
	}
	return DefaultHostname
}

// setupNetwork creates the sandbox's socket stack for cfg.Network and
// writes /etc/resolv.conf and /etc/hosts (with --network=host, --dns or
// --hostname) and /etc/hostname (with --hostname) into the guest's
// writable layer, as docker provides them.
func (k *Kernel) setupNetwork(cfg Config) error {
	mode := cfg.Network
	if mode == "" {
		mode = socket.NetworkNone
	}
	st, err := socket.NewStack(mode)
	if err != nil {
		return fmt.Errorf("network %s: %w", mode, err)
	}
	name := cfgHostname(cfg)
	kernelNets.Store(k, &netState{stack: st, hostname: name})
	// The rootfs's own files stay unless the run asks for the host's
	// network or names its own DNS or hostname: an isolated sandbox has no
	// use for the host's resolver.
	files := map[string]string{}
	if mode == socket.NetworkHost || len(cfg.DNS) > 0 {
		files["/etc/resolv.conf"] = resolvConf(cfg.DNS)
	}
	if mode == socket.NetworkHost || cfg.Hostname != "" {
		files["/etc/hosts"] = hostsFile(name)
	}
	if cfg.Hostname != "" {
		files["/etc/hostname"] = name + "\n"
	}
	for p, content := range files {
		// Writing through to the rootfs itself (--overlay none) must not
		// replace the files it already has.
		if err := k.writeGuestFile(p, content, cfg.Overlay == "none"); err != nil && err != unix.EEXIST {
			logrus.Warnf("network: writing %s in the guest: %v", p, err)
		}
	}
	return nil
}

// resolvConf is the guest's resolv.conf: nameservers from --dns, else the
// host's file.
func resolvConf(dns []string) string {
	if len(dns) > 0 {
		var b strings.Builder
		for _, s := range dns {
			fmt.Fprintf(&b, "nameserver %s\n", s)
		}
		return b.String()
	}
	if b, err := os.ReadFile("/etc/resolv.conf"); err == nil {
		return string(b)
	}
	return "nameserver 127.0.0.1\n"
}

// hostsFile is the host's /etc/hosts with the guest's hostname added for
// 127.0.0.1 when the file does not name it.
func hostsFile(hostname string) string {
	b, err := os.ReadFile("/etc/hosts")
	s := string(b)
	if err != nil || s == "" {
		s = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
	}
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		for _, n := range f[min(1, len(f)):] {
			if n == hostname {
				return s
			}
		}
	}
	return s + "127.0.0.1\t" + hostname + "\n"
}

// writeGuestFile creates or replaces a file in the guest as root.
func (k *Kernel) writeGuestFile(path, content string, keep bool) error {
	root := k.vfs.Root()
	c := &vfs.Ctx{Root: root, Cwd: root, Creds: vfs.Creds{Groups: []uint32{0}}}
	flags := unix.O_WRONLY | unix.O_CREAT | unix.O_TRUNC
	if keep {
		flags = unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL
	}
	f, err := k.vfs.Open(c, vfs.Path{}, path, flags, 0o644)
	if err != nil {
		return err
	}
	defer f.DecRef()
	_, err = f.Write([]byte(content))
	return err
}

// monoNow is CLOCK_MONOTONIC in nanoseconds.
func monoNow() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}
