//go:build ignore

/* seqio.c: prints the ms taken to write MIB MiB sequentially to a new file
 * (1 MiB write(2)s), then read it back from the start (1 MiB read(2)s); the
 * file is unlinked at the end. No fsync: this measures the file path, not
 * the disk. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (1 << 20)

int main(int argc, char **argv)
{
	long mib = argc > 1 ? atol(argv[1]) : 256;
	const char *path = argc > 2 ? argv[2] : "/tmp/kvbench-seqio";
	static char buf[CHUNK];
	memset(buf, 'k', sizeof buf);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0) {
		perror(path);
		return 1;
	}
	for (long i = 0; i < mib; i++)
		if (write(fd, buf, CHUNK) != CHUNK) {
			perror("write");
			return 1;
		}
	if (lseek(fd, 0, SEEK_SET) != 0) {
		perror("lseek");
		return 1;
	}
	long got = 0, k;
	while ((k = read(fd, buf, CHUNK)) > 0)
		got += k;
	clock_gettime(CLOCK_MONOTONIC, &b);
	close(fd);
	unlink(path);
	if (k < 0 || got != mib * CHUNK) {
		fprintf(stderr, "read back %ld bytes, want %ld\n", got, mib * CHUNK);
		return 1;
	}
	double ms = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 1e6;
	printf("%.1f\n", ms);
	return 0;
}
