//go:build ignore

/* mmaptouch.c: prints the mean cost in ms of mmap(2) of MIB MiB of private
 * anonymous memory, a write to every 4 KiB page, and munmap(2), over N rounds. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 5;
	long size = (argc > 2 ? atol(argv[2]) : 64) << 20;
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++) {
		volatile char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) {
			perror("mmap");
			return 1;
		}
		for (long off = 0; off < size; off += 4096)
			p[off] = 1;
		if (munmap((void *)p, size)) {
			perror("munmap");
			return 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	double ms = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 1e6;
	printf("%.2f\n", ms / n);
	return 0;
}
