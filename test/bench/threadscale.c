//go:build ignore

/* threadscale.c: prints the speed-up of a CPU-bound job (an integer hash
 * chain, no system calls) split over 2 threads instead of 1: the wall time of
 * N rounds on one thread divided by that of N/2 rounds on each of two threads
 * started with pthread_create(3). Near 2 on an idle 2-core machine. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static volatile uint64_t sink;

static void *work(void *arg)
{
	long n = (long)arg;
	uint64_t x = 88172645463325252ULL;
	for (long i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
	}
	sink += x;
	return NULL;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* run does n rounds split over k threads and returns the wall time. */
static double run(long n, int k)
{
	pthread_t th[2];
	double t0 = now();
	for (int i = 0; i < k; i++)
		if (pthread_create(&th[i], NULL, work, (void *)(n / k)) != 0) {
			fprintf(stderr, "pthread_create failed\n");
			exit(1);
		}
	for (int i = 0; i < k; i++)
		pthread_join(th[i], NULL);
	return now() - t0;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 400000000L;
	double one = run(n, 1), two = run(n, 2);
	if (one <= 0 || two <= 0) {
		fprintf(stderr, "no time measured\n");
		return 1;
	}
	printf("%.2f\n", one / two);
	return 0;
}
