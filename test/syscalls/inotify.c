//go:build ignore

// inotify.c: inotify(7) events and errors, printed for a native/sandbox
// comparison. Watch descriptors are printed by role (D for the directory,
// F for the file ...), cookies only as "equal and non-zero".
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

static int ifd;
static int wds[8];
static const char *roles = "DFGHIJKL";
static unsigned last_cookie;

static const char *errname(int e) {
	switch (e) {
	case EAGAIN: return "EAGAIN"; case EINVAL: return "EINVAL"; case EBADF: return "EBADF";
	case EEXIST: return "EEXIST"; case ENOENT: return "ENOENT"; case ENOTDIR: return "ENOTDIR";
	case EFAULT: return "EFAULT"; case EACCES: return "EACCES";
	}
	static char b[32]; snprintf(b, sizeof b, "errno %d", e); return b;
}

#define CHECK(what, expr) do { errno = 0; long _r = (long)(expr); int _e = errno; \
	printf("%s: %ld%s%s\n", what, _r < 0 ? _r : (long)(_r >= 0), _r < 0 ? " " : "", _r < 0 ? errname(_e) : ""); } while (0)

static char role(int wd) {
	if (wd == -1) return '-';
	for (int i = 0; i < 8; i++) if (wds[i] == wd) return roles[i];
	return '?';
}

static void mask_str(unsigned m, char *out) {
	static const struct { unsigned bit; const char *name; } names[] = {
		{IN_ACCESS, "ACCESS"}, {IN_MODIFY, "MODIFY"}, {IN_ATTRIB, "ATTRIB"},
		{IN_CLOSE_WRITE, "CLOSE_WRITE"}, {IN_CLOSE_NOWRITE, "CLOSE_NOWRITE"}, {IN_OPEN, "OPEN"},
		{IN_MOVED_FROM, "MOVED_FROM"}, {IN_MOVED_TO, "MOVED_TO"}, {IN_CREATE, "CREATE"},
		{IN_DELETE, "DELETE"}, {IN_DELETE_SELF, "DELETE_SELF"}, {IN_MOVE_SELF, "MOVE_SELF"},
		{IN_Q_OVERFLOW, "Q_OVERFLOW"}, {IN_IGNORED, "IGNORED"}, {IN_ISDIR, "ISDIR"},
	};
	out[0] = 0;
	for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++)
		if (m & names[i].bit) { if (out[0]) strcat(out, "|"); strcat(out, names[i].name); m &= ~names[i].bit; }
	if (m) sprintf(out + strlen(out), "|%#x", m);
}

// drain prints every queued event, one a line, after the FIONREAD count.
static void drain(const char *what) {
	char buf[4096] __attribute__((aligned(8)));
	int avail = -1;
	ioctl(ifd, FIONREAD, &avail);
	printf("== %s (FIONREAD %d)\n", what, avail);
	unsigned prev_cookie = 0;
	for (;;) {
		ssize_t n = read(ifd, buf, sizeof buf);
		if (n < 0) {
			if (errno != EAGAIN) printf("read: %s\n", errname(errno));
			break;
		}
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *e = (void *)p;
			char m[256];
			mask_str(e->mask, m);
			printf("  %c %s", role(e->wd), m);
			if (e->len) {
				int pad_ok = 1;
				for (unsigned i = strlen(e->name); i < e->len; i++) if (e->name[i]) pad_ok = 0;
				printf(" name=%s len=%u pad_ok=%d", e->name, e->len, pad_ok);
			}
			if (e->mask & IN_MOVED_FROM) prev_cookie = e->cookie;
			else if (e->mask & IN_MOVED_TO) printf(" cookie_matches=%d", e->cookie != 0 && e->cookie == prev_cookie);
			else if (e->cookie) printf(" cookie=%u", e->cookie);
			printf("\n");
			p += sizeof *e + e->len;
		}
	}
	last_cookie = prev_cookie;
}

int main(void) {
	char b[64];
	CHECK("inotify_init1 bad flags", inotify_init1(1));
	ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	CHECK("inotify_init1", ifd);
	printf("cloexec=%d nonblock=%d rdonly=%d\n", (fcntl(ifd, F_GETFD) & FD_CLOEXEC) != 0,
		(fcntl(ifd, F_GETFL) & O_NONBLOCK) != 0, (fcntl(ifd, F_GETFL) & O_ACCMODE) == O_RDONLY);
	int blk = inotify_init();
	printf("inotify_init nonblock=%d\n", (fcntl(blk, F_GETFL) & O_NONBLOCK) != 0);
	close(blk);
	struct stat st;
	fstat(ifd, &st);
	printf("fstat mode=%o\n", st.st_mode);
	char lnk[64] = {0};
	snprintf(b, sizeof b, "/proc/self/fd/%d", ifd);
	readlink(b, lnk, sizeof lnk - 1);
	printf("link=%s\n", lnk);

	mkdir("/tmp/ino", 0755);
	CHECK("add_watch mask 0", inotify_add_watch(ifd, "/tmp/ino", 0));
	CHECK("add_watch unknown bit", inotify_add_watch(ifd, "/tmp/ino", IN_OPEN | 0x00100000));
	CHECK("add_watch bad fd", inotify_add_watch(99, "/tmp/ino", IN_OPEN));
	CHECK("add_watch not inotify", inotify_add_watch(1, "/tmp/ino", IN_OPEN));
	CHECK("add_watch MASK_ADD|MASK_CREATE", inotify_add_watch(ifd, "/tmp/ino", IN_OPEN | IN_MASK_ADD | IN_MASK_CREATE));
	CHECK("add_watch missing", inotify_add_watch(ifd, "/tmp/ino/none", IN_OPEN));
	CHECK("add_watch empty", inotify_add_watch(ifd, "", IN_OPEN));
	CHECK("add_watch NULL", inotify_add_watch(ifd, NULL, IN_OPEN));
	CHECK("add_watch ONLYDIR on file", inotify_add_watch(ifd, "/etc/passwd", IN_OPEN | IN_ONLYDIR));
	CHECK("rm_watch unknown wd", inotify_rm_watch(ifd, 12345));
	CHECK("rm_watch bad fd", inotify_rm_watch(99, 1));
	CHECK("rm_watch not inotify", inotify_rm_watch(1, 1));
	CHECK("read empty non-blocking", read(ifd, b, sizeof b));
	CHECK("write", write(ifd, "x", 1));

	wds[0] = inotify_add_watch(ifd, "/tmp/ino", IN_ALL_EVENTS);
	CHECK("add_watch dir", wds[0]);
	CHECK("add_watch dir MASK_CREATE again", inotify_add_watch(ifd, "/tmp/ino", IN_OPEN | IN_MASK_CREATE));
	printf("same inode same wd: %d\n", inotify_add_watch(ifd, "/tmp/ino/", IN_ALL_EVENTS) == wds[0]);
	struct pollfd pfd = {ifd, POLLIN, 0};
	printf("poll empty: %d\n", poll(&pfd, 1, 0));

	int fd = open("/tmp/ino/f", O_CREAT | O_WRONLY, 0644);
	write(fd, "ab", 2);
	write(fd, "cd", 2);
	close(fd);
	int pr = poll(&pfd, 1, 0);
	printf("poll after events: %d revents=%#x\n", pr, pfd.revents);
	CHECK("read 16-byte buffer", read(ifd, b, 16));
	CHECK("read 31-byte buffer", read(ifd, b, 31));
	drain("create, 2 writes, close");

	wds[1] = inotify_add_watch(ifd, "/tmp/ino/f", IN_ALL_EVENTS);
	fd = open("/tmp/ino/f", O_RDONLY);
	read(fd, b, 1);
	read(fd, b, 1);
	close(fd);
	drain("open, 2 reads, close");
	fd = open("/tmp/ino/f", O_WRONLY | O_TRUNC);
	close(fd);
	drain("O_TRUNC");
	chmod("/tmp/ino/f", 0600);
	struct timespec ts[2] = {{0, UTIME_NOW}, {0, UTIME_OMIT}};
	utimensat(AT_FDCWD, "/tmp/ino/f", ts, 0);
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1].tv_nsec = UTIME_NOW;
	utimensat(AT_FDCWD, "/tmp/ino/f", ts, 0);
	utimensat(AT_FDCWD, "/tmp/ino/f", NULL, 0);
	truncate("/tmp/ino/f", 1);
	setxattr("/tmp/ino/f", "user.k", "v", 1, 0);
	drain("chmod, utimens atime/mtime/both, truncate, setxattr");
	link("/tmp/ino/f", "/tmp/ino/g");
	unlink("/tmp/ino/g");
	drain("link, unlink");

	fd = open("/tmp/ino/h", O_CREAT | O_WRONLY, 0644);
	close(fd);
	wds[2] = inotify_add_watch(ifd, "/tmp/ino/h", IN_ALL_EVENTS);
	drain("create h");
	rename("/tmp/ino/f", "/tmp/ino/h");
	drain("rename f over h");
	mkdir("/tmp/ino/sub", 0755);
	wds[3] = inotify_add_watch(ifd, "/tmp/ino/sub", IN_ALL_EVENTS);
	rename("/tmp/ino/h", "/tmp/ino/sub/h2");
	drain("rename h into sub");

	fd = open("/tmp/ino/sub/h2", O_RDWR);
	unlink("/tmp/ino/sub/h2");
	drain("unlink of an open file");
	write(fd, "x", 1);
	close(fd);
	drain("write and close the unlinked file");

	int dfd = open("/tmp/ino/sub", O_RDONLY | O_DIRECTORY);
	char db[1024];
	syscall(217, dfd, db, sizeof db);
	close(dfd);
	rmdir("/tmp/ino/sub");
	drain("read and remove sub");

	wds[4] = inotify_add_watch(ifd, "/tmp/ino", IN_CREATE | IN_ONESHOT);
	printf("oneshot on the same inode keeps wd: %d\n", wds[4] == wds[0]);
	mkdir("/tmp/ino/o1", 0755);
	mkdir("/tmp/ino/o2", 0755);
	drain("IN_ONESHOT: two mkdirs");

	wds[4] = inotify_add_watch(ifd, "/tmp/ino/o1", IN_CREATE);
	printf("new wd after the oneshot: %d\n", wds[4] > wds[3]);
	CHECK("add_watch MASK_ADD", inotify_add_watch(ifd, "/tmp/ino/o1", IN_DELETE | IN_MASK_ADD));
	mkdir("/tmp/ino/o1/x", 0755);
	rmdir("/tmp/ino/o1/x");
	drain("IN_MASK_ADD: create and delete");
	CHECK("add_watch replace mask", inotify_add_watch(ifd, "/tmp/ino/o1", IN_DELETE));
	mkdir("/tmp/ino/o1/y", 0755);
	rmdir("/tmp/ino/o1/y");
	drain("replaced mask: create and delete");
	CHECK("rm_watch", inotify_rm_watch(ifd, wds[4]));
	CHECK("rm_watch again", inotify_rm_watch(ifd, wds[4]));
	drain("rm_watch");

	wds[5] = inotify_add_watch(ifd, "/tmp/ino/o2", IN_OPEN | IN_EXCL_UNLINK | IN_MODIFY);
	fd = open("/tmp/ino/o2/e", O_CREAT | O_RDWR, 0644);
	unlink("/tmp/ino/o2/e");
	write(fd, "x", 1);
	close(fd);
	drain("IN_EXCL_UNLINK");
	rmdir("/tmp/ino/o2");
	rmdir("/tmp/ino/o1");
	rmdir("/tmp/ino");
	drain("cleanup");
	return 0;
}
