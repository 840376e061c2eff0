package sentry

// restartFunc is what restart_syscall(2) runs to resume an interrupted
// sleep; it returns the syscall's result as a syscall handler does.
type restartFunc func(t *Task) (uint64, error)

// restartBlock is Linux's struct restart_block (include/linux/restart_block.h):
// the function and state a sleeping syscall leaves in its task when a
// signal interrupts it with ERESTART_RESTARTBLOCK. The state (absolute
// deadline, clock, user pointers) lives in fn's closure. A nil fn is
// do_no_restart_syscall: restart_syscall then fails with EINTR. Only the
// task's own goroutine touches it.
type restartBlock struct {
	fn restartFunc
}

// setRestart stores fn for restart_syscall and returns
// ERESTART_RESTARTBLOCK (set_restart_fn). Signal delivery turns that code
// into EINTR when a handler runs, or into a restart_syscall (rax = 219)
// when none does.
func (t *Task) setRestart(fn restartFunc) error {
	t.restart.fn = fn
	return errRestartRestartB
}

// clearRestart makes a later restart_syscall fail with EINTR
// (restart_block.fn = do_no_restart_syscall), as nanosleep's entry and
// rt_sigreturn do.
func (t *Task) clearRestart() { t.restart.fn = nil }
