//go:build ignore

/* pthread.c: prints the mean cost in µs of pthread_create(3)+pthread_join(3)
 * of a thread that returns at once, over N rounds. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static void *nothing(void *arg)
{
	return arg;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000;
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++) {
		pthread_t t;
		void *ret;
		if (pthread_create(&t, NULL, nothing, (void *)i) || pthread_join(t, &ret) || ret != (void *)i) {
			fprintf(stderr, "pthread_create/join failed at round %ld\n", i);
			return 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	double us = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 1e3;
	printf("%.1f\n", us / n);
	return 0;
}
