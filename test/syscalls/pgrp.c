//go:build ignore

/* pgrp.c: process groups and sessions (setpgid(2), getpgid(2), setsid(2),
 * getsid(2); kernel/sys.c): who may move whom, and the EPERM, ESRCH, EACCES
 * and EINVAL cases. Everything runs in a child that first makes its own
 * session, so the result does not depend on how this program was started
 * (natively it is a group leader in the test runner's session; in the sandbox
 * it is pid 1). */
#define _GNU_SOURCE
#include <fcntl.h>
#include "kvproc.h"

/* child_waiting forks a child that runs fn (if any) and then waits until the
 * gate pipe is closed. Its pid is returned, the gate in *gate. */
static pid_t child_waiting(void (*fn)(void), int *gate)
{
	int p[2];
	pipe(p);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		close(p[1]);
		if (fn)
			fn();
		char c;
		read(p[0], &c, 1);
		_exit(0);
	}
	close(p[0]);
	*gate = p[1];
	return pid;
}

static int result_pipe[2];

/* report sends one line from a child to the session leader, which prints it
 * in order. */
static void report(const char *line)
{
	write(result_pipe[1], line, strlen(line));
}

static void new_session_child(void)
{
	char buf[256];
	pid_t me = getpid();
	pid_t sid = setsid();
	int n = snprintf(buf, sizeof buf, "grandchild: setsid()==own pid=%d getsid(0)==pid=%d getpgrp()==pid=%d\n", sid == me,
			 getsid(0) == me, getpgrp() == me);
	errno = 0;
	long r = setpgid(0, getppid());
	n += snprintf(buf + n, sizeof buf - n, "grandchild: setpgid(0, parent's group in another session): ret=%ld %s\n",
		      r, r < 0 ? errname2(errno) : "OK");
	errno = 0;
	r = setsid();
	n += snprintf(buf + n, sizeof buf - n, "grandchild: setsid() again: ret=%ld %s\n", r < 0 ? r : 0,
		      r < 0 ? errname2(errno) : "OK");
	report(buf);
}

static void group_leader_child(void)
{
	char buf[160];
	setpgid(0, 0);
	errno = 0;
	long r = setsid();
	snprintf(buf, sizeof buf, "grandchild: group leader: setsid(): ret=%ld %s\n", r < 0 ? r : 0,
		 r < 0 ? errname2(errno) : "OK");
	report(buf);
}

static void drain(void)
{
	char buf[512];
	int n = read(result_pipe[0], buf, sizeof buf - 1);
	if (n > 0) {
		buf[n] = 0;
		fputs(buf, stdout);
	}
}

static void leader(void)
{
	pid_t me = getpid();
	pid_t sid = setsid();
	printf("child: setsid()==own pid=%d getsid(0)==pid=%d getpgid(0)==pid=%d getpgrp()==pid=%d\n", sid == me,
	       getsid(0) == me, getpgid(0) == me, getpgrp() == me);
	CHECK2("child: setsid() as session leader", setsid());
	CHECK2("child: setpgid(0, 0) as session leader", setpgid(0, 0));
	CHECK2("child: setpgid(parent, 0) not a child", setpgid(getppid(), 0));
	CHECK2("child: setpgid(no such pid, 0)", setpgid(0x3fffffff, 0));
	CHECK2("child: setpgid(0, -1)", setpgid(0, -1));
	CHECK2("child: setpgid(-1, 0)", setpgid(-1, 0));
	CHECK2("child: getpgid(no such pid)", getpgid(0x3fffffff));
	CHECK2("child: getsid(no such pid)", getsid(0x3fffffff));
	CHECK2("child: getpgid(-1)", getpgid(-1));

	pipe(result_pipe);
	int gate;
	/* A grandchild in its own session: getsid sees it, setpgid cannot move it. */
	pid_t g = child_waiting(new_session_child, &gate);
	drain();
	printf("child: getsid(grandchild)==grandchild=%d getpgid(grandchild)==grandchild=%d\n", getsid(g) == g,
	       getpgid(g) == g);
	CHECK2("child: setpgid(grandchild in another session, 0)", setpgid(g, 0));
	CHECK2("child: setpgid(grandchild in another session, me)", setpgid(g, me));
	close(gate);
	printf("child: grandchild %s\n", reap(g));

	/* A process group leader cannot start a session. */
	g = child_waiting(group_leader_child, &gate);
	drain();
	close(gate);
	printf("child: grandchild %s\n", reap(g));

	/* Moving a child between groups of the same session. */
	pid_t a = child_waiting(NULL, &gate);
	int gate_b;
	pid_t b = child_waiting(NULL, &gate_b);
	CHECK2("child: setpgid(a, a)", setpgid(a, a));
	CHECK2("child: setpgid(b, a)", setpgid(b, a));
	printf("child: getpgid(b)==a=%d getsid(b)==me=%d\n", getpgid(b) == a, getsid(b) == me);
	CHECK2("child: setpgid(b, 0) its own group", setpgid(b, 0));
	CHECK2("child: setpgid(b, me) back to the session leader's group", setpgid(b, me));
	CHECK2("child: setpgid(b, no such group)", setpgid(b, 0x3fffffff));
	CHECK2("child: setpgid(b, b) again", setpgid(b, b));
	CHECK2("child: setpgid(a, b)", setpgid(a, b));
	close(gate);
	close(gate_b);
	printf("child: a %s\n", reap(a));
	printf("child: b %s\n", reap(b));

	/* A child that has called execve cannot be moved (EACCES). */
	int ex[2];
	pipe2(ex, O_CLOEXEC);
	int in[2];
	pipe(in);
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		close(ex[0]);
		close(in[1]);
		dup2(in[0], 0);
		execl("/bin/cat", "cat", (char *)NULL);
		_exit(127);
	}
	close(ex[1]);
	close(in[0]);
	char ch;
	read(ex[0], &ch, 1); /* EOF once the exec has happened */
	CHECK2("child: setpgid(child after execve, 0)", setpgid(c, 0));
	close(in[1]);
	printf("child: cat %s\n", reap(c));
	exit(0);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("getpgid(0)==getpgrp()=%d getsid(0)==getsid(getpid())=%d getpgid(getpid())==getpgrp()=%d\n",
	       getpgid(0) == getpgrp(), getsid(0) == getsid(getpid()), getpgid(getpid()) == getpgrp());
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0)
		leader();
	printf("session leader child %s\n", reap(pid));
	return 0;
}
