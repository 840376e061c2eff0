//go:build ignore

/* spawn.c: posix_spawn(3), which musl implements with clone(CLONE_VM|
 * CLONE_VFORK) and execve(2): 200 children with checked exit statuses,
 * POSIX_SPAWN_SETSID and a child calling setsid(2) itself,
 * POSIX_SPAWN_SETPGROUP, file actions, posix_spawnp's PATH search, a missing
 * program (the error comes back from the child), and a child killed by
 * SIGKILL reported as signaled. Run as "spawn child MODE [N]" it is the child. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include "kvproc.h"

extern char **environ;

static int child(int argc, char **argv)
{
	const char *mode = argv[2];
	if (strcmp(mode, "exit") == 0)
		return atoi(argv[3]) & 255;
	if (strcmp(mode, "setsid") == 0) {
		pid_t me = getpid();
		int was_leader = getsid(0) == me;
		pid_t s = setsid();
		printf("spawned child: session leader before=%d setsid()==pid=%d getsid(0)==pid=%d getpgrp()==pid=%d\n",
		       was_leader, s == me, getsid(0) == me, getpgrp() == me);
		return 0;
	}
	if (strcmp(mode, "ids") == 0) {
		pid_t me = getpid();
		printf("spawned child: getsid(0)==pid=%d getpgrp()==pid=%d getppid()==parent=%d\n", getsid(0) == me,
		       getpgrp() == me, getppid() == atoi(argv[3]));
		return 0;
	}
	if (strcmp(mode, "kill") == 0) {
		kill(getpid(), SIGKILL);
		return 1;
	}
	(void)argc;
	return 100;
}

static pid_t spawn(const char *mode, const char *arg, const posix_spawn_file_actions_t *fa,
		   const posix_spawnattr_t *at, int *err)
{
	pid_t pid = -1;
	char *argv[] = {"spawn", "child", (char *)mode, (char *)arg, NULL};
	fflush(stdout);
	*err = posix_spawn(&pid, "/proc/self/exe", fa, at, argv, environ);
	return pid;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 3 && strcmp(argv[1], "child") == 0)
		return child(argc, argv);

	/* 200 children, each exiting with its own status, reaped in order. */
	int bad = 0, spawned = 0;
	for (int i = 0; i < 200; i++) {
		char n[16];
		snprintf(n, sizeof n, "%d", i);
		int err;
		pid_t pid = spawn("exit", n, NULL, NULL, &err);
		if (err) {
			bad++;
			continue;
		}
		spawned++;
		int st;
		if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != i)
			bad++;
	}
	printf("posix_spawn x200: spawned=%d statuses wrong=%d\n", spawned, bad);

	/* 50 at once, then reaped with wait(2) in any order. */
	int seen[50] = {0};
	for (int i = 0; i < 50; i++) {
		char n[16];
		snprintf(n, sizeof n, "%d", 100 + i);
		int err;
		spawn("exit", n, NULL, NULL, &err);
	}
	int reaped = 0, st;
	while (wait(&st) > 0) {
		reaped++;
		if (WIFEXITED(st) && WEXITSTATUS(st) >= 100 && WEXITSTATUS(st) < 150)
			seen[WEXITSTATUS(st) - 100]++;
	}
	int all = 1;
	for (int i = 0; i < 50; i++)
		all &= seen[i] == 1;
	printf("posix_spawn x50 concurrently: reaped=%d every status once=%d then wait: %s\n", reaped, all, errname2(errno));

	/* setsid in a spawned child, and POSIX_SPAWN_SETSID / SETPGROUP. */
	int err;
	pid_t pid = spawn("setsid", NULL, NULL, NULL, &err);
	printf("child calling setsid: spawn %s, %s\n", errname2(err), reap(pid));
	posix_spawnattr_t at;
	posix_spawnattr_init(&at);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID);
	char me[16];
	snprintf(me, sizeof me, "%d", (int)getpid());
	pid = spawn("ids", me, NULL, &at, &err);
	printf("POSIX_SPAWN_SETSID: spawn %s, %s\n", errname2(err), reap(pid));
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
	posix_spawnattr_setpgroup(&at, 0);
	pid = spawn("ids", me, NULL, &at, &err);
	printf("POSIX_SPAWN_SETPGROUP 0: spawn %s, %s\n", errname2(err), reap(pid));
	posix_spawnattr_destroy(&at);

	/* File actions: the child's stdout goes to a file. */
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/tmp/kvspawn.out", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	pid = spawn("ids", me, &fa, NULL, &err);
	printf("file actions: spawn %s, %s\n", errname2(err), reap(pid));
	posix_spawn_file_actions_destroy(&fa);
	char buf[256] = {0};
	int fd = open("/tmp/kvspawn.out", O_RDONLY);
	int n = read(fd, buf, sizeof buf - 1);
	close(fd);
	unlink("/tmp/kvspawn.out");
	printf("  the file holds: %s", n > 0 ? buf : "(nothing)\n");

	/* posix_spawnp searches PATH; a missing program's error comes back. */
	char *targv[] = {"true", NULL};
	err = posix_spawnp(&pid, "true", NULL, NULL, targv, environ);
	printf("posix_spawnp(true): %s, %s\n", errname2(err), err ? "-" : reap(pid));
	char *margv[] = {"missing", NULL};
	err = posix_spawn(&pid, "/no/such/program", NULL, NULL, margv, environ);
	printf("posix_spawn(/no/such/program): %s\n", errname2(err));
	if (err == 0)
		printf("  child %s\n", reap(pid));
	err = posix_spawnp(&pid, "no-such-program-anywhere", NULL, NULL, margv, environ);
	printf("posix_spawnp(no-such-program-anywhere): %s\n", errname2(err));
	if (err == 0)
		printf("  child %s\n", reap(pid));

	/* A child killed by SIGKILL, by itself and by the parent. */
	pid = spawn("kill", NULL, NULL, NULL, &err);
	printf("child killing itself with SIGKILL: spawn %s, %s\n", errname2(err), reap(pid));
	char *sargv[] = {"sleep", "10", NULL};
	err = posix_spawn(&pid, "/bin/sleep", NULL, NULL, sargv, environ);
	if (err == 0)
		kill(pid, SIGKILL);
	int ws;
	pid_t r = waitpid(pid, &ws, 0);
	printf("sleep killed by the parent: spawn %s, WIFSIGNALED=%d WTERMSIG=%d pid==child=%d\n", errname2(err),
	       WIFSIGNALED(ws), WIFSIGNALED(ws) ? WTERMSIG(ws) : 0, r == pid);
	return 0;
}
