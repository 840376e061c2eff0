package sentry

import (
	"golang.org/x/sys/unix"
)

func init() {
	register(unix.SYS_RESTART_SYSCALL, "", Full, "", sysRestartSyscall)
}

// sysRestartSyscall implements restart_syscall(2) (kernel/signal.c): it
// runs the restart function the interrupted syscall stored in the task;
// with none it fails with EINTR (do_no_restart_syscall).
func sysRestartSyscall(t *Task, a *sysArgs) (uint64, error) {
	fn := t.restart.fn
	if fn == nil {
		return 0, unix.EINTR
	}
	return fn(t)
}
