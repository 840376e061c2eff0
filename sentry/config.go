// Package sentry is kvsentry's kernel: tasks, thread groups, the syscall table and
// the syscall implementations, run against mm (memory), vfs (files) and a platform.
package sentry

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"kvsentry/vfs"
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
