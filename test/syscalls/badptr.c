//go:build ignore

/* badptr.c: bad user pointers (EFAULT, as copy_from_user/copy_to_user report),
 * mmap/munmap/brk/mprotect argument checking (mm/mmap.c, mm/mprotect.c), fork
 * copy-on-write, pipe+wait4, dup2/dup3/fcntl(F_GETFD/F_SETFD/F_DUPFD_CLOEXEC). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "kvtest.h"

#define WILD ((void *)0x10)

static int global = 1;

static long page_for_prot(void)
{
	return (long)mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

static void status(const char *label, int st)
{
	if (WIFEXITED(st))
		printf("%s: exited %d\n", label, WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		printf("%s: killed by signal %d\n", label, WTERMSIG(st));
	else
		printf("%s: other status %#x\n", label, st);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	char buf[64];

	/* EFAULT at the syscall boundary. */
	CHECK("write(1, 0x10, 5)", write(1, WILD, 5));
	int fd = open("/etc/passwd", O_RDONLY);
	CHECK("read(passwd, 0x10, 5)", read(fd, WILD, 5));
	CHECK("read(passwd, buf, 5) after EFAULT", read(fd, buf, 5));
	printf("  data=%.5s\n", buf);
	CHECK("open(0x10)", syscall(SYS_open, WILD, O_RDONLY));
	CHECK("openat(AT_FDCWD, 0x10)", syscall(SYS_openat, AT_FDCWD, WILD, O_RDONLY));
	CHECK("stat(0x10)", syscall(SYS_stat, WILD, buf));
	CHECK("fstat(fd, 0x10)", syscall(SYS_fstat, fd, WILD));
	CHECK("pipe(0x10)", syscall(SYS_pipe, WILD));
	CHECK("uname(0x10)", syscall(SYS_uname, WILD));
	CHECK("clock_gettime(MONOTONIC, 0x10)", syscall(SYS_clock_gettime, CLOCK_MONOTONIC, WILD));
	/* A buffer that starts valid and runs into an unmapped page. */
	char *two = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK("munmap(second page)", munmap(two + 4096, 4096));
	lseek(fd, 0, SEEK_SET);
	errno = 0;
	long n = read(fd, two + 4096 - 10, 100);
	printf("read across into unmapped page: short or EFAULT=%d\n",
	       n == 10 || (n < 0 && errno == EFAULT));
	printf("  first 10 bytes=%.10s\n", n == 10 ? two + 4096 - 10 : "(efault)");
	close(fd);

	/* mmap / munmap argument checks. */
	void *p = mmap(NULL, 1ULL << 40, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	printf("mmap(1 TiB): %s %s\n", p == MAP_FAILED ? "MAP_FAILED" : "mapped", p == MAP_FAILED ? errname(errno) : "");
	p = mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	printf("mmap(len 0): %s %s\n", p == MAP_FAILED ? "MAP_FAILED" : "mapped", p == MAP_FAILED ? errname(errno) : "");
	p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, -1, 0);
	printf("mmap(fd -1, not anonymous): %s %s\n", p == MAP_FAILED ? "MAP_FAILED" : "mapped", p == MAP_FAILED ? errname(errno) : "");
	p = mmap((void *)0x10001, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	printf("mmap(MAP_FIXED unaligned): %s %s\n", p == MAP_FAILED ? "MAP_FAILED" : "mapped", p == MAP_FAILED ? errname(errno) : "");
	CHECK("munmap(0x1001, 4096)", munmap((void *)0x1001, 4096));
	CHECK("munmap(len 0)", munmap((void *)0x100000, 0));
	CHECK("munmap(never mapped, aligned)", munmap((void *)0x200000000000ULL, 4096));
	/* musl's mprotect() rounds the range; the raw call shows the kernel's check. */
	CHECK("SYS_mprotect(unaligned)", syscall(SYS_mprotect, 0x1001, 4096, PROT_READ));
	CHECK("SYS_mprotect(bad prot)", syscall(SYS_mprotect, page_for_prot(), 4096, 0x1000));

	/* brk: print differences only (the start is randomised). */
	unsigned long b0 = syscall(SYS_brk, 0);
	unsigned long b1 = syscall(SYS_brk, b0 + 65536);
	SAY("brk grow by 65536, delta", b1 - b0);
	memset((void *)b0, 0x5a, 65536);
	printf("brk area writable, last byte=%#x\n", ((unsigned char *)b0)[65535]);
	unsigned long b2 = syscall(SYS_brk, b0 + 4096);
	SAY("brk shrink, delta", b2 - b0);
	unsigned long b3 = syscall(SYS_brk, b0 + (1UL << 46));
	SAY("brk to +64 TiB refused (returns current), delta", b3 - b0);
	unsigned long b4 = syscall(SYS_brk, b0);
	SAY("brk back to start, delta", b4 - b0);

	/* mprotect to read-only: reads still work, a write faults. */
	char *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	page[0] = 42;
	CHECK("mprotect(PROT_READ)", mprotect(page, 4096, PROT_READ));
	SAY("read after mprotect", page[0]);
	pid_t pid = fork();
	if (pid == 0) {
		page[0] = 1; /* SIGSEGV */
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	status("child writing a read-only page", st);
	pid = fork();
	if (pid == 0) {
		volatile int *volatile wild = WILD;
		*wild = 1; /* SIGSEGV */
		_exit(0);
	}
	waitpid(pid, &st, 0);
	status("child writing address 0x10", st);
	CHECK("munmap(page)", munmap(page, 4096));

	/* fork: the child's writes are private (copy-on-write). */
	global = 1;
	char *anon = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	anon[0] = 'p';
	shared[0] = 'p';
	pid = fork();
	if (pid == 0) {
		global = 2;
		anon[0] = 'c';
		shared[0] = 'c';
		printf("child: global=%d anon=%c\n", global, anon[0]);
		_exit(5);
	}
	waitpid(pid, &st, 0);
	printf("parent: global=%d anon=%c shared=%c\n", global, anon[0], shared[0]);
	status("cow child", st);

	/* pipe + fork + wait4. */
	int pfd[2];
	CHECK("pipe", pipe(pfd));
	pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		write(pfd[1], "ping", 4);
		_exit(3);
	}
	close(pfd[1]);
	memset(buf, 0, sizeof buf);
	CHECK("read(pipe)", read(pfd[0], buf, sizeof buf));
	printf("  data=%s\n", buf);
	CHECK("read(pipe) at EOF", read(pfd[0], buf, sizeof buf));
	struct rusage ru;
	pid_t w = wait4(pid, &st, 0, &ru);
	printf("wait4 returned the child=%d\n", w == pid);
	status("pipe child", st);
	CHECK("wait4 with no children", wait4(-1, &st, 0, NULL));
	CHECK("write(pipe read end)", write(pfd[0], "x", 1));
	close(pfd[0]);
	CHECK("pipe2", pipe(pfd));
	close(pfd[0]);
	signal(SIGPIPE, SIG_IGN);
	CHECK("write(pipe without reader)", write(pfd[1], "x", 1));
	close(pfd[1]);

	/* dup2 / dup3 / fcntl. */
	fd = open("/etc/hostname", O_RDONLY);
	CHECK("dup2(fd, 10)", dup2(fd, 10));
	CHECK("dup2(fd, fd)", dup2(fd, fd) == fd ? 0 : -1);
	CHECK("dup3(fd, fd, 0)", dup3(fd, fd, 0));
	CHECK("SYS_dup3(fd, fd, 0)", syscall(SYS_dup3, fd, fd, 0));
	CHECK("dup3(fd, 11, O_CLOEXEC)", dup3(fd, 11, O_CLOEXEC));
	CHECK("fcntl(11, F_GETFD)", fcntl(11, F_GETFD));
	CHECK("fcntl(10, F_GETFD)", fcntl(10, F_GETFD));
	CHECK("fcntl(10, F_SETFD, FD_CLOEXEC)", fcntl(10, F_SETFD, FD_CLOEXEC));
	CHECK("fcntl(10, F_GETFD) after set", fcntl(10, F_GETFD));
	CHECK("fcntl(fd, F_DUPFD_CLOEXEC, 20)", fcntl(fd, F_DUPFD_CLOEXEC, 20));
	CHECK("fcntl(20, F_GETFD)", fcntl(20, F_GETFD));
	CHECK("fcntl(fd, F_DUPFD, 20)", fcntl(fd, F_DUPFD, 20));
	CHECK("fcntl(21, F_GETFD)", fcntl(21, F_GETFD));
	CHECK("fcntl(fd, F_GETFL)&O_ACCMODE", fcntl(fd, F_GETFL) & O_ACCMODE);
	memset(buf, 0, sizeof buf);
	CHECK("read(10) shares the offset", read(10, buf, 4));
	CHECK("read(fd) continues", read(fd, buf + 4, 5));
	printf("  data=%s\n", buf);
	CHECK("dup2(fd, -1)", dup2(fd, -1));
	CHECK("dup2(999, 5)", dup2(999, 5));
	CHECK("fcntl(999, F_GETFD)", fcntl(999, F_GETFD));
	CHECK("close(999)", close(999));
	CHECK("close(-1)", close(-1));
	CHECK("close(10)", close(10));
	CHECK("close(10) again", close(10));
	CHECK("read(10) closed", read(10, buf, 1));
	return 0;
}
