//go:build ignore

/* eventfd.c: eventfd(2)/eventfd2(2) counters: flags, 8-byte reads and
 * writes, EFD_SEMAPHORE, EAGAIN, the 0xfffffffffffffffe ceiling, poll bits,
 * a blocking read woken by another process. Prints only what is
 * deterministic. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "kvtest.h"

/* rd reads a u64 from fd and prints it. */
static void rd(const char *label, int fd)
{
	uint64_t v = 0;
	errno = 0;
	ssize_t n = read(fd, &v, sizeof v);
	printf("%s: ret=%ld %s value=%llu\n", label, (long)n, n < 0 ? errname(errno) : "OK", n < 0 ? 0ULL : (unsigned long long)v);
}

/* wr writes the u64 v to fd and prints the outcome. */
static void wr(const char *label, int fd, uint64_t v)
{
	CHECK(label, write(fd, &v, sizeof v));
}

/* pollbits prints fd's readiness for POLLIN|POLLOUT. */
static void pollbits(const char *label, int fd)
{
	struct pollfd p = {fd, POLLIN | POLLOUT, 0};
	poll(&p, 1, 0);
	printf("%s: revents=%#x\n", label, p.revents);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* eventfd */
	CHECK("eventfd2(0, bad flag 2)", syscall(SYS_eventfd2, 0, 2));
	int e = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	printf("eventfd(0, NONBLOCK|CLOEXEC): ok=%d F_GETFL=%#x FD_CLOEXEC=%d\n", e >= 0, fcntl(e, F_GETFL), fcntl(e, F_GETFD));
	char path[64], link[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", e);
	ssize_t ln = readlink(path, link, sizeof link - 1);
	link[ln < 0 ? 0 : ln] = 0;
	printf("  link: %s\n", link);
	struct stat st;
	fstat(e, &st);
	printf("  fstat mode=%o size=%lld\n", st.st_mode, (long long)st.st_size);
	rd("read(empty, nonblocking)", e);
	pollbits("poll(empty)", e);
	uint32_t small = 1;
	CHECK("write(4 bytes)", write(e, &small, sizeof small));
	CHECK("read(4 bytes)", read(e, &small, sizeof small));
	wr("write(0xffffffffffffffff)", e, UINT64_MAX);
	wr("write(3)", e, 3);
	wr("write(4)", e, 4);
	pollbits("poll(count 7)", e);
	uint64_t big[2] = {0, 0};
	CHECK("read(16 bytes)", read(e, big, sizeof big));
	printf("  value=%llu\n", (unsigned long long)big[0]);
	wr("write(0xfffffffffffffffe)", e, UINT64_MAX - 1);
	pollbits("poll(count at the ceiling)", e);
	wr("write(1) past the ceiling", e, 1);
	wr("write(0) at the ceiling", e, 0);
	rd("read", e);
	CHECK("lseek(eventfd, 5, SEEK_SET)", lseek(e, 5, SEEK_SET));
	uint64_t v;
	CHECK("pread(eventfd)", pread(e, &v, sizeof v, 0));
	close(e);

	int s = eventfd(3, EFD_SEMAPHORE | EFD_NONBLOCK);
	rd("semaphore read 1", s);
	rd("semaphore read 2", s);
	rd("semaphore read 3", s);
	rd("semaphore read 4", s);
	wr("semaphore write(2)", s, 2);
	rd("semaphore read after write", s);
	close(s);

	int b = eventfd(0, 0);
	pid_t child = fork();
	if (child == 0) {
		usleep(30000);
		uint64_t one = 42;
		write(b, &one, sizeof one);
		_exit(0);
	}
	rd("blocking read woken by a child", b);
	waitpid(child, NULL, 0);
	close(b);

	return 0;
}
