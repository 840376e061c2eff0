//go:build ignore

// fssem.c: Linux file semantics the file-system issue names, printed for a
// native/sandbox comparison.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#define CHECK(what, expr) do { errno = 0; long _r = (long)(expr); int _e = errno; \
	printf("%s: %ld%s%s\n", what, _r, _r < 0 ? " " : "", _r < 0 ? strerrorname_np(_e) : ""); } while (0)

static const char *strerrorname_np(int e) {
	switch (e) {
	case ENOENT: return "ENOENT"; case EEXIST: return "EEXIST"; case ENOTDIR: return "ENOTDIR";
	case EISDIR: return "EISDIR"; case ENOTEMPTY: return "ENOTEMPTY"; case ELOOP: return "ELOOP";
	case EINVAL: return "EINVAL"; case EACCES: return "EACCES"; case EBADF: return "EBADF";
	case EXDEV: return "EXDEV"; case ENODATA: return "ENODATA"; case ERANGE: return "ERANGE";
	case EOPNOTSUPP: return "EOPNOTSUPP"; case EPERM: return "EPERM"; case ENAMETOOLONG: return "ENAMETOOLONG";
	}
	static char b[32]; snprintf(b, sizeof b, "errno %d", e); return b;
}

static int count_dir(const char *p) {
	DIR *d = opendir(p); int n = 0; struct dirent *e;
	if (!d) return -1;
	while ((e = readdir(d))) n++;
	closedir(d); return n;
}

int main(void) {
	umask(022);
	CHECK("mkdir /tmp/fs", mkdir("/tmp/fs", 0755));
	CHECK("chdir", chdir("/tmp/fs"));
	int fd = open("a", O_RDWR | O_CREAT | O_EXCL, 0666);
	CHECK("create a", fd >= 0);
	CHECK("create a again O_EXCL", open("a", O_RDWR | O_CREAT | O_EXCL, 0666));
	struct stat st; fstat(fd, &st); printf("mode of a: %o\n", st.st_mode & 07777);
	CHECK("write", write(fd, "hello world", 11));
	char b[64] = {0};
	CHECK("pread 6", pread(fd, b, 5, 6)); printf("  data=%s\n", b);
	CHECK("link a b", link("a", "b"));
	stat("a", &st); printf("nlink after link: %ld\n", (long)st.st_nlink);
	CHECK("unlink a (open)", unlink("a"));
	fstat(fd, &st); printf("nlink of open fd: %ld\n", (long)st.st_nlink);
	memset(b, 0, sizeof b); CHECK("pread after unlink", pread(fd, b, 11, 0)); printf("  data=%s\n", b);
	CHECK("ftruncate 5", ftruncate(fd, 5));
	stat("b", &st); printf("size of b: %ld\n", (long)st.st_size);
	close(fd);
	fd = open("b", O_WRONLY | O_APPEND);
	lseek(fd, 0, SEEK_SET); write(fd, "!", 1); close(fd);
	fd = open("b", O_RDONLY); memset(b, 0, sizeof b); read(fd, b, 63); close(fd); printf("after O_APPEND: %s\n", b);
	fd = open("c", O_WRONLY | O_CREAT, 0600); write(fd, "ccc", 3); close(fd);
	CHECK("rename c over b", rename("c", "b"));
	fd = open("b", O_RDONLY); memset(b, 0, sizeof b); read(fd, b, 63); close(fd); printf("b now: %s\n", b);
	stat("b", &st); printf("mode of b: %o\n", st.st_mode & 07777);
	CHECK("symlink loop1", symlink("loop2", "loop1"));
	CHECK("symlink loop2", symlink("loop1", "loop2"));
	CHECK("open loop", open("loop1", O_RDONLY));
	CHECK("open b/x (ENOTDIR)", open("b/x", O_RDONLY));
	CHECK("mkdir d", mkdir("d", 0700));
	close(open("d/f", O_CREAT | O_WRONLY, 0644));
	CHECK("rmdir d (not empty)", rmdir("d"));
	CHECK("rename b d/f NOREPLACE", syscall(SYS_renameat2, AT_FDCWD, "b", AT_FDCWD, "d/f", 1));
	CHECK("rename b d2 NOREPLACE", syscall(SYS_renameat2, AT_FDCWD, "b", AT_FDCWD, "d2", 1));
	for (int i = 0; i < 20; i++) { char n[16]; snprintf(n, sizeof n, "d/n%02d", i); close(open(n, O_CREAT | O_WRONLY, 0644)); }
	printf("readdir count d: %d\n", count_dir("d"));
	/* getdents during unlinks: every surviving entry is seen once. */
	DIR *dd = opendir("d"); int seen = 0; struct dirent *e;
	for (int i = 0; (e = readdir(dd)); i++) {
		seen++;
		if (i == 3) for (int j = 10; j < 20; j++) { char n[16]; snprintf(n, sizeof n, "d/n%02d", j); unlink(n); }
	}
	closedir(dd);
	printf("readdir during unlink saw >= 13 and <= 23: %d\n", seen >= 13 && seen <= 23);
	CHECK("chmod d/f 0600", chmod("d/f", 0600));
	stat("d/f", &st); printf("mode d/f: %o\n", st.st_mode & 07777);
	umask(077); close(open("u", O_CREAT | O_WRONLY, 0666)); stat("u", &st); printf("umask 077 mode: %o\n", st.st_mode & 07777); umask(022);
	CHECK("mkfifo", mkfifo("fifo", 0644));
	stat("fifo", &st); printf("fifo is FIFO: %d\n", S_ISFIFO(st.st_mode));
	CHECK("getcwd", getcwd(b, sizeof b) != 0); printf("  cwd=%s\n", b);
	CHECK("chdir /..", chdir("/../../.."));
	getcwd(b, sizeof b); printf("cwd after /../../..: %s\n", b);
	CHECK("stat /../etc/alpine-release", stat("/../../etc/alpine-release", &st));
	/* xattrs (user namespace). */
	chdir("/tmp/fs");
	CHECK("setxattr", setxattr("d/f", "user.k", "v1", 2, 0));
	memset(b, 0, sizeof b); CHECK("getxattr", getxattr("d/f", "user.k", b, sizeof b)); printf("  value=%s\n", b);
	CHECK("getxattr size query", getxattr("d/f", "user.k", 0, 0));
	CHECK("getxattr missing", getxattr("d/f", "user.none", b, sizeof b));
	CHECK("setxattr XATTR_CREATE existing", setxattr("d/f", "user.k", "v2", 2, XATTR_CREATE));
	CHECK("setxattr XATTR_REPLACE missing", setxattr("d/f", "user.new", "v", 1, XATTR_REPLACE));
	CHECK("getxattr small buffer", getxattr("d/f", "user.k", b, 1));
	CHECK("listxattr", listxattr("d/f", b, sizeof b)); printf("  names=%s\n", b);
	CHECK("removexattr", removexattr("d/f", "user.k"));
	CHECK("getxattr after remove", getxattr("d/f", "user.k", b, sizeof b));
	/* statx (struct statx as include/uapi/linux/stat.h lays it out). */
	struct { unsigned int mask, blksize; unsigned long long attributes; unsigned int nlink, uid, gid;
		unsigned short mode, pad; unsigned long long ino, size, blocks, attributes_mask; char rest[160]; } sx;
	CHECK("statx d/f", syscall(SYS_statx, AT_FDCWD, "d/f", 0, 0x7ff, &sx));
	printf("  mask-basic=%d mode=%o size=%llu nlink=%u blksize-pos=%d\n", (sx.mask & 0x7ff) == 0x7ff, sx.mode & 07777,
	       (unsigned long long)sx.size, sx.nlink, sx.blksize > 0);
	/* O_TMPFILE + linkat */
	int tf = open(".", O_TMPFILE | O_RDWR, 0600);
	if (tf >= 0) {
		write(tf, "tmp", 3);
		char proc[64]; snprintf(proc, sizeof proc, "/proc/self/fd/%d", tf);
		CHECK("linkat O_TMPFILE", linkat(AT_FDCWD, proc, AT_FDCWD, "linked", AT_SYMLINK_FOLLOW));
		memset(b, 0, sizeof b); int lf = open("linked", O_RDONLY); read(lf, b, 63); printf("  linked data=%s\n", b);
	} else {
		printf("O_TMPFILE: %s\n", strerrorname_np(errno));
	}
	/* fchdir to a directory fd, and to a non-directory. */
	int dfd = open("/etc", O_RDONLY | O_DIRECTORY);
	CHECK("fchdir /etc", fchdir(dfd));
	getcwd(b, sizeof b);
	printf("  cwd=%s\n", b);
	int ffd = open("/etc/passwd", O_RDONLY);
	CHECK("fchdir file", fchdir(ffd));
	return 0;
}
