//go:build ignore

// pty.c: a guest program making its own pseudo-terminal (issue 7): open
// /dev/ptmx, grantpt/unlockpt/ptsname, termios defaults, echo, canonical
// editing, ICRNL/ONLCR, VEOF, VMIN, a child on the replica (setsid +
// TIOCSCTTY) talking through it, SIGINT from the VINTR key, and EIO on the
// master once the replica is closed. Printed the same natively and in
// kvsentry.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "kvtest.h"

/* nativeSetup gives a native chroot without devtmpfs a /dev/ptmx and a
 * devpts instance (the test runs in a private mount namespace); the
 * sandbox has both already. */
static void nativeSetup(void)
{
	if (access("/dev/ptmx", F_OK) == 0)
		return;
	if (mount("tmpfs", "/dev", "tmpfs", 0, "mode=755") != 0 ||
	    mknod("/dev/ptmx", S_IFCHR | 0666, makedev(5, 2)) != 0 ||
	    mknod("/dev/tty", S_IFCHR | 0666, makedev(5, 0)) != 0 ||
	    mkdir("/dev/pts", 0755) != 0 ||
	    mount("devpts", "/dev/pts", "devpts", 0, "newinstance,ptmxmode=0666,mode=620,gid=5") != 0) {
		perror("native /dev setup");
		exit(1);
	}
}

/* show prints s with control characters escaped. */
static void show(const char *what, const char *s, int n)
{
	printf("%s: \"", what);
	for (int i = 0; i < n; i++) {
		unsigned char c = s[i];
		if (c == '\r')
			printf("\\r");
		else if (c == '\n')
			printf("\\n");
		else if (c < 0x20 || c == 0x7f)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
	printf("\"\n");
}

/* readUntil reads fd until buf holds want (or 5 s pass); returns the length. */
static int readUntil(int fd, char *buf, int size, const char *want)
{
	int n = 0;
	buf[0] = 0;
	while (n < size - 1 && !strstr(buf, want)) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 5000) <= 0)
			break;
		int r = read(fd, buf + n, size - 1 - n);
		if (r <= 0)
			break;
		n += r;
		buf[n] = 0;
	}
	return n;
}

/* drain reads what is readable on fd within 200 ms. */
static int drain(int fd, char *buf, int size)
{
	int n = 0;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	while (n < size - 1 && poll(&p, 1, 200) > 0) {
		int r = read(fd, buf + n, size - 1 - n);
		if (r <= 0)
			break;
		n += r;
	}
	buf[n] = 0;
	return n;
}

/* errName extends errname with the terminal errnos. */
static const char *errName(int e)
{
	switch (e) {
	case EIO: return "EIO";
	case ENXIO: return "ENXIO";
	}
	return errname(e);
}

static void onInt(int sig)
{
	(void)sig;
	static const char msg[] = "child got SIGINT\n";
	write(1, msg, sizeof msg - 1);
	_exit(7);
}

int main(void)
{
	char buf[512], *name;
	int n;
	nativeSetup();
	setvbuf(stdout, NULL, _IONBF, 0);

	int m = posix_openpt(O_RDWR | O_NOCTTY);
	printf("posix_openpt: %s isatty=%d\n", m >= 0 ? "ok" : errName(errno), isatty(m));
	name = ptsname(m);
	printf("ptsname: /dev/pts/ prefix=%d\n", name && strncmp(name, "/dev/pts/", 9) == 0);
	int early = open(name, O_RDWR | O_NOCTTY);
	printf("open before unlockpt: %d %s\n", early < 0 ? -1 : 0, early < 0 ? errName(errno) : "");
	printf("grantpt=%d unlockpt=%d\n", grantpt(m), unlockpt(m));
	int s = open(name, O_RDWR | O_NOCTTY);
	printf("open replica: %s isatty=%d\n", s >= 0 ? "ok" : errName(errno), isatty(s));
	char *tn = ttyname(s);
	printf("ttyname matches ptsname: %d\n", tn && strcmp(tn, name) == 0);
	struct stat st;
	fstat(s, &st);
	printf("replica: chr=%d major=%u\n", S_ISCHR(st.st_mode), major(st.st_rdev));
	int nodes = open("/dev/tty", O_RDWR);
	printf("open /dev/tty without a controlling terminal: %d %s\n", nodes < 0 ? -1 : 0, nodes < 0 ? errName(errno) : "");

	struct termios t;
	tcgetattr(s, &t);
	printf("defaults: icanon=%d echo=%d isig=%d icrnl=%d onlcr=%d opost=%d\n", !!(t.c_lflag & ICANON),
	       !!(t.c_lflag & ECHO), !!(t.c_lflag & ISIG), !!(t.c_iflag & ICRNL), !!(t.c_oflag & ONLCR),
	       !!(t.c_oflag & OPOST));
	printf("keys: intr=%d quit=%d erase=%d kill=%d eof=%d susp=%d min=%d time=%d\n", t.c_cc[VINTR],
	       t.c_cc[VQUIT], t.c_cc[VERASE], t.c_cc[VKILL], t.c_cc[VEOF], t.c_cc[VSUSP], t.c_cc[VMIN],
	       t.c_cc[VTIME]);

	struct winsize ws = {.ws_row = 30, .ws_col = 100};
	ioctl(m, TIOCSWINSZ, &ws);
	memset(&ws, 0, sizeof ws);
	ioctl(s, TIOCGWINSZ, &ws);
	printf("winsize set on master, read on replica: %dx%d\n", ws.ws_row, ws.ws_col);

	/* Output: ONLCR. */
	write(s, "out\n", 4);
	n = readUntil(m, buf, sizeof buf, "\n");
	show("replica wrote out\\n, master read", buf, n);

	/* Input: echo, VERASE, ICRNL, one line per canonical read. */
	static const char typed[] = "ab\x7f" "c\rnext\r";
	write(m, typed, sizeof typed - 1);
	n = readUntil(m, buf, sizeof buf, "next\r\n");
	show("echo", buf, n);
	n = read(s, buf, sizeof buf);
	show("canonical read 1", buf, n);
	int avail = 0;
	ioctl(s, FIONREAD, &avail);
	printf("FIONREAD: %d\n", avail);
	n = read(s, buf, sizeof buf);
	show("canonical read 2", buf, n);

	/* VEOF: the line without it, then end of file. */
	write(m, "q\x04", 2);
	drain(m, buf, sizeof buf);
	n = read(s, buf, sizeof buf);
	show("line ended by VEOF", buf, n);
	write(m, "\x04", 1);
	n = read(s, buf, sizeof buf);
	printf("VEOF on empty line: read=%d\n", n);

	/* Non-canonical: no echo, VMIN 2; OPOST off. */
	struct termios raw = t;
	raw.c_lflag &= ~(ICANON | ECHO);
	raw.c_oflag &= ~OPOST;
	raw.c_cc[VMIN] = 2;
	raw.c_cc[VTIME] = 0;
	tcsetattr(s, TCSANOW, &raw);
	write(m, "xy\r", 3);
	n = read(s, buf, sizeof buf);
	show("raw read (VMIN 2, ICRNL still on)", buf, n);
	n = drain(m, buf, sizeof buf);
	printf("echo without ECHO: %d bytes\n", n);
	write(s, "a\nb", 3);
	n = readUntil(m, buf, sizeof buf, "b");
	show("output without OPOST", buf, n);
	raw.c_cc[VMIN] = 0;
	tcsetattr(s, TCSANOW, &raw);
	n = read(s, buf, sizeof buf);
	printf("VMIN 0 VTIME 0 with no input: read=%d\n", n);
	tcsetattr(s, TCSANOW, &t);

	/* A child on the replica: its own session, controlling terminal. */
	pid_t pid = fork();
	if (pid == 0) {
		close(m);
		setsid();
		int r = ioctl(s, TIOCSCTTY, 0);
		dup2(s, 0);
		dup2(s, 1);
		int dt = open("/dev/tty", O_RDWR);
		printf("child: sctty=%d fg-is-me=%d sid-is-me=%d /dev/tty=%d\n", r, tcgetpgrp(0) == getpid(),
		       tcgetsid(0) == getpid(), dt >= 0);
		n = read(0, buf, sizeof buf);
		buf[n > 0 ? n - 1 : 0] = 0;
		printf("child read [%s]\n", buf);
		signal(SIGINT, onInt);
		printf("child ready\n");
		for (;;)
			pause();
	}
	n = readUntil(m, buf, sizeof buf, "/dev/tty=1\r\n");
	show("from child", buf, n);
	write(m, "hello child\r", 12);
	n = readUntil(m, buf, sizeof buf, "child ready\r\n");
	show("echo and child", buf, n);
	write(m, "\x03", 1);
	n = readUntil(m, buf, sizeof buf, "SIGINT\r\n");
	printf("after VINTR: echo ^C=%d child got SIGINT=%d\n", strstr(buf, "^C") != NULL,
	       strstr(buf, "child got SIGINT\r\n") != NULL);
	int status;
	waitpid(pid, &status, 0);
	printf("child exit: %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status));

	close(s);
	n = read(m, buf, sizeof buf);
	printf("master read after the replica closed: %d %s\n", n, n < 0 ? errName(errno) : "");
	return 0;
}
