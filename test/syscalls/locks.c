//go:build ignore

// locks.c: flock(2) and fcntl(2) record locks between processes.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *path = "/tmp/kvlocks";

static int setlk(int fd, int cmd, short type, off_t start, off_t len) {
	struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
	return fcntl(fd, cmd, &fl);
}

int main(void) {
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	write(fd, "0123456789abcdef", 16);
	int p[2];
	pipe(p);

	// flock: an exclusive lock excludes another description, even in a child.
	printf("flock EX: %d\n", flock(fd, LOCK_EX));
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		int fd2 = open(path, O_RDWR);
		int r = flock(fd2, LOCK_EX | LOCK_NB);
		int e = errno;
		printf("child flock EX|NB: %d %s\n", r, r < 0 ? strerror(e) : "");
		r = flock(fd, LOCK_SH | LOCK_NB); // same description: conversion allowed
		printf("child flock SH via inherited fd: %d\n", r);
		fflush(stdout);
		_exit(0);
	}
	waitpid(c, 0, 0);
	flock(fd, LOCK_UN);

	// Record locks: the child sees the parent's write lock with its pid.
	printf("setlk W 0..8: %d\n", setlk(fd, F_SETLK, F_WRLCK, 0, 8));
	pid_t me = getpid();
	fflush(stdout);
	c = fork();
	if (c == 0) {
		int fd2 = open(path, O_RDWR);
		struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 4, .l_len = 2};
		fcntl(fd2, F_GETLK, &fl);
		printf("child getlk: type=%s start=%ld len=%ld pid-is-parent=%d\n",
		       fl.l_type == F_WRLCK ? "W" : fl.l_type == F_UNLCK ? "U" : "R", (long)fl.l_start, (long)fl.l_len, fl.l_pid == me);
		int r = setlk(fd2, F_SETLK, F_RDLCK, 2, 2);
		int e = errno;
		printf("child setlk R 2..4: %d %s\n", r, r < 0 ? (e == EAGAIN || e == EACCES ? "busy" : strerror(e)) : "");
		printf("child setlk R 8..10: %d\n", setlk(fd2, F_SETLK, F_RDLCK, 8, 2));
		fflush(stdout);
		write(p[1], "x", 1);
		// Blocks until the parent unlocks.
		r = setlk(fd2, F_SETLKW, F_WRLCK, 0, 4);
		printf("child setlkw W 0..4 after unlock: %d\n", r);
		fflush(stdout);
		_exit(0);
	}
	char ch;
	read(p[0], &ch, 1);
	usleep(50000);
	/* Say it before doing it: the child prints as soon as it gets the lock. */
	printf("parent unlocks 0..8\n");
	fflush(stdout);
	if (setlk(fd, F_SETLK, F_UNLCK, 0, 8) != 0)
		printf("parent unlock failed\n");
	int st;
	waitpid(c, &st, 0);
	printf("child exit %d\n", WEXITSTATUS(st));

	// Split and merge: lock 0..16, unlock the middle, the child sees two pieces.
	setlk(fd, F_SETLK, F_WRLCK, 0, 16);
	setlk(fd, F_SETLK, F_UNLCK, 4, 4);
	fflush(stdout);
	c = fork();
	if (c == 0) {
		int fd2 = open(path, O_RDWR);
		for (int s = 0; s < 16; s += 4) {
			struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = s, .l_len = 4};
			fcntl(fd2, F_GETLK, &fl);
			printf("piece %d: %s\n", s, fl.l_type == F_UNLCK ? "free" : "locked");
		}
		fflush(stdout);
		_exit(0);
	}
	waitpid(c, 0, 0);
	// Closing any fd of the file drops the process's record locks.
	int dupfd = open(path, O_RDONLY);
	close(dupfd);
	fflush(stdout);
	c = fork();
	if (c == 0) {
		int fd2 = open(path, O_RDWR);
		printf("after close of another fd, child setlk W: %d\n", setlk(fd2, F_SETLK, F_WRLCK, 0, 16));
		fflush(stdout);
		_exit(0);
	}
	waitpid(c, 0, 0);
	// Bad arguments.
	struct flock bad = {.l_type = 99};
	int r = fcntl(fd, F_SETLK, &bad);
	printf("bad type: %d %s\n", r, strerror(errno));
	int ro = open(path, O_RDONLY);
	r = setlk(ro, F_SETLK, F_WRLCK, 0, 1);
	printf("write lock on O_RDONLY: %d %s\n", r, strerror(errno));
	struct flock ofd = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_pid = 1};
	r = fcntl(fd, F_OFD_SETLK, &ofd);
	printf("OFD with l_pid: %d %s\n", r, strerror(errno));
	errno = 0;
	r = flock(fd, 3);
	printf("flock bad op: %d %s\n", r, strerror(errno));
	struct flock o1 = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
	int fa = open(path, O_RDWR), fb = open(path, O_RDWR);
	printf("OFD lock a: %d\n", fcntl(fa, F_OFD_SETLK, &o1));
	r = fcntl(fb, F_OFD_SETLK, &o1);
	printf("OFD lock b (same process, other description): %d %s\n", r, r < 0 ? "busy" : "");
	struct flock q = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
	fcntl(fb, F_OFD_GETLK, &q);
	printf("OFD getlk pid=%d\n", q.l_pid);
	unlink(path);
	return 0;
}
