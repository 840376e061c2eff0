//go:build ignore

/* rlimit.c: resource limits that are enforced (setrlimit(2), getrlimit(2),
 * prlimit(2)): RLIMIT_NOFILE (open, dup, dup2, fcntl F_DUPFD, pipe past the
 * limit; fs/file.c) and RLIMIT_NPROC (fork past the limit as a non-root user;
 * kernel/fork.c copy_process: root is exempt, so the child drops to uid 65534
 * first). Each case runs in a child so the limits do not outlive it. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/resource.h>
#include "kvproc.h"

static void nofile(void)
{
	struct rlimit rl = {16, 16};
	CHECK2("setrlimit(RLIMIT_NOFILE, 16)", setrlimit(RLIMIT_NOFILE, &rl));
	int last = -1, n = 0, fd;
	errno = 0;
	while ((fd = open("/dev/null", O_RDONLY)) >= 0) {
		last = fd;
		n++;
	}
	/* n depends on the descriptors inherited, so only the highest is shown. */
	printf("opened more until: %s, highest fd=%d, opened some=%d\n", errname2(errno), last, n > 0);
	CHECK2("dup(0)", dup(0));
	CHECK2("dup2(0, 16)", dup2(0, 16));
	CHECK2("dup2(0, 15) (replaces)", dup2(0, 15));
	CHECK2("fcntl(0, F_DUPFD, 16)", fcntl(0, F_DUPFD, 16));
	CHECK2("fcntl(0, F_DUPFD, 3) all taken", fcntl(0, F_DUPFD, 3));
	int p[2];
	CHECK2("pipe", pipe(p));
	close(15);
	close(14);
	CHECK2("pipe after closing two", pipe(p));
	printf("  pipe fds=%d,%d\n", p[0], p[1]);
	CHECK2("open after pipe took them", open("/dev/null", O_RDONLY));

	/* Lowering the limit below open descriptors is allowed; they stay open. */
	rl.rlim_cur = rl.rlim_max = 8;
	CHECK2("setrlimit(RLIMIT_NOFILE, 8) with fds up to 15 open", setrlimit(RLIMIT_NOFILE, &rl));
	CHECK2("fcntl(15, F_GETFD) above the new limit", fcntl(15, F_GETFD));
	CHECK2("close(10) then open", (close(10), open("/dev/null", O_RDONLY)));
	CHECK2("dup2(0, 9) past the limit", dup2(0, 9));
	struct rlimit bad = {9, 8};
	CHECK2("setrlimit(RLIMIT_NOFILE, soft 9 > hard 8)", setrlimit(RLIMIT_NOFILE, &bad));
	getrlimit(RLIMIT_NOFILE, &rl);
	printf("  getrlimit: soft=%ld hard=%ld\n", (long)rl.rlim_cur, (long)rl.rlim_max);
	struct rlimit old;
	CHECK2("prlimit(0, RLIMIT_NOFILE, NULL, &old)", prlimit(0, RLIMIT_NOFILE, NULL, &old));
	printf("  old soft=%ld hard=%ld\n", (long)old.rlim_cur, (long)old.rlim_max);
	CHECK2("setrlimit(resource 99)", setrlimit(99, &rl));
	CHECK2("getrlimit(RLIMIT_NOFILE, 0x10)", getrlimit(RLIMIT_NOFILE, (struct rlimit *)0x10));
}

static void nproc(void)
{
	/* The limit counts every process of the real uid: this child, one more. */
	struct rlimit rl = {2, 2};
	CHECK2("setrlimit(RLIMIT_NPROC, 2)", setrlimit(RLIMIT_NPROC, &rl));
	CHECK2("setgid(65534)", setgid(65534));
	CHECK2("setuid(65534)", setuid(65534));
	int p[2];
	pipe(p);
	fflush(stdout);
	pid_t a = fork();
	if (a == 0) {
		char c;
		close(p[1]);
		read(p[0], &c, 1);
		_exit(0);
	}
	printf("first fork as uid 65534: ok=%d\n", a > 0);
	fflush(stdout);
	errno = 0;
	pid_t b = fork();
	if (b == 0)
		_exit(0);
	printf("second fork past RLIMIT_NPROC: ret=%d %s\n", b < 0 ? -1 : 0, b < 0 ? errname2(errno) : "OK");
	if (b > 0)
		waitpid(b, NULL, 0);
	close(p[1]);
	printf("first child %s\n", a > 0 ? reap(a) : "never started");
	fflush(stdout);
	pid_t c = fork();
	if (c == 0)
		_exit(0);
	printf("fork after the first child was reaped: ok=%d\n", c > 0);
	if (c > 0)
		waitpid(c, NULL, 0);
}

static void in_child(void (*fn)(void), const char *name)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		fn();
		fflush(stdout);
		_exit(0);
	}
	printf("%s child %s\n", name, reap(pid));
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	in_child(nofile, "RLIMIT_NOFILE");
	in_child(nproc, "RLIMIT_NPROC");
	return 0;
}
