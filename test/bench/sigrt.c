//go:build ignore

/* sigrt.c: prints the mean cost in ns of one signal round trip over N rounds:
 * raise(3) of SIGUSR1, delivery to a handler installed with sigaction(2), and
 * the return through rt_sigreturn(2). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static volatile long hits;

static void handler(int sig)
{
	(void)sig;
	hits++;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 10000;
	struct sigaction sa = { .sa_handler = handler };
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL)) {
		perror("sigaction");
		return 1;
	}
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++)
		raise(SIGUSR1);
	clock_gettime(CLOCK_MONOTONIC, &b);
	if (hits != n) {
		fprintf(stderr, "handler ran %ld times, want %ld\n", hits, n);
		return 1;
	}
	double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
	printf("%.1f\n", ns / n);
	return 0;
}
