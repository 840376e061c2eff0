//go:build ignore

/* execthread.c: execve(2) from a thread other than the leader (fs/exec.c
 * de_thread): every other thread is killed, and the execing thread takes over
 * the thread group leader's pid. Run without arguments, it forks a child that
 * starts three threads (one blocked in read(2), one sleeping, one that
 * execs this program again with "after PID PPID"); the new image checks its
 * identity and prints, and the parent reaps the child once. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include "kvproc.h"

static pid_t leader;
static int block_pipe[2];

static void *blocked_reader(void *arg)
{
	(void)arg;
	char c;
	read(block_pipe[0], &c, 1);
	return NULL;
}

static void *sleeper(void *arg)
{
	(void)arg;
	for (;;)
		sleep_ms(1000);
	return NULL;
}

static void *execer(void *arg)
{
	const char *self = arg;
	pid_t tid = kv_gettid();
	char spid[16], sppid[16], stid_is_leader[4];
	snprintf(spid, sizeof spid, "%d", (int)leader);
	snprintf(sppid, sizeof sppid, "%d", (int)getppid());
	snprintf(stid_is_leader, sizeof stid_is_leader, "%d", tid == leader);
	printf("thread before exec: getpid==leader=%d gettid==leader=%d tasks=%d\n", getpid() == leader, tid == leader,
	       count_tasks());
	fflush(stdout);
	char *argv[] = {(char *)self, "after", spid, sppid, stid_is_leader, NULL};
	char *envp[] = {"KVTEST_EXEC=thread", NULL};
	execve(self, argv, envp);
	printf("execve from thread: %s\n", errname2(errno));
	fflush(stdout);
	_exit(99);
}

static int after(char **argv)
{
	pid_t want_pid = atoi(argv[2]), want_ppid = atoi(argv[3]);
	printf("after exec: argv[4]=%s getpid==old leader=%d gettid==getpid=%d getppid unchanged=%d tasks=%d env=%s\n",
	       argv[4], getpid() == want_pid, kv_gettid() == getpid(), getppid() == want_ppid, count_tasks(),
	       getenv("KVTEST_EXEC"));
	/* The new image can start threads of its own. */
	pthread_t th;
	int e = pthread_create(&th, NULL, blocked_reader, NULL);
	printf("after exec: pthread_create %s tasks=%d\n", errname2(e), count_tasks());
	return 7;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 5 && strcmp(argv[1], "after") == 0) {
		pipe(block_pipe); /* never written: the new thread stays blocked */
		return after(argv);
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		leader = getpid();
		pipe(block_pipe);
		pthread_t a, b, c;
		pthread_create(&a, NULL, blocked_reader, NULL);
		pthread_create(&b, NULL, sleeper, NULL);
		while (count_tasks() != 3)
			sleep_ms(1);
		pthread_create(&c, NULL, execer, "/proc/self/exe");
		/* The leader waits; exec from the other thread ends it. */
		for (;;)
			sleep_ms(1000);
	}
	int st;
	pid_t r = waitpid(pid, &st, 0);
	printf("parent: waitpid returned the child's pid=%d %s\n", r == pid, status_str(st));
	errno = 0;
	r = waitpid(-1, &st, WNOHANG);
	printf("parent: nothing more to reap: ret=%d %s\n", (int)r, errname2(errno));
	return 0;
}
