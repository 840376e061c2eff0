// Package sentry is kvsentry's kernel: tasks, thread groups, the syscall table and
// the syscall implementations, run against mm (memory), vfs (files) and a platform.
package sentry

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"kvsentry/vfs"
	"kvsentry/vfs/tty"
)

// Config describes one sandbox run.
type Config struct {
	RootfsDir string
	Platform  string
	Argv      []string
	Env       []string
	Cwd       string
	Strace    bool
	StraceOut io.Writer
	Stdin     *os.File
	Stdout    *os.File
	Stderr    *os.File
	// Overlay is where writes to the rootfs go: "" or "memory" (kept in
	// memory, lost at exit), "none" (into the rootfs itself) or a host
	// directory keeping them for later runs.
	Overlay string
	// Mounts are host directories bind-mounted into the guest.
	Mounts []vfs.BindMount

	// Network is the network mode: "none" (default: a namespace with only
	// loopback) or "host". DNS, if set, are the guest's nameservers
	// (otherwise the host's resolv.conf); Hostname is the guest's hostname
	// (default DefaultHostname).
	Network  string
	DNS      []string
	Hostname string

	// TTY gives the guest a terminal (run -t): a pseudo-terminal pair
	// whose replica, /dev/pts/0 and /dev/console, is init's fds 0, 1 and 2
	// and its controlling terminal (init leads the session). OnConsole
	// gets the pair before the guest starts, to drive its master end.
	TTY       bool
	OnConsole func(*tty.PTY)
	// Interactive keeps the guest's stdin open (run -i). Without it the
	// guest's stdin is /dev/null, as with docker run without -i (with TTY
	// it is the terminal, which then gets no input).
	Interactive bool
}

// vfsOverlay maps Config.Overlay to the vfs options.
func (c *Config) vfsOverlay() (vfs.OverlayMode, string) {
	switch c.Overlay {
	case "", "memory":
		return vfs.OverlayMemory, ""
	case "none":
		return vfs.OverlayNone, ""
	}
	return vfs.OverlayDir, c.Overlay
}

// ExecError reports that the first program could not be executed.
type ExecError struct {
	Path  string
	Errno unix.Errno
}

func (e *ExecError) Error() string {
	if e.Errno == unix.ENOENT {
		return fmt.Sprintf("%s: not found", e.Path)
	}
	return fmt.Sprintf("%s: %v", e.Path, e.Errno)
}
