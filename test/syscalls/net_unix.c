//go:build ignore

/* net_unix.c: AF_UNIX sockets — a path socket between two processes,
 * socketpair, SCM_RIGHTS and SCM_CREDENTIALS, SO_PEERCRED, shutdown,
 * non-blocking mode, datagrams, seqpacket and poll readiness. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kvtest.h"

static socklen_t mkaddr(struct sockaddr_un *a, const char *path, int abstract)
{
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	if (abstract) {
		memcpy(a->sun_path + 1, path, strlen(path));
		return offsetof(struct sockaddr_un, sun_path) + 1 + strlen(path);
	}
	strcpy(a->sun_path, path);
	return sizeof *a;
}

static void path_socket(void)
{
	struct sockaddr_un a;
	socklen_t al = mkaddr(&a, "/tmp/kvunix.sock", 0);
	unlink(a.sun_path);
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK("bind(path)", bind(l, (struct sockaddr *)&a, al));
	int again = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK("bind(same path again)", bind(again, (struct sockaddr *)&a, al));
	close(again);
	struct stat st;
	stat(a.sun_path, &st);
	printf("socket file is S_IFSOCK: %d\n", S_ISSOCK(st.st_mode));
	int c0 = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK("connect(before listen)", connect(c0, (struct sockaddr *)&a, al));
	close(c0);
	CHECK("listen", listen(l, 5));
	pid_t pid = fork();
	if (pid == 0) {
		int c = socket(AF_UNIX, SOCK_STREAM, 0);
		if (connect(c, (struct sockaddr *)&a, al) < 0)
			_exit(1);
		write(c, "ping from child", 15);
		char buf[64];
		int n = read(c, buf, sizeof buf);
		_exit(n == 4 && !memcmp(buf, "pong", 4) ? 0 : 2);
	}
	struct sockaddr_un peer;
	socklen_t pl = sizeof peer;
	int s = accept4(l, (struct sockaddr *)&peer, &pl, SOCK_CLOEXEC);
	printf("accept4: ok=%d peer addrlen=%d cloexec=%d\n", s >= 0, (int)pl, (fcntl(s, F_GETFD) & FD_CLOEXEC) != 0);
	char buf[64] = {0};
	int n = read(s, buf, sizeof buf);
	printf("server read %d: %.*s\n", n, n, buf);
	struct ucred cr;
	socklen_t crl = sizeof cr;
	getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cr, &crl);
	printf("SO_PEERCRED: len=%d pid is child=%d uid=%d gid=%d\n", (int)crl, cr.pid == pid, cr.uid, cr.gid);
	write(s, "pong", 4);
	int st2;
	waitpid(pid, &st2, 0);
	printf("child exit: %d\n", WEXITSTATUS(st2));
	struct sockaddr_un me;
	socklen_t ml = sizeof me;
	getsockname(s, (struct sockaddr *)&me, &ml);
	printf("getsockname(accepted): len=%d path=%s\n", (int)ml, me.sun_path);
	n = read(s, buf, sizeof buf);
	printf("read after peer exit: %d\n", n);
	CHECK("write after peer exit (SIGPIPE ignored)", write(s, "x", 1));
	close(s);
	close(l);
	CHECK("connect(listener closed)", ({ int c = socket(AF_UNIX, SOCK_STREAM, 0); int r = connect(c, (struct sockaddr *)&a, al); close(c); r; }));
	unlink(a.sun_path);
	CHECK("connect(missing path)", ({ int c = socket(AF_UNIX, SOCK_STREAM, 0); int r = connect(c, (struct sockaddr *)&a, al); close(c); r; }));
}

static void pair_and_rights(void)
{
	int sv[2];
	CHECK("socketpair(STREAM)", socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	int p[2];
	pipe(p);
	write(p[1], "through a passed fd", 19);
	char data = 'R';
	struct iovec iov = { &data, 1 };
	union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } u;
	struct msghdr m = { 0 };
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = u.buf;
	m.msg_controllen = sizeof u.buf;
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &p[0], sizeof(int));
	CHECK("sendmsg(SCM_RIGHTS)", sendmsg(sv[0], &m, 0));
	close(p[0]);
	pid_t pid = fork();
	if (pid == 0) {
		char d;
		union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } r;
		struct iovec riov = { &d, 1 };
		struct msghdr rm = { 0 };
		rm.msg_iov = &riov;
		rm.msg_iovlen = 1;
		rm.msg_control = r.buf;
		rm.msg_controllen = sizeof r.buf;
		int n = recvmsg(sv[1], &rm, MSG_CMSG_CLOEXEC);
		struct cmsghdr *rc = CMSG_FIRSTHDR(&rm);
		printf("child recvmsg: n=%d data=%c cmsg level=%d type=%d len=%d controllen=%d\n", n, d,
		       rc ? rc->cmsg_level : -1, rc ? rc->cmsg_type : -1, rc ? (int)rc->cmsg_len : -1, (int)rm.msg_controllen);
		int fd;
		memcpy(&fd, CMSG_DATA(rc), sizeof fd);
		char buf[64];
		int k = read(fd, buf, sizeof buf);
		printf("child read from passed fd: %.*s cloexec=%d\n", k, buf, (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
		fflush(stdout);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	/* Bad control data. */
	c->cmsg_len = 8;
	CHECK("sendmsg(cmsg_len 8)", sendmsg(sv[0], &m, 0));
	c->cmsg_len = CMSG_LEN(sizeof(int));
	int bad = 999;
	memcpy(CMSG_DATA(c), &bad, sizeof bad);
	CHECK("sendmsg(SCM_RIGHTS bad fd)", sendmsg(sv[0], &m, 0));
	/* Credentials. */
	int on = 1;
	CHECK("setsockopt(SO_PASSCRED)", setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on));
	write(sv[0], "c", 1);
	char d;
	union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(struct ucred))]; } r;
	struct iovec riov = { &d, 1 };
	struct msghdr rm = { 0 };
	rm.msg_iov = &riov;
	rm.msg_iovlen = 1;
	rm.msg_control = r.buf;
	rm.msg_controllen = sizeof r.buf;
	int n = recvmsg(sv[1], &rm, 0);
	struct cmsghdr *rc = CMSG_FIRSTHDR(&rm);
	struct ucred uc;
	memcpy(&uc, CMSG_DATA(rc), sizeof uc);
	printf("SCM_CREDENTIALS: n=%d type=%d pid is me=%d uid=%d gid=%d\n", n, rc->cmsg_type, uc.pid == getpid(), uc.uid, uc.gid);
	/* Shutdown and non-blocking. */
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	CHECK("read(empty, O_NONBLOCK)", read(sv[1], &d, 1));
	CHECK("shutdown(SHUT_WR)", shutdown(sv[0], SHUT_WR));
	struct pollfd pf = { sv[1], POLLIN | POLLRDHUP, 0 };
	poll(&pf, 1, 0);
	printf("poll after peer SHUT_WR: revents=0x%x\n", pf.revents);
	CHECK("read after peer SHUT_WR", read(sv[1], &d, 1));
	CHECK("write after SHUT_WR", send(sv[0], "x", 1, MSG_NOSIGNAL));
	CHECK("shutdown(how=7)", shutdown(sv[0], 7));
	CHECK("shutdown(not a socket)", shutdown(0 + p[1], SHUT_RD));
	close(sv[0]);
	close(sv[1]);
	close(p[1]);
}

static void datagrams(void)
{
	struct sockaddr_un a, b;
	socklen_t al = mkaddr(&a, "kvtest-dgram-a", 1), bl = mkaddr(&b, "kvtest-dgram-b", 1);
	int s1 = socket(AF_UNIX, SOCK_DGRAM, 0), s2 = socket(AF_UNIX, SOCK_DGRAM, 0);
	CHECK("bind(abstract a)", bind(s1, (struct sockaddr *)&a, al));
	CHECK("bind(abstract b)", bind(s2, (struct sockaddr *)&b, bl));
	CHECK("sendto(b)", sendto(s1, "hello datagram", 14, 0, (struct sockaddr *)&b, bl));
	CHECK("sendto(b) 2", sendto(s1, "second", 6, 0, (struct sockaddr *)&b, bl));
	char buf[8];
	struct sockaddr_un from;
	socklen_t fl = sizeof from;
	int n = recvfrom(s2, buf, 5, MSG_TRUNC, (struct sockaddr *)&from, &fl);
	printf("recvfrom(5, MSG_TRUNC): ret=%d data=%.5s fromlen=%d from=%s\n", n, buf, (int)fl, from.sun_path + 1);
	n = recv(s2, buf, sizeof buf, 0);
	printf("recv: %d %.*s\n", n, n, buf);
	CHECK("recv(empty, MSG_DONTWAIT)", recv(s2, buf, 1, MSG_DONTWAIT));
	CHECK("send(unconnected)", send(s1, "x", 1, 0));
	int st = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK("connect(stream to dgram)", connect(st, (struct sockaddr *)&b, bl));
	close(st);
	int sv[2];
	CHECK("socketpair(SEQPACKET)", socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv));
	write(sv[0], "one", 3);
	write(sv[0], "two!", 4);
	n = read(sv[1], buf, 2);
	printf("seqpacket read(2): %d %.2s\n", n, buf);
	n = read(sv[1], buf, sizeof buf);
	printf("seqpacket read: %d %.*s\n", n, n, buf);
	close(sv[0]);
	n = read(sv[1], buf, sizeof buf);
	printf("seqpacket read after close: %d\n", n);
	close(sv[1]);
	CHECK("bind(addrlen 111)", bind(s1, (struct sockaddr *)&a, 111));
	CHECK("bind(bound socket)", bind(s1, (struct sockaddr *)&a, al));
	CHECK("bind(bad pointer)", bind(socket(AF_UNIX, SOCK_DGRAM, 0), (struct sockaddr *)16, al));
	CHECK("socket(AF_UNIX, 9)", socket(AF_UNIX, 9, 0));
	CHECK("socket(1234)", socket(1234, SOCK_STREAM, 0));
	CHECK("socketpair(AF_INET)", socketpair(AF_INET, SOCK_STREAM, 0, sv));
	int v = 0;
	socklen_t vl = sizeof v;
	getsockopt(s1, SOL_SOCKET, SO_TYPE, &v, &vl);
	printf("SO_TYPE: %d len %d\n", v, (int)vl);
	CHECK("getsockopt(len -1)", ({ socklen_t bad = -1; getsockopt(s1, SOL_SOCKET, SO_TYPE, &v, &bad); }));
	CHECK("setsockopt(SO_PASSCRED, len 2)", setsockopt(s1, SOL_SOCKET, SO_PASSCRED, &v, 2));
	close(s1);
	close(s2);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	path_socket();
	pair_and_rights();
	datagrams();
	return 0;
}
