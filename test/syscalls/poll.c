//go:build ignore

/* poll.c: poll(2), ppoll(2), select(2) and pselect6(2) on pipes, files and
 * devices: readiness bits, POLLHUP/POLLERR/POLLNVAL, timeouts (and the time
 * left that select writes back), wake-ups from another process, and the
 * signal mask of ppoll/pselect letting a signal in (EINTR, handler ran, mask
 * restored). Prints only what is deterministic. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "kvtest.h"

static volatile sig_atomic_t got;

static void handler(int sig) { got = sig; }

static long long ms_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* poll1 polls one fd for events with a timeout and prints the outcome. */
static void poll1(const char *label, int fd, short events, int timeout)
{
	struct pollfd p = {fd, events, 0x7fff};
	errno = 0;
	int r = poll(&p, 1, timeout);
	printf("%s: ret=%d %s revents=%#x\n", label, r, r < 0 ? errname(errno) : "OK", r < 0 ? 0 : p.revents);
}

/* usr1_blocked reports whether SIGUSR1 is in the current mask. */
static int usr1_blocked(void)
{
	sigset_t cur;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	return sigismember(&cur, SIGUSR1);
}

/* select1 selects for reading on one fd with nfds n and a 10 ms timeout. */
static void select1(const char *label, int n, int fd)
{
	fd_set rd;
	FD_ZERO(&rd);
	FD_SET(fd, &rd);
	struct timeval tv = {0, 10000};
	CHECK(label, select(n, &rd, NULL, NULL, &tv));
}

/* fdsize prints the FDSize line of /proc/self/status (the table's size). */
static void fdsize(const char *who)
{
	char line[128];
	FILE *f = fopen("/proc/self/status", "r");
	while (f && fgets(line, sizeof line, f))
		if (strncmp(line, "FDSize:", 7) == 0)
			printf("%s: %s", who, line);
	if (f)
		fclose(f);
}

/* select_table_size shows that select(2) clamps nfds to the size of the
 * descriptor table (core_sys_select's max_fds), which starts at 64 slots,
 * grows in steps of 128 * 2^k when a higher fd is installed, never shrinks,
 * and is sized by the highest open fd in a forked child (dup_fd). A child is
 * used so that the table the test runner handed down does not matter. */
static void select_table_size(void)
{
	pid_t c = fork();
	if (c == 0) {
		fdsize("child");
		select1("child: select(101, {100}) with a 64-slot table", 101, 100);
		dup2(0, 100);
		close(100);
		select1("child: select(101, {100}) after fd 100 was used", 101, 100);
		select1("child: select(200, {150}) with a 128-slot table", 200, 150);
		dup2(0, 130);
		fdsize("child, fd 130 used");
		select1("child: select(200, {150}) after fd 130 was used", 200, 150);
		if (fork() == 0) {
			select1("grandchild: select(300, {257}) with fd 130 open", 300, 257);
			close(130);
			_exit(0);
		}
		wait(NULL);
		close(130);
		if (fork() == 0) {
			fdsize("grandchild");
			select1("grandchild: select(101, {100}) with fds < 64 open", 101, 100);
			_exit(0);
		}
		wait(NULL);
		_exit(0);
	}
	waitpid(c, NULL, 0);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	int p[2];
	pipe(p);
	poll1("poll(empty pipe, POLLIN, 0)", p[0], POLLIN, 0);
	poll1("poll(write end, POLLIN|POLLOUT)", p[1], POLLIN | POLLOUT, 0);
	poll1("poll(write end, POLLOUT|POLLWRNORM)", p[1], POLLOUT | POLLWRNORM, 0);
	write(p[1], "abc", 3);
	poll1("poll(pipe with data, POLLIN|POLLRDNORM|POLLPRI)", p[0], POLLIN | POLLRDNORM | POLLPRI, 0);
	poll1("poll(pipe with data, events 0)", p[0], 0, 0);

	/* Several entries: a negative fd is skipped, a closed one is POLLNVAL. */
	struct pollfd many[4] = {{p[0], POLLIN, 0}, {-1, POLLIN, 0x55}, {100, POLLIN, 0}, {p[1], POLLOUT, 0}};
	CHECK("poll(4 entries)", poll(many, 4, 0));
	printf("  revents: %#x %#x %#x %#x\n", many[0].revents, many[1].revents, many[2].revents, many[3].revents);

	/* Timeouts. */
	char buf[16];
	read(p[0], buf, sizeof buf);
	long long t0 = ms_now();
	poll1("poll(empty pipe, 30ms)", p[0], POLLIN, 30);
	printf("  waited>=30ms=%d\n", ms_now() - t0 >= 30);
	CHECK("poll(NULL, 0, 10ms)", poll(NULL, 0, 10));

	/* A blocking poll is woken by another process writing. */
	pid_t child = fork();
	if (child == 0) {
		usleep(30000);
		write(p[1], "x", 1);
		_exit(0);
	}
	poll1("poll(pipe, -1) woken by a child's write", p[0], POLLIN, -1);
	waitpid(child, NULL, 0);
	read(p[0], buf, sizeof buf);

	/* Hang-up and error. */
	write(p[1], "z", 1);
	close(p[1]);
	poll1("poll(read end with data, writer closed)", p[0], POLLIN, 0);
	read(p[0], buf, sizeof buf);
	poll1("poll(read end drained, writer closed)", p[0], POLLIN, 0);
	poll1("poll(read end, writer closed, events 0)", p[0], 0, 0);
	close(p[0]);
	pipe(p);
	close(p[0]);
	poll1("poll(write end, reader closed)", p[1], POLLOUT, 0);
	poll1("poll(closed fd)", p[0], POLLIN, 0);
	close(p[1]);

	/* Files and devices are always ready. */
	int fd = open("/etc/passwd", O_RDONLY);
	poll1("poll(regular file, IN|OUT|RDNORM|WRNORM)", fd, POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM, 0);
	close(fd);
	fd = open("/dev/null", O_RDWR);
	poll1("poll(/dev/null, IN|OUT)", fd, POLLIN | POLLOUT, 0);
	close(fd);
	fd = open("/etc", O_RDONLY | O_DIRECTORY);
	poll1("poll(directory, IN)", fd, POLLIN, 0);
	close(fd);
	fd = open("/etc/passwd", O_PATH);
	poll1("poll(O_PATH fd)", fd, POLLIN, 0);
	close(fd);

	/* Limits and bad arguments. */
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	struct pollfd one = {-1, 0, 0};
	CHECK("poll(nfds > RLIMIT_NOFILE)", poll(&one, rl.rlim_cur + 1, 0));
	CHECK("poll(bad pointer)", poll((struct pollfd *)16, 1, 0));
	struct timespec badts = {0, 1000000000L};
	CHECK("ppoll(tv_nsec=1e9)", ppoll(&one, 1, &badts, NULL));
	CHECK("ppoll(sigsetsize 4)", syscall(SYS_ppoll, &one, 1, NULL, &(sigset_t){0}, 4));

	/* select(2). */
	pipe(p);
	fd_set rd, wr;
	FD_ZERO(&rd);
	FD_SET(p[0], &rd);
	/* The raw syscall: musl's select hides the time left the kernel writes. */
	struct timeval tv = {0, 30000};
	t0 = ms_now();
	CHECK("select(empty pipe, 30ms)", syscall(SYS_select, p[0] + 1, &rd, NULL, NULL, &tv));
	printf("  waited>=30ms=%d timeval left=%ld.%06ld in set=%d\n", ms_now() - t0 >= 30, (long)tv.tv_sec, (long)tv.tv_usec, FD_ISSET(p[0], &rd));
	write(p[1], "y", 1);
	FD_ZERO(&rd);
	FD_SET(p[0], &rd);
	FD_ZERO(&wr);
	FD_SET(p[1], &wr);
	FD_SET(p[0], &wr);
	tv = (struct timeval){5, 0};
	CHECK("select(pipe with data, rd {r}, wr {r,w})", syscall(SYS_select, p[1] + 1, &rd, &wr, NULL, &tv));
	printf("  rd: r=%d  wr: r=%d w=%d  time left <=5s=%d >4s=%d\n", FD_ISSET(p[0], &rd), FD_ISSET(p[0], &wr), FD_ISSET(p[1], &wr),
	       tv.tv_sec < 5 || (tv.tv_sec == 5 && tv.tv_usec == 0), tv.tv_sec >= 4);
	/* fd 60 is inside every descriptor table (Linux starts with 64 slots). */
	FD_ZERO(&rd);
	FD_SET(60, &rd);
	CHECK("select(closed fd 60)", select(61, &rd, NULL, NULL, NULL));
	select_table_size();
	CHECK("select(n=-1)", select(-1, NULL, NULL, NULL, NULL));
	tv = (struct timeval){0, -1};
	CHECK("select(tv_usec=-1)", syscall(SYS_select, 0, NULL, NULL, NULL, &tv));
	tv = (struct timeval){0, 1500000};
	FD_ZERO(&rd);
	FD_SET(p[0], &rd);
	CHECK("select(tv_usec=1.5e6, ready)", syscall(SYS_select, p[0] + 1, &rd, NULL, NULL, &tv));
	printf("  time left: sec=%ld usec<1e6=%d\n", (long)tv.tv_sec, tv.tv_usec < 1000000);
	tv = (struct timeval){0, 0};
	CHECK("select(no fds, zero timeout)", select(0, NULL, NULL, NULL, &tv));
	read(p[0], buf, sizeof buf);
	close(p[1]);
	FD_ZERO(&rd);
	FD_SET(p[0], &rd);
	tv = (struct timeval){0, 0};
	CHECK("select(read end, writer closed)", select(p[0] + 1, &rd, NULL, NULL, &tv));
	printf("  readable=%d\n", FD_ISSET(p[0], &rd));
	close(p[0]);
	pipe(p);

	/* ppoll and pselect with a mask that lets a pending signal in. */
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = handler;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	sigset_t block, empty;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigemptyset(&empty);
	sigprocmask(SIG_BLOCK, &block, NULL);
	kill(getpid(), SIGUSR1);
	struct pollfd pr = {p[0], POLLIN, 0};
	struct timespec ts = {0, 20000000};
	CHECK("ppoll(20ms, mask keeps USR1 blocked)", ppoll(&pr, 1, &ts, &block));
	printf("  handled=%d blocked after=%d\n", (int)got, usr1_blocked());
	CHECK("ppoll(forever, mask lets USR1 in)", ppoll(&pr, 1, NULL, &empty));
	printf("  handled=%d blocked after=%d\n", (int)got, usr1_blocked());
	got = 0;
	kill(getpid(), SIGUSR1);
	FD_ZERO(&rd);
	FD_SET(p[0], &rd);
	CHECK("pselect(forever, mask lets USR1 in)", pselect(p[0] + 1, &rd, NULL, NULL, NULL, &empty));
	printf("  handled=%d blocked after=%d\n", (int)got, usr1_blocked());
	got = 0;
	write(p[1], "r", 1);
	kill(getpid(), SIGUSR1);
	CHECK("ppoll(ready fd, mask lets USR1 in)", ppoll(&pr, 1, NULL, &empty));
	printf("  handled=%d blocked after=%d\n", (int)got, usr1_blocked());
	read(p[0], buf, sizeof buf);
	sigprocmask(SIG_UNBLOCK, &block, NULL);
	got = 0;

	/* A signal arriving during a blocking ppoll, sent by a child. */
	sigprocmask(SIG_BLOCK, &block, NULL);
	child = fork();
	if (child == 0) {
		usleep(30000);
		kill(getppid(), SIGUSR1);
		_exit(0);
	}
	CHECK("ppoll(forever) until a child's signal", ppoll(&pr, 1, NULL, &empty));
	printf("  handled=%d\n", (int)got);
	waitpid(child, NULL, 0);
	return 0;
}
