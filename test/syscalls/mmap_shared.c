//go:build ignore

// mmap_shared.c: MAP_SHARED file mappings coherent with read/write both ways,
// across fork, with MAP_PRIVATE copy-on-write beside them.
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
int main() {
  int fd = open("/tmp/mapped", O_RDWR|O_CREAT|O_TRUNC, 0644);
  write(fd, "aaaaaaaaaaaaaaaa", 16); ftruncate(fd, 8192);
  char *m = mmap(0, 8192, PROT_READ|PROT_WRITE, MAP_SHARED, fd, 0);
  char *p = mmap(0, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE, fd, 0);
  printf("map sees file: %.4s private: %.4s\n", m, p);
  pwrite(fd, "WXYZ", 4, 0);
  printf("after pwrite map: %.4s private: %.4s\n", m, p);
  memcpy(m + 4, "mmap", 4);
  char b[10] = {0}; pread(fd, b, 8, 0);
  printf("pread after store: %s\n", b);
  p[0] = 'P'; pwrite(fd, "Q", 1, 0);
  printf("private after cow: %.2s shared: %.2s\n", p, m);
  if (fork() == 0) { m[8] = 'C'; msync(m, 4096, MS_SYNC); _exit(0); }
  wait(0);
  pread(fd, b, 1, 8); printf("child store seen by read: %c\n", b[0]);
  munmap(m, 8192); close(fd);
  fd = open("/tmp/mapped", O_RDONLY); memset(b, 0, 10); read(fd, b, 9); printf("reopened: %s\n", b);
  char *r = mmap(0, 4096, PROT_READ, MAP_SHARED, fd, 0);
  int rc = mprotect(r, 4096, PROT_READ|PROT_WRITE);
  printf("mprotect write on O_RDONLY shared: %d\n", rc);
  unlink("/tmp/mapped");
  return 0;
}
