//go:build ignore

/* files.c: file syscalls (open(2), read(2), lseek(2), pread(2), ftruncate(2),
 * stat(2), rename(2), mkdir(2), getdents64 via readdir(3), getcwd(2),
 * symlink(2), access(2)) and the errno values Linux gives for misuse. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "kvtest.h"

#define D "/tmp/kvfiles"

static void rmtree(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return;
	if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(path);
		struct dirent *e;
		char sub[4096];
		while (d && (e = readdir(d))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
			rmtree(sub);
		}
		if (d)
			closedir(d);
		rmdir(path);
	} else {
		unlink(path);
	}
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void listdir(const char *path)
{
	DIR *d = opendir(path);
	if (!d) {
		printf("opendir(%s): %s\n", path, errname(errno));
		return;
	}
	char *names[64];
	unsigned char types[64];
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < 64) {
		names[n] = strdup(e->d_name);
		types[n] = e->d_type;
		n++;
	}
	closedir(d);
	(void)types;
	qsort(names, n, sizeof names[0], cmp);
	printf("readdir(%s):", path);
	for (int i = 0; i < n; i++) {
		printf(" %s", names[i]);
		free(names[i]);
	}
	printf("\n");
}

static void dtypes(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	char line[64][300];
	int n = 0;
	while (d && (e = readdir(d)) && n < 64) {
		const char *t = e->d_type == DT_DIR ? "dir" : e->d_type == DT_REG ? "reg" :
				e->d_type == DT_LNK ? "lnk" : e->d_type == DT_UNKNOWN ? "unknown" : "other";
		snprintf(line[n++], sizeof line[0], "%s=%s", e->d_name, t);
	}
	if (d)
		closedir(d);
	char *p[64];
	for (int i = 0; i < n; i++)
		p[i] = line[i];
	qsort(p, n, sizeof p[0], cmp);
	printf("d_type(%s):", path);
	for (int i = 0; i < n; i++)
		printf(" %s", p[i]);
	printf("\n");
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	char buf[512];
	struct stat st;
	umask(022);
	rmtree(D);
	CHECK("mkdir " D, mkdir(D, 0755));
	CHECK("chdir " D, chdir(D));

	/* open/read/write/lseek/pread/pwrite. */
	int fd = open("f", O_CREAT | O_EXCL | O_RDWR, 0666);
	printf("open(f, O_CREAT|O_EXCL) ok=%d\n", fd >= 0);
	CHECK("write hello world", write(fd, "hello world", 11));
	CHECK("lseek(0, SEEK_CUR)", lseek(fd, 0, SEEK_CUR));
	CHECK("lseek(0, SEEK_SET)", lseek(fd, 0, SEEK_SET));
	memset(buf, 0, sizeof buf);
	CHECK("read 5", read(fd, buf, 5));
	printf("  data=%s\n", buf);
	memset(buf, 0, sizeof buf);
	CHECK("pread(5, 6)", pread(fd, buf, 5, 6));
	printf("  data=%s\n", buf);
	CHECK("lseek(0, SEEK_CUR) after pread", lseek(fd, 0, SEEK_CUR));
	CHECK("pwrite(HELLO, 0)", pwrite(fd, "HELLO", 5, 0));
	CHECK("lseek(0, SEEK_END)", lseek(fd, 0, SEEK_END));
	CHECK("lseek(-1, SEEK_SET)", lseek(fd, -1, SEEK_SET));
	CHECK("lseek(0, 99)", lseek(fd, 0, 99));
	CHECK("lseek(100, SEEK_SET)", lseek(fd, 100, SEEK_SET));
	CHECK("write x at 100", write(fd, "x", 1));
	CHECK("fstat", fstat(fd, &st));
	printf("  size=%ld mode=%o isreg=%d nlink=%ld\n", (long)st.st_size, st.st_mode & 07777, S_ISREG(st.st_mode), (long)st.st_nlink);
	memset(buf, 1, sizeof buf);
	CHECK("pread(hole, 10, 50)", pread(fd, buf, 10, 50));
	printf("  hole reads zeros=%d\n", buf[0] == 0 && buf[9] == 0);
	CHECK("ftruncate(3)", ftruncate(fd, 3));
	CHECK("fstat", fstat(fd, &st));
	printf("  size=%ld\n", (long)st.st_size);
	CHECK("lseek(0, SEEK_SET)", lseek(fd, 0, SEEK_SET));
	memset(buf, 0, sizeof buf);
	CHECK("read after truncate", read(fd, buf, sizeof buf));
	printf("  data=%s\n", buf);
	CHECK("ftruncate(-1)", ftruncate(fd, -1));
	close(fd);
	CHECK("pread(pipe)", ({ int p[2]; pipe(p); long r = pread(p[0], buf, 1, 0); close(p[0]); close(p[1]); r; }));
	CHECK("lseek(pipe)", ({ int p[2]; pipe(p); long r = lseek(p[0], 0, SEEK_SET); int e = errno; close(p[0]); close(p[1]); errno = e; r; }));

	/* O_APPEND, O_TRUNC, creat. */
	fd = open("f", O_WRONLY | O_APPEND);
	CHECK("lseek(0, SEEK_SET) on O_APPEND", lseek(fd, 0, SEEK_SET));
	CHECK("write on O_APPEND", write(fd, "END", 3));
	close(fd);
	CHECK("stat f", stat("f", &st));
	printf("  size=%ld\n", (long)st.st_size);
	fd = creat("f", 0600);
	CHECK("read on creat fd", read(fd, buf, 1));
	close(fd);
	CHECK("stat f after creat (O_TRUNC)", stat("f", &st));
	printf("  size=%ld mode=%o\n", (long)st.st_size, st.st_mode & 07777);
	fd = open("f", O_RDONLY);
	CHECK("write on O_RDONLY fd", write(fd, "x", 1));
	close(fd);

	/* errno values. */
	CHECK("open(f, O_CREAT|O_EXCL)", open("f", O_CREAT | O_EXCL | O_RDWR, 0644));
	CHECK("open(missing)", open("missing", O_RDONLY));
	CHECK("open(f/x)", open("f/x", O_RDONLY));
	CHECK("open(missing/x, O_CREAT)", open("missing/x", O_CREAT | O_WRONLY, 0644));
	CHECK("open(., O_WRONLY)", open(".", O_WRONLY));
	CHECK("open(f, O_DIRECTORY)", open("f", O_RDONLY | O_DIRECTORY));
	CHECK("open(\"\")", open("", O_RDONLY));
	memset(buf, 'n', 300);
	buf[300 - 45] = 0;
	CHECK("open(name of 255 chars)", open(buf, O_RDONLY));
	buf[255] = 'n';
	buf[256] = 0;
	CHECK("open(name of 256 chars)", open(buf, O_RDONLY));
	CHECK("mkdir(d)", mkdir("d", 0750));
	CHECK("mkdir(d) again", mkdir("d", 0750));
	CHECK("mkdir(f)", mkdir("f", 0750));
	CHECK("mkdir(missing/d)", mkdir("missing/d", 0750));
	CHECK("stat d", stat("d", &st));
	printf("  mode=%o isdir=%d nlink=%ld\n", st.st_mode & 07777, S_ISDIR(st.st_mode), (long)st.st_nlink);
	fd = open("d/inner", O_CREAT | O_WRONLY, 0644);
	close(fd);
	CHECK("rmdir(d) not empty", rmdir("d"));
	CHECK("rmdir(f)", rmdir("f"));
	CHECK("rmdir(missing)", rmdir("missing"));
	CHECK("rmdir(.)", rmdir("."));
	CHECK("unlink(d)", unlink("d"));
	CHECK("unlink(missing)", unlink("missing"));
	CHECK("read(dir fd)", ({ int dfd = open("d", O_RDONLY); long r = read(dfd, buf, 10); int e = errno; close(dfd); errno = e; r; }));

	/* rename. */
	CHECK("rename(f, g)", rename("f", "g"));
	CHECK("stat f after rename", stat("f", &st));
	CHECK("stat g after rename", stat("g", &st));
	CHECK("rename(missing, h)", rename("missing", "h"));
	CHECK("rename(g, d) onto non-empty dir", rename("g", "d"));
	CHECK("mkdir(e)", mkdir("e", 0755));
	CHECK("rename(d, e) onto empty dir", rename("d", "e"));
	CHECK("mkdir(d2)", mkdir("d2", 0755));
	fd = open("d2/x", O_CREAT | O_WRONLY, 0644);
	close(fd);
	CHECK("rename(e, d2) onto non-empty dir", rename("e", "d2"));
	CHECK("rename(e, e/sub) into itself", rename("e", "e/sub"));
	CHECK("rename(g, g)", rename("g", "g"));
	CHECK("rename(e, g) dir onto file", rename("e", "g"));

	/* readdir. */
	for (const char *n = "cab"; *n; n++) {
		char name[2] = {*n, 0};
		close(open(name, O_CREAT | O_WRONLY, 0644));
	}
	symlink("a", "lnk");
	listdir(".");
	dtypes(".");
	listdir("e");
	listdir("/etc/apk");
	listdir("missing");

	/* getcwd / chdir. */
	CHECK("chdir(e)", chdir("e"));
	printf("getcwd=%s\n", getcwd(buf, sizeof buf));
	CHECK("chdir(..)", chdir(".."));
	printf("getcwd=%s\n", getcwd(buf, sizeof buf));
	CHECK("chdir(missing)", chdir("missing"));
	CHECK("chdir(g)", chdir("g"));
	errno = 0;
	char *cwd2 = getcwd(buf, 2);
	int cwd2err = errno;
	printf("getcwd(buf, 2)=%s %s\n", cwd2 ? "ok" : "NULL", errname(cwd2err));
	CHECK("chdir(/)", chdir("/"));
	printf("getcwd=%s\n", getcwd(buf, sizeof buf));
	CHECK("chdir(/..)", chdir("/.."));
	printf("getcwd=%s\n", getcwd(buf, sizeof buf));
	CHECK("chdir(" D ")", chdir(D));

	/* symlink / readlink / link / access. */
	CHECK("symlink(nowhere, s)", symlink("nowhere", "s"));
	CHECK("symlink(x, s) again", symlink("x", "s"));
	memset(buf, 0, sizeof buf);
	CHECK("readlink(s)", readlink("s", buf, sizeof buf));
	printf("  target=%s\n", buf);
	memset(buf, 0, sizeof buf);
	CHECK("readlink(s, 3 bytes)", readlink("s", buf, 3));
	printf("  target=%s\n", buf);
	CHECK("readlink(g)", readlink("g", buf, sizeof buf));
	CHECK("open(s) dangling", open("s", O_RDONLY));
	CHECK("lstat(s)", lstat("s", &st));
	printf("  islnk=%d size=%ld\n", S_ISLNK(st.st_mode), (long)st.st_size);
	CHECK("stat(s)", stat("s", &st));
	CHECK("symlink(loop, loop)", symlink("loop", "loop"));
	CHECK("open(loop)", open("loop", O_RDONLY));
	CHECK("open(s, O_NOFOLLOW)", open("s", O_RDONLY | O_NOFOLLOW));
	CHECK("symlink(/etc/hostname, abs)", symlink("/etc/hostname", "abs"));
	memset(buf, 0, sizeof buf);
	CHECK("read through absolute symlink", ({ int f = open("abs", O_RDONLY); long r = read(f, buf, sizeof buf); close(f); r; }));
	printf("  data=%s", buf);
	CHECK("link(g, g2)", link("g", "g2"));
	CHECK("stat g", stat("g", &st));
	printf("  nlink=%ld\n", (long)st.st_nlink);
	CHECK("link(g, g2) again", link("g", "g2"));
	CHECK("link(e, e2) dir", link("e", "e2"));
	CHECK("access(g, R_OK|W_OK)", access("g", R_OK | W_OK));
	CHECK("access(g, X_OK) mode 0600 as root", access("g", X_OK));
	CHECK("access(/bin/busybox, X_OK)", access("/bin/busybox", X_OK));
	CHECK("access(missing, F_OK)", access("missing", F_OK));
	CHECK("access(g/x, F_OK)", access("g/x", F_OK));
	CHECK("access(g, 0x100)", access("g", 0x100));
	CHECK("chmod(g, 0751)", chmod("g", 0751));
	CHECK("stat g", stat("g", &st));
	printf("  mode=%o\n", st.st_mode & 07777);
	CHECK("access(g, X_OK) mode 0751", access("g", X_OK));
	CHECK("unlink(g)", unlink("g"));
	CHECK("stat g2", stat("g2", &st));
	printf("  nlink=%ld\n", (long)st.st_nlink);
	CHECK("openat(dirfd of e, \"../g2\")", ({ int dfd = open("e", O_RDONLY | O_DIRECTORY); long r = openat(dfd, "../g2", O_RDONLY); close(dfd); r >= 0 ? 0 : r; }));

	CHECK("chdir(/)", chdir("/"));
	rmtree(D);
	CHECK("stat " D " after cleanup", stat(D, &st));
	return 0;
}
