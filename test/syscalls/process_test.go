package syscalls

import (
	"testing"

	"kvsentry/test/internal/harness"
)

// TestWaitid compares waitid.c: waitid P_PID/P_PGID/P_ALL, WNOHANG, WNOWAIT,
// WSTOPPED/WCONTINUED, SIGKILLed children, zombies, orphans, SIGCHLD SIG_IGN
// auto-reaping and getrusage(RUSAGE_CHILDREN).
func TestWaitid(t *testing.T) {
	harness.RequireRoot(t)
	prog := harness.BuildAndInstallC(t, "waitid.c", "waitid", true)
	differential(t, []string{prog}, 0,
		"waitid(P_PID, WEXITED): ret=0 si_signo=17 si_code=CLD_EXITED si_status=3 si_pid==child=1 si_uid=0\n",
		"waitid(P_PID, WEXITED|WNOHANG) while running: ret=0 si_pid=0 si_signo=0\n",
		"waitid(P_PID, WEXITED|WNOWAIT) again: ret=0 si_signo=17 si_code=CLD_EXITED si_status=4",
		"wait4 after WNOWAIT: pid==child=1 exited 4\n  reaped: kill(pid, 0): ret=-1 ESRCH\n",
		"waitid(P_ALL) second: ret=0 si_signo=17 si_code=CLD_EXITED si_status=11",
		"waitid(P_PGID, a) twice: reaped a and b=1\n",
		"wait4 SIGKILLed child: pid==child=1 WIFSIGNALED=1 WTERMSIG=9 WCOREDUMP=0 WIFEXITED=0\n",
		"waitid(WSTOPPED): ret=0 si_signo=17 si_code=CLD_STOPPED si_status=19",
		"waitid(WCONTINUED) after SIGCONT: ret=0 si_signo=17 si_code=CLD_CONTINUED si_status=18",
		"wait4(WCONTINUED): pid==child=1 continued\n", "waitid(P_ALL, options 0): ret=-1 EINVAL\n",
		"SIGCHLD SIG_IGN: waitpid(-1): ret=-1 ECHILD\n", "SA_NOCLDWAIT: waitid(P_PID): ret=-1 ECHILD\n",
		"  utime>=0=1 stime>=0=1 usec<1e6=1 maxrss>=0=1\n",
		"orphan: ppid was parent=1 ppid changed after parent exit=1\n")
}

// TestProcessGroups compares pgrp.c: setpgid/getpgid/setsid/getsid and their
// EPERM, ESRCH, EACCES and EINVAL cases.
func TestProcessGroups(t *testing.T) {
	harness.RequireRoot(t)
	prog := harness.BuildAndInstallC(t, "pgrp.c", "pgrp", true)
	differential(t, []string{prog}, 0,
		"child: setsid()==own pid=1 getsid(0)==pid=1 getpgid(0)==pid=1 getpgrp()==pid=1\n",
		"child: setsid() as session leader: ret=-1 EPERM\n", "child: setpgid(parent, 0) not a child: ret=-1 ESRCH\n",
		"child: setpgid(0, -1): ret=-1 EINVAL\n", "child: getpgid(-1): ret=-1 ESRCH\n",
		"grandchild: setpgid(0, parent's group in another session): ret=-1 EPERM\n",
		"child: setpgid(grandchild in another session, 0): ret=-1 EPERM\n",
		"grandchild: group leader: setsid(): ret=-1 EPERM\n", "child: setpgid(b, no such group): ret=-1 EPERM\n",
		"child: setpgid(child after execve, 0): ret=-1 EACCES\n", "session leader child exited 0\n")
}

// TestPdeathsig compares pdeathsig.c: PR_SET_PDEATHSIG fires when the parent
// thread exits and when the parent process exits, and is not inherited.
func TestPdeathsig(t *testing.T) {
	harness.RequireRoot(t)
	prog := harness.BuildAndInstallC(t, "pdeathsig.c", "pdeathsig", true)
	differential(t, []string{prog}, 0,
		"PR_SET_PDEATHSIG(65): ret=-1 EINVAL\n",
		"thread's child: PR_GET_PDEATHSIG=10 parent was the process=1 got signal 10 after the thread exited; parent still the process=1\n",
		"process's child: parent was the process=1 forked child's PR_GET_PDEATHSIG=0 got signal 12 after its parent exited; parent changed=1\n")
}

// TestRlimits compares rlimit.c: RLIMIT_NOFILE (EMFILE, EBADF, EINVAL past the
// limit) and RLIMIT_NPROC (EAGAIN from fork as a non-root user).
func TestRlimits(t *testing.T) {
	harness.RequireRoot(t)
	prog := harness.BuildAndInstallC(t, "rlimit.c", "rlimit", true)
	differential(t, []string{prog}, 0,
		"opened more until: EMFILE, highest fd=15, opened some=1\n", "dup2(0, 16): ret=-1 EBADF\n",
		"fcntl(0, F_DUPFD, 16): ret=-1 EINVAL\n", "pipe: ret=-1 EMFILE\n", "dup2(0, 9) past the limit: ret=-1 EBADF\n",
		"first fork as uid 65534: ok=1\nsecond fork past RLIMIT_NPROC: ret=-1 EAGAIN\n",
		"fork after the first child was reaped: ok=1\n")
}

// TestPosixSpawn compares spawn.c: 200 posix_spawn children with checked
// statuses, setsid in a child, spawn attributes and file actions, and a
// SIGKILLed child reported as signaled.
func TestPosixSpawn(t *testing.T) {
	harness.RequireRoot(t)
	prog := harness.BuildAndInstallC(t, "spawn.c", "spawn", true)
	differential(t, []string{prog}, 0,
		"posix_spawn x200: spawned=200 statuses wrong=0\n",
		"posix_spawn x50 concurrently: reaped=50 every status once=1 then wait: ECHILD\n",
		"spawned child: session leader before=0 setsid()==pid=1 getsid(0)==pid=1 getpgrp()==pid=1\n",
		"POSIX_SPAWN_SETSID: spawn OK, exited 0\n", "posix_spawn(/no/such/program): ENOENT\n",
		"child killing itself with SIGKILL: spawn OK, killed by signal 9\n",
		"sleep killed by the parent: spawn OK, WIFSIGNALED=1 WTERMSIG=9 pid==child=1\n")
}
