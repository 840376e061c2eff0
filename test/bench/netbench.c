//go:build ignore

/* netbench.c: TCP over 127.0.0.1 between two processes.
 *   netbench xfer MIB   prints the ms taken to move MIB MiB one way;
 *   netbench rr N       prints the µs per 64-byte request/response round trip. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int full(int fd, char *b, long n, int wr)
{
	for (long d = 0; d < n;) {
		long k = wr ? write(fd, b + d, n - d) : read(fd, b + d, n - d);
		if (k <= 0)
			return -1;
		d += k;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	long n = atol(argv[2]);
	int rr = !strcmp(argv[1], "rr");
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof a;
	if (bind(l, (struct sockaddr *)&a, al) || getsockname(l, (struct sockaddr *)&a, &al) || listen(l, 1))
		return 3;
	static char buf[1 << 16];
	int one = 1;
	pid_t pid = fork();
	if (pid == 0) {
		int c = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(c, (struct sockaddr *)&a, sizeof a))
			_exit(1);
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		if (rr) {
			for (long i = 0; i < n; i++)
				if (full(c, buf, 64, 0) || full(c, buf, 64, 1))
					_exit(2);
		} else {
			for (long left = n << 20; left > 0; left -= sizeof buf)
				if (full(c, buf, sizeof buf, 1))
					_exit(2);
		}
		_exit(0);
	}
	int s = accept(l, NULL, NULL);
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	double t0 = now();
	if (rr) {
		for (long i = 0; i < n; i++)
			if (full(s, buf, 64, 1) || full(s, buf, 64, 0))
				return 4;
	} else {
		while (read(s, buf, sizeof buf) > 0)
			;
	}
	double ms = now() - t0;
	int st;
	waitpid(pid, &st, 0);
	if (rr)
		printf("%.1f\n", ms * 1e3 / n);
	else
		printf("%.1f\n", ms);
	return WEXITSTATUS(st);
}
