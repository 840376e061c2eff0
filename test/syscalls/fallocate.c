//go:build ignore

// fallocate.c: fallocate(2) modes on a regular file.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
int main() {
  int fd = open("/tmp/fa", O_RDWR|O_CREAT|O_TRUNC, 0644); struct stat st;
  write(fd, "abcdefgh", 8);
  printf("alloc 0..100: %d\n", fallocate(fd, 0, 0, 100)); fstat(fd, &st); printf("size %ld\n", (long)st.st_size);
  printf("keep 0..200: %d\n", fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 200)); fstat(fd, &st); printf("size %ld\n", (long)st.st_size);
  printf("punch 2..4: %d\n", fallocate(fd, FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE, 2, 2));
  char b[9] = {0}; pread(fd, b, 8, 0); for (int i = 0; i < 8; i++) putchar(b[i] ? b[i] : '.'); putchar('\n');
  int r = fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 1); printf("punch without keep: %d %s\n", r, r ? strerror(errno) : "");
  r = fallocate(fd, 0, 0, 0); printf("len 0: %d %s\n", r, r ? strerror(errno) : "");
  return 0;
}
