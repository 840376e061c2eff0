//go:build ignore

// splice.c: splice(2) between files and pipes, tee(2), and their errors.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>
int main() {
  int p[2], q[2]; pipe(p); pipe(q);
  int fd = open("/tmp/sp", O_RDWR|O_CREAT|O_TRUNC, 0644); write(fd, "0123456789", 10);
  loff_t off = 2;
  printf("splice file->pipe: %zd\n", splice(fd, &off, p[1], NULL, 5, 0)); printf("off now %lld\n", (long long)off);
  printf("tee: %zd\n", tee(p[0], q[1], 100, 0));
  char b[16] = {0}; read(q[0], b, 15); printf("tee copy: %s\n", b);
  int fd2 = open("/tmp/sp2", O_RDWR|O_CREAT|O_TRUNC, 0644);
  printf("splice pipe->file: %zd\n", splice(p[0], NULL, fd2, NULL, 100, 0));
  memset(b, 0, 16); pread(fd2, b, 15, 0); printf("file got: %s\n", b);
  errno = 0; ssize_t r = splice(fd, NULL, fd2, NULL, 5, 0); printf("file->file: %zd %s\n", r, strerror(errno));
  off = 0; errno = 0; r = splice(p[0], &off, fd2, NULL, 5, 0); printf("offset on pipe: %zd %s\n", r, strerror(errno));
  errno = 0; r = tee(p[0], p[1], 5, 0); printf("tee same pipe: %zd %s\n", r, strerror(errno));
  return 0;
}
