//go:build ignore

/* waitid.c: waiting for children (wait(2), waitid(2), wait4(2),
 * kernel/exit.c do_wait): waitid P_PID/P_PGID/P_ALL with WEXITED, WNOHANG,
 * WNOWAIT then a real wait, WSTOPPED/WCONTINUED around SIGSTOP/SIGCONT (and
 * wait4's WUNTRACED/WCONTINUED), a child killed by SIGKILL (WIFSIGNALED),
 * a zombie until reaped, an orphaned grandchild reparented away from its dead
 * parent, SIGCHLD set to SIG_IGN and SA_NOCLDWAIT auto-reaping (ECHILD),
 * getrusage(2) RUSAGE_CHILDREN, and the errno of bad arguments.
 * In the sandbox this program is pid 1 and so inherits orphans; the orphan
 * case runs last and every other wait names its child or runs before it. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/resource.h>
#include "kvproc.h"

/* spawn_exit forks a child that exits with code after ms milliseconds. */
static pid_t spawn_exit(int code, long ms)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		if (ms)
			sleep_ms(ms);
		_exit(code);
	}
	return pid;
}

/* spawn_gated forks a child that exits with code once *gate (the write end of a
 * pipe, kept by the parent) is closed. */
static pid_t spawn_gated(int code, int *gate)
{
	int p[2];
	pipe(p);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		char c;
		close(p[1]);
		read(p[0], &c, 1);
		_exit(code);
	}
	close(p[0]);
	*gate = p[1];
	return pid;
}

/* spawn_pause forks a child that waits for signals forever. */
static pid_t spawn_pause(void)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		for (;;)
			pause();
	}
	return pid;
}

static const char *code_name(int code)
{
	switch (code) {
	case CLD_EXITED: return "CLD_EXITED";
	case CLD_KILLED: return "CLD_KILLED";
	case CLD_DUMPED: return "CLD_DUMPED";
	case CLD_STOPPED: return "CLD_STOPPED";
	case CLD_CONTINUED: return "CLD_CONTINUED";
	case 0: return "0";
	}
	return "other";
}

/* show calls waitid and prints the result and the siginfo it filled, relative
 * to the expected pid. */
static void show(const char *label, idtype_t idtype, id_t id, int options, pid_t want)
{
	siginfo_t si;
	memset(&si, 0x5a, sizeof si);
	errno = 0;
	int r = waitid(idtype, id, &si, options);
	if (r < 0) {
		printf("%s: ret=-1 %s\n", label, errname2(errno));
		return;
	}
	if (si.si_pid == 0) {
		printf("%s: ret=0 si_pid=0 si_signo=%d\n", label, si.si_signo);
		return;
	}
	printf("%s: ret=0 si_signo=%d si_code=%s si_status=%d si_pid==child=%d si_uid=%d\n", label, si.si_signo,
	       code_name(si.si_code), si.si_status, si.si_pid == want, (int)si.si_uid);
}

static void basics(void)
{
	pid_t pid = spawn_exit(3, 0);
	show("waitid(P_PID, WEXITED)", P_PID, pid, WEXITED, pid);
	show("waitid(P_PID) again", P_PID, pid, WEXITED, pid);

	int gate;
	pid = spawn_gated(4, &gate);
	show("waitid(P_PID, WEXITED|WNOHANG) while running", P_PID, pid, WEXITED | WNOHANG, pid);
	int st = 0;
	errno = 0;
	printf("waitpid(WNOHANG) while running: ret=%d\n", (int)waitpid(pid, &st, WNOHANG));
	close(gate);
	show("waitid(P_PID, WEXITED|WNOWAIT)", P_PID, pid, WEXITED | WNOWAIT, pid);
	printf("  zombie still there: kill(pid, 0)=%d\n", kill(pid, 0));
	show("waitid(P_PID, WEXITED|WNOWAIT) again", P_PID, pid, WEXITED | WNOWAIT, pid);
	show("waitid(P_ALL, WEXITED|WNOHANG|WNOWAIT)", P_ALL, 0, WEXITED | WNOHANG | WNOWAIT, pid);
	errno = 0;
	pid_t r = wait4(pid, &st, 0, NULL);
	printf("wait4 after WNOWAIT: pid==child=%d %s\n", r == pid, status_str(st));
	CHECK2("  reaped: kill(pid, 0)", kill(pid, 0));

	/* P_ALL with two children, reported in order of their exits. */
	pid_t a = spawn_exit(10, 0), b = spawn_gated(11, &gate);
	show("waitid(P_ALL) first", P_ALL, 0, WEXITED, a);
	close(gate);
	show("waitid(P_ALL) second", P_ALL, 0, WEXITED, b);
	show("waitid(P_ALL) none left", P_ALL, 0, WEXITED, 0);
	show("waitid(P_ALL, WNOHANG) none left", P_ALL, 0, WEXITED | WNOHANG, 0);
}

static void pgid(void)
{
	/* Two children in a new process group led by the first. */
	int go[2];
	pipe(go);
	fflush(stdout);
	pid_t a = fork();
	if (a == 0) {
		char c;
		close(go[1]);
		read(go[0], &c, 1);
		_exit(20);
	}
	setpgid(a, a);
	pid_t b = fork();
	if (b == 0) {
		char c;
		close(go[1]);
		read(go[0], &c, 1);
		_exit(21);
	}
	setpgid(b, a);
	pid_t other = spawn_exit(22, 0); /* stays in our group */
	printf("pgid: getpgid(a)==a=%d getpgid(b)==a=%d\n", getpgid(a) == a, getpgid(b) == a);
	show("waitid(P_PGID, a, WNOHANG) before exit", P_PGID, a, WEXITED | WNOHANG, 0);
	close(go[0]);
	close(go[1]); /* both read EOF and exit */
	int seen = 0;
	for (int i = 0; i < 2; i++) {
		siginfo_t si;
		memset(&si, 0, sizeof si);
		if (waitid(P_PGID, a, &si, WEXITED) == 0)
			seen |= si.si_pid == a && si.si_status == 20 ? 1 : si.si_pid == b && si.si_status == 21 ? 2 : 4;
	}
	printf("waitid(P_PGID, a) twice: reaped a and b=%d\n", seen == 3);
	show("waitid(P_PGID, a) none left", P_PGID, a, WEXITED, 0);
	CHECK2("waitpid(-a, WNOHANG) none left", waitpid(-a, NULL, WNOHANG));
	show("waitid(P_PGID, 0) = own group", P_PGID, 0, WEXITED, other);
	a = spawn_exit(23, 0);
	setpgid(a, a);
	int st;
	pid_t r = waitpid(-a, &st, 0);
	printf("waitpid(-pgid): pid==child=%d %s\n", r == a, status_str(st));
}

static void killed(void)
{
	pid_t pid = spawn_pause();
	kill(pid, SIGKILL);
	int st;
	pid_t r = wait4(pid, &st, 0, NULL);
	printf("wait4 SIGKILLed child: pid==child=%d WIFSIGNALED=%d WTERMSIG=%d WCOREDUMP=%d WIFEXITED=%d\n", r == pid,
	       WIFSIGNALED(st), WIFSIGNALED(st) ? WTERMSIG(st) : -1, WCOREDUMP(st) ? 1 : 0, WIFEXITED(st));
	pid = spawn_pause();
	kill(pid, SIGTERM);
	show("waitid SIGTERMed child", P_PID, pid, WEXITED, pid);
}

static void stop_continue(void)
{
	pid_t pid = spawn_pause();
	show("waitid(WSTOPPED|WNOHANG) running", P_PID, pid, WSTOPPED | WNOHANG, pid);
	kill(pid, SIGSTOP);
	show("waitid(WSTOPPED|WNOWAIT) after SIGSTOP", P_PID, pid, WSTOPPED | WNOWAIT, pid);
	show("waitid(WSTOPPED)", P_PID, pid, WSTOPPED, pid);
	show("waitid(WSTOPPED|WNOHANG) already reported", P_PID, pid, WSTOPPED | WNOHANG, pid);
	show("waitid(WEXITED|WNOHANG) while stopped", P_PID, pid, WEXITED | WNOHANG, pid);
	kill(pid, SIGCONT);
	show("waitid(WCONTINUED) after SIGCONT", P_PID, pid, WCONTINUED, pid);
	show("waitid(WCONTINUED|WNOHANG) already reported", P_PID, pid, WCONTINUED | WNOHANG, pid);

	/* The same through wait4's WUNTRACED and WCONTINUED. */
	int st;
	kill(pid, SIGSTOP);
	pid_t r = wait4(pid, &st, WUNTRACED, NULL);
	printf("wait4(WUNTRACED): pid==child=%d %s\n", r == pid, status_str(st));
	kill(pid, SIGCONT);
	r = wait4(pid, &st, WCONTINUED, NULL);
	printf("wait4(WCONTINUED): pid==child=%d %s\n", r == pid, status_str(st));
	kill(pid, SIGSTOP);
	r = waitpid(pid, &st, WUNTRACED);
	printf("waitpid(WUNTRACED): pid==child=%d %s\n", r == pid, status_str(st));
	/* SIGKILL ends a stopped child. */
	kill(pid, SIGKILL);
	r = waitpid(pid, &st, 0);
	printf("stopped child SIGKILLed: pid==child=%d %s\n", r == pid, status_str(st));
}

static void errors(void)
{
	siginfo_t si;
	CHECK2("waitid(P_ALL, options 0)", waitid(P_ALL, 0, &si, 0));
	CHECK2("waitid(idtype 42)", waitid((idtype_t)42, 0, &si, WEXITED));
	CHECK2("waitid(P_ALL, bad option bit)", waitid(P_ALL, 0, &si, WEXITED | 0x10000));
	CHECK2("waitid(P_PID, no child)", waitid(P_PID, 0x3fffffff, &si, WEXITED));
	CHECK2("waitid(P_PID, no children at all)", waitid(P_ALL, 0, &si, WEXITED));
	CHECK2("waitpid(-1) no children", waitpid(-1, NULL, 0));
	CHECK2("wait4(bad options)", wait4(-1, NULL, 0x10000, NULL));
	/* The child is reaped before the copy-out fails (kernel/exit.c). */
	pid_t pid = spawn_exit(5, 0);
	CHECK2("waitid(P_PID, infop 0x10)", syscall(SYS_waitid, P_PID, pid, (void *)0x10, WEXITED, NULL));
	printf("  then waitpid: %s\n", reap(pid));
	pid = spawn_exit(5, 0);
	CHECK2("wait4(status 0x10)", wait4(pid, (int *)0x10, 0, NULL));
	printf("  then waitpid: %s\n", reap(pid));
}

static void ignored_sigchld(void)
{
	/* SIGCHLD ignored: children are reaped at once; wait blocks until the last
	 * one has gone, then fails with ECHILD. */
	signal(SIGCHLD, SIG_IGN);
	pid_t a = spawn_exit(1, 0), b = spawn_exit(2, 100);
	CHECK2("SIGCHLD SIG_IGN: waitpid(-1)", waitpid(-1, NULL, 0));
	CHECK2("  child a gone: kill(a, 0)", kill(a, 0));
	CHECK2("  child b gone: kill(b, 0)", kill(b, 0));
	signal(SIGCHLD, SIG_DFL);

	struct sigaction sa = {.sa_handler = SIG_DFL, .sa_flags = SA_NOCLDWAIT};
	sigaction(SIGCHLD, &sa, NULL);
	a = spawn_exit(1, 50);
	siginfo_t si;
	CHECK2("SA_NOCLDWAIT: waitid(P_PID)", waitid(P_PID, a, &si, WEXITED));
	sa.sa_flags = 0;
	sigaction(SIGCHLD, &sa, NULL);
	pid_t c = spawn_exit(6, 0);
	printf("SIGCHLD back to SIG_DFL: child %s\n", reap(c));
}

static void rusage(void)
{
	/* A child that burns a little CPU before exiting. */
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		volatile unsigned long x = 0;
		for (unsigned long i = 0; i < 20000000UL; i++)
			x += i;
		_exit(0);
	}
	struct rusage ru;
	memset(&ru, 0, sizeof ru);
	int st;
	pid_t r = wait4(pid, &st, 0, &ru);
	printf("wait4 with rusage: pid==child=%d %s utime>=0=%d stime>=0=%d\n", r == pid, status_str(st),
	       ru.ru_utime.tv_sec >= 0 && ru.ru_utime.tv_usec >= 0, ru.ru_stime.tv_sec >= 0 && ru.ru_stime.tv_usec >= 0);
	CHECK2("getrusage(RUSAGE_CHILDREN)", getrusage(RUSAGE_CHILDREN, &ru));
	printf("  utime>=0=%d stime>=0=%d usec<1e6=%d maxrss>=0=%d\n", ru.ru_utime.tv_sec >= 0 && ru.ru_utime.tv_usec >= 0,
	       ru.ru_stime.tv_sec >= 0 && ru.ru_stime.tv_usec >= 0,
	       ru.ru_utime.tv_usec < 1000000 && ru.ru_stime.tv_usec < 1000000, ru.ru_maxrss >= 0);
	CHECK2("getrusage(RUSAGE_SELF)", getrusage(RUSAGE_SELF, &ru));
	CHECK2("getrusage(RUSAGE_THREAD)", getrusage(1 /* RUSAGE_THREAD */, &ru));
	CHECK2("getrusage(who 5)", getrusage(5, &ru));
	CHECK2("getrusage(RUSAGE_SELF, 0x10)", getrusage(RUSAGE_SELF, (struct rusage *)0x10));
}

static void orphan(void)
{
	/* parent forks grandchild, then exits; the grandchild sees its parent change. */
	int rep[2];
	pipe(rep);
	fflush(stdout);
	pid_t parent = fork();
	if (parent == 0) {
		pid_t me = getpid();
		int ready[2];
		pipe(ready);
		pid_t g = fork();
		if (g == 0) {
			close(ready[0]);
			int before = getppid() == me;
			write(ready[1], "x", 1);
			int changed = 0;
			for (int i = 0; i < 5000 && !(changed = getppid() != me); i++)
				sleep_ms(1);
			char buf[128];
			int n = snprintf(buf, sizeof buf, "orphan: ppid was parent=%d ppid changed after parent exit=%d\n",
					 before, changed);
			write(rep[1], buf, n);
			_exit(0);
		}
		char c;
		close(ready[1]);
		read(ready[0], &c, 1);
		_exit(8);
	}
	close(rep[1]);
	printf("orphan's parent %s\n", reap(parent));
	char buf[128];
	int n = read(rep[0], buf, sizeof buf - 1);
	if (n > 0) {
		buf[n] = 0;
		fputs(buf, stdout);
	}
	close(rep[0]);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	basics();
	pgid();
	killed();
	stop_continue();
	errors();
	ignored_sigchld();
	rusage();
	orphan();
	return 0;
}
