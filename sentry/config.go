// Package sentry is kvsentry's kernel: tasks, thread groups, the syscall table and
// the syscall implementations, run against mm (memory), vfs (files) and a platform.
package sentry

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
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
