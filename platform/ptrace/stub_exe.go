package ptrace

import (
	"fmt"
	"sync"

	"golang.org/x/sys/unix"
)

// mfdExec is MFD_EXEC (Linux 6.3+): ask for an executable memfd even when
// vm.memfd_noexec would default to MFD_NOEXEC_SEAL (memfd_create(2)).
const mfdExec = 0x10

var (
	stubExeOnce sync.Once
	stubExePath string
	stubExeErr  error
)

// stubExecutable returns a path that executes the stub image: a read-only fd
// of a memfd holding stubELF, as /proc/self/fd/N. The fd is opened
// read-only because execve(2) fails with ETXTBSY on a file open for writing.
func stubExecutable() (string, error) {
	stubExeOnce.Do(func() {
		fd, err := unix.MemfdCreate("kvsentry-stub", unix.MFD_CLOEXEC|mfdExec)
		if err == unix.EINVAL {
			fd, err = unix.MemfdCreate("kvsentry-stub", unix.MFD_CLOEXEC)
		}
		if err != nil {
			stubExeErr = fmt.Errorf("ptrace: memfd_create for the stub: %w", err)
			return
		}
		defer unix.Close(fd)
		img := stubELF()
		if n, err := unix.Pwrite(fd, img, 0); err != nil || n != len(img) {
			stubExeErr = fmt.Errorf("ptrace: writing the stub image: %v", err)
			return
		}
		ro, err := unix.Open(fmt.Sprintf("/proc/self/fd/%d", fd), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			stubExeErr = fmt.Errorf("ptrace: reopening the stub image read-only: %w", err)
			return
		}
		if ro < 3 {
			// Keep clear of the fds ForkExec rewires in the child.
			hi, err := unix.FcntlInt(uintptr(ro), unix.F_DUPFD_CLOEXEC, 3)
			unix.Close(ro)
			if err != nil {
				stubExeErr = fmt.Errorf("ptrace: moving the stub image fd: %w", err)
				return
			}
			ro = hi
		}
		stubExePath = fmt.Sprintf("/proc/self/fd/%d", ro)
	})
	return stubExePath, stubExeErr
}
