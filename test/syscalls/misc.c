//go:build ignore

/* misc.c: identity and time syscalls (uname(2), getpid(2), getuid(2),
 * clock_gettime(2), nanosleep(2), getrandom(2), gettimeofday(2), umask(2),
 * getrlimit(2), sysinfo(2), sched_getaffinity(2), prctl(2)) and basic signal
 * delivery (sigaction(2), sigprocmask(2), kill(2)). Prints relations, not values
 * that vary between runs. */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "kvtest.h"

static volatile sig_atomic_t got;
static volatile int got_code;

static void handler(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	got = sig;
	got_code = si->si_code;
}

static long long ns(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct utsname u;
	CHECK("uname", uname(&u));
	printf("  sysname=%s machine=%s\n", u.sysname, u.machine);

	pid_t pid = getpid(), ppid = getppid();
	/* The first process of a sandbox is pid 1 of its own pid namespace, whose
	 * parent is 0 (see ../DIVERGENCES.md), so only ppid >= 0 is compared. */
	printf("getpid>0=%d getppid>=0=%d differ=%d\n", pid > 0, ppid >= 0, pid != ppid);
	printf("gettid==getpid=%d\n", (pid_t)syscall(SYS_gettid) == pid);
	printf("getpgrp==getpid=%d\n", getpgrp() == pid);
	pid_t child = fork();
	if (child == 0) {
		printf("child: getppid==parent=%d getpid!=parent=%d\n", getppid() == pid, getpid() != pid);
		_exit(0);
	}
	int st;
	printf("waitpid returned the child=%d\n", waitpid(child, &st, 0) == child);
	printf("uid=%d euid=%d gid=%d egid=%d\n", getuid(), geteuid(), getgid(), getegid());

	long long m1 = ns(CLOCK_MONOTONIC), m2 = ns(CLOCK_MONOTONIC);
	printf("monotonic non-decreasing=%d positive=%d\n", m2 >= m1, m1 > 0);
	struct timespec res;
	CHECK("clock_getres(MONOTONIC)", clock_getres(CLOCK_MONOTONIC, &res));
	printf("  res=%ld.%09ld\n", (long)res.tv_sec, res.tv_nsec);
	CHECK("clock_gettime(bad clock)", clock_gettime((clockid_t)1234, &res));
	struct timespec req = {0, 10 * 1000 * 1000};
	long long t0 = ns(CLOCK_MONOTONIC);
	CHECK("nanosleep(10ms)", nanosleep(&req, NULL));
	long long slept = ns(CLOCK_MONOTONIC) - t0;
	printf("  slept>=10ms=%d slept<5s=%d\n", slept >= 10000000LL, slept < 5000000000LL);
	struct timespec bad = {0, 1000000000L};
	CHECK("nanosleep(tv_nsec=1e9)", nanosleep(&bad, NULL));
	bad.tv_sec = -1;
	bad.tv_nsec = 0;
	CHECK("nanosleep(tv_sec=-1)", nanosleep(&bad, NULL));

	unsigned char rnd[16];
	CHECK("getrandom(16)", getrandom(rnd, sizeof rnd, 0));
	CHECK("getrandom(bad flags)", getrandom(rnd, sizeof rnd, 0x1000));

	struct timeval tv;
	CHECK("gettimeofday", gettimeofday(&tv, NULL));
	long long rt = ns(CLOCK_REALTIME);
	printf("  after 2023=%d usec<1e6=%d close to CLOCK_REALTIME=%d\n", tv.tv_sec > 1672531200,
	       tv.tv_usec < 1000000, llabs(rt / 1000000000LL - tv.tv_sec) <= 2);
	printf("time(NULL) close to gettimeofday=%d\n", llabs((long long)time(NULL) - tv.tv_sec) <= 2);

	printf("umask(027) returned %03o\n", umask(027));
	printf("umask(022) returned %03o\n", umask(022));
	printf("umask(01777) returned %03o\n", umask(01777));
	printf("umask(022) returned %03o\n", umask(022));

	struct rlimit rl;
	CHECK("getrlimit(NOFILE)", getrlimit(RLIMIT_NOFILE, &rl));
	printf("  soft<=hard=%d soft>=64=%d\n", rl.rlim_cur <= rl.rlim_max, rl.rlim_cur >= 64);
	struct rlimit lower = {64, rl.rlim_max};
	CHECK("setrlimit(NOFILE, 64)", setrlimit(RLIMIT_NOFILE, &lower));
	CHECK("getrlimit(NOFILE)", getrlimit(RLIMIT_NOFILE, &rl));
	printf("  soft=%ld\n", (long)rl.rlim_cur);
	CHECK("dup2(0, 64) beyond the limit", dup2(0, 64));
	struct rlimit inverted = {100, 50};
	CHECK("setrlimit(soft>hard)", setrlimit(RLIMIT_NOFILE, &inverted));
	CHECK("getrlimit(bad resource)", getrlimit(1000, &rl));

	struct sysinfo si;
	CHECK("sysinfo", sysinfo(&si));
	printf("  totalram>0=%d mem_unit>0=%d procs>0=%d\n", si.totalram > 0, si.mem_unit > 0, si.procs > 0);
	cpu_set_t set;
	CPU_ZERO(&set);
	CHECK("sched_getaffinity", sched_getaffinity(0, sizeof set, &set));
	printf("  cpus>=1=%d\n", CPU_COUNT(&set) >= 1);
	printf("sysconf(_SC_NPROCESSORS_ONLN)>=1=%d\n", sysconf(_SC_NPROCESSORS_ONLN) >= 1);

	char name[16] = {0};
	CHECK("prctl(PR_SET_NAME, kvname)", prctl(PR_SET_NAME, "kvname", 0, 0, 0));
	CHECK("prctl(PR_GET_NAME)", prctl(PR_GET_NAME, name, 0, 0, 0));
	printf("  name=%s\n", name);

	/* Signals. */
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = handler;
	sa.sa_flags = SA_SIGINFO;
	CHECK("sigaction(SIGUSR1)", sigaction(SIGUSR1, &sa, NULL));
	CHECK("sigaction(SIGKILL)", sigaction(SIGKILL, &sa, NULL));
	CHECK("sigaction(65)", sigaction(65, &sa, NULL));
	CHECK("kill(self, SIGUSR1)", kill(pid, SIGUSR1));
	printf("  handled signal=%d si_code is SI_USER=%d\n", (int)got, got_code == SI_USER);
	sigset_t block, pending;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	got = 0;
	CHECK("sigprocmask(SIG_BLOCK, USR1)", sigprocmask(SIG_BLOCK, &block, NULL));
	CHECK("raise(SIGUSR1) while blocked", raise(SIGUSR1));
	sigpending(&pending);
	printf("  pending USR1=%d handled=%d\n", sigismember(&pending, SIGUSR1), (int)got);
	CHECK("sigprocmask(SIG_UNBLOCK, USR1)", sigprocmask(SIG_UNBLOCK, &block, NULL));
	printf("  handled after unblock=%d si_code is SI_TKILL=%d\n", (int)got, got_code == SI_TKILL);
	CHECK("kill(self, 0)", kill(pid, 0));
	CHECK("kill(no such pid, 0)", kill(0x3ffffff0, 0));
	CHECK("kill(self, 1234)", kill(pid, 1234));
	child = fork();
	if (child == 0) {
		pause();
		_exit(0);
	}
	CHECK("kill(child, SIGTERM)", kill(child, SIGTERM));
	waitpid(child, &st, 0);
	printf("  child killed by signal=%d\n", WIFSIGNALED(st) ? WTERMSIG(st) : -1);
	return 0;
}
