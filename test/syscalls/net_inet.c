//go:build ignore

/* net_inet.c: AF_INET on 127.0.0.1 — non-blocking connect, accept4 flags,
 * half-close, a 64 MiB transfer with a checksum, UDP sendmmsg/recvmmsg,
 * socket options, and getaddrinfo of localhost and of an /etc/hosts name. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kvtest.h"

static int listener(struct sockaddr_in *a)
{
	int l = socket(AF_INET, SOCK_STREAM, 0);
	int on = 1;
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
	memset(a, 0, sizeof *a);
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(l, (struct sockaddr *)a, sizeof *a);
	socklen_t al = sizeof *a;
	getsockname(l, (struct sockaddr *)a, &al);
	listen(l, 8);
	return l;
}

static void tcp_basics(void)
{
	struct sockaddr_in a;
	int l = listener(&a);
	printf("listener port nonzero: %d\n", a.sin_port != 0);
	int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	errno = 0;
	int r = connect(c, (struct sockaddr *)&a, sizeof a);
	printf("non-blocking connect: ret=%d EINPROGRESS-or-OK=%d\n", r, r == 0 || errno == EINPROGRESS);
	struct pollfd pf = { c, POLLOUT, 0 };
	poll(&pf, 1, 5000);
	int err = -1;
	socklen_t el = sizeof err;
	getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &el);
	printf("poll POLLOUT: revents=0x%x SO_ERROR=%d\n", pf.revents, err);
	struct sockaddr_in peer;
	socklen_t pl = sizeof peer;
	int s = accept4(l, (struct sockaddr *)&peer, &pl, SOCK_NONBLOCK | SOCK_CLOEXEC);
	printf("accept4: ok=%d addrlen=%d family=%d nonblock=%d cloexec=%d\n", s >= 0, (int)pl, peer.sin_family,
	       (fcntl(s, F_GETFL) & O_NONBLOCK) != 0, (fcntl(s, F_GETFD) & FD_CLOEXEC) != 0);
	char buf[32];
	CHECK("recv(empty, nonblocking)", recv(s, buf, sizeof buf, 0));
	CHECK("send", send(c, "half", 4, 0));
	CHECK("shutdown(client, SHUT_WR)", shutdown(c, SHUT_WR));
	pf = (struct pollfd){ s, POLLIN | POLLRDHUP, 0 };
	poll(&pf, 1, 5000);
	int n = recv(s, buf, sizeof buf, 0);
	printf("server recv: %d %.*s\n", n, n, buf);
	pf.revents = 0;
	poll(&pf, 1, 5000);
	printf("poll after data drained: revents has POLLRDHUP=%d\n", (pf.revents & POLLRDHUP) != 0);
	CHECK("server recv at EOF", recv(s, buf, sizeof buf, 0));
	CHECK("server send after client SHUT_WR", send(s, "back", 4, 0));
	CHECK("shutdown(server, SHUT_WR)", shutdown(s, SHUT_WR));
	fcntl(c, F_SETFL, 0);
	n = recv(c, buf, sizeof buf, MSG_WAITALL);
	printf("client recv (half-closed): %d %.*s\n", n, n, buf);
	int v = 0;
	socklen_t vl = sizeof v;
	getsockopt(s, IPPROTO_TCP, TCP_NODELAY, &v, &vl);
	printf("TCP_NODELAY default: %d\n", v);
	v = 1;
	CHECK("setsockopt(TCP_NODELAY)", setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v));
	CHECK("setsockopt(TCP_NODELAY, len 1)", setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &v, 1));
	CHECK("setsockopt(SO_RCVTIMEO, len 4)", setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &v, 4));
	CHECK("getsockopt(bad pointer)", getsockopt(s, SOL_SOCKET, SO_TYPE, (void *)16, &vl));
	CHECK("connect(bad addrlen)", connect(socket(AF_INET, SOCK_STREAM, 0), (struct sockaddr *)&a, 4));
	CHECK("connect(connected)", connect(c, (struct sockaddr *)&a, sizeof a));
	CHECK("getpeername(listener)", getpeername(l, (struct sockaddr *)&peer, &pl));
	close(c);
	close(s);
	close(l);
	/* A port held by a bound socket that does not listen: refused, and
	 * never a self-connect to a freed port. */
	int held = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in h = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t hl = sizeof h;
	bind(held, (struct sockaddr *)&h, sizeof h);
	getsockname(held, (struct sockaddr *)&h, &hl);
	int r2 = socket(AF_INET, SOCK_STREAM, 0);
	CHECK("connect(port not listening)", connect(r2, (struct sockaddr *)&h, sizeof h));
	close(r2);
	close(held);
}

static void big_transfer(void)
{
	struct sockaddr_in a;
	int l = listener(&a);
	const long total = 64L << 20;
	pid_t pid = fork();
	if (pid == 0) {
		int c = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(c, (struct sockaddr *)&a, sizeof a) < 0)
			_exit(1);
		static unsigned char buf[65536];
		unsigned x = 12345;
		for (long sent = 0; sent < total;) {
			for (int i = 0; i < (int)sizeof buf; i++) {
				x = x * 1103515245 + 12345;
				buf[i] = x >> 16;
			}
			long k = write(c, buf, sizeof buf);
			if (k != sizeof buf)
				_exit(2);
			sent += k;
		}
		close(c);
		_exit(0);
	}
	int s = accept(l, NULL, NULL);
	static unsigned char buf[100000];
	unsigned long sum = 0, got = 0;
	for (;;) {
		long n = read(s, buf, sizeof buf);
		if (n <= 0)
			break;
		for (long i = 0; i < n; i++)
			sum = sum * 31 + buf[i];
		got += n;
	}
	int st;
	waitpid(pid, &st, 0);
	printf("64 MiB transfer: got=%lu checksum=%lx child=%d\n", got, sum, WEXITSTATUS(st));
	close(s);
	close(l);
}

static void udp_mmsg(void)
{
	int r = socket(AF_INET, SOCK_DGRAM, 0), s = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	bind(r, (struct sockaddr *)&a, sizeof a);
	socklen_t al = sizeof a;
	getsockname(r, (struct sockaddr *)&a, &al);
	CHECK("connect(udp)", connect(s, (struct sockaddr *)&a, sizeof a));
	struct mmsghdr mm[4];
	struct iovec iov[4];
	char *msgs[] = { "alpha", "beta", "gamma", "delta-long-message" };
	memset(mm, 0, sizeof mm);
	for (int i = 0; i < 4; i++) {
		iov[i] = (struct iovec){ msgs[i], strlen(msgs[i]) };
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	CHECK("sendmmsg(4)", sendmmsg(s, mm, 4, 0));
	printf("msg_len: %u %u %u %u\n", mm[0].msg_len, mm[1].msg_len, mm[2].msg_len, mm[3].msg_len);
	char bufs[4][8];
	struct sockaddr_in from[4];
	memset(mm, 0, sizeof mm);
	for (int i = 0; i < 4; i++) {
		iov[i] = (struct iovec){ bufs[i], sizeof bufs[i] };
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
		mm[i].msg_hdr.msg_name = &from[i];
		mm[i].msg_hdr.msg_namelen = sizeof from[i];
	}
	int n = recvmmsg(r, mm, 4, MSG_WAITFORONE, NULL);
	printf("recvmmsg: %d\n", n);
	for (int i = 0; i < n; i++)
		printf("  [%d] len=%u flags=0x%x namelen=%u data=%.*s\n", i, mm[i].msg_len, mm[i].msg_hdr.msg_flags,
		       mm[i].msg_hdr.msg_namelen, (int)(mm[i].msg_len < 8 ? mm[i].msg_len : 8), bufs[i]);
	CHECK("recvmmsg(empty, MSG_DONTWAIT)", recvmmsg(r, mm, 4, MSG_DONTWAIT, NULL));
	CHECK("sendto(udp, bad addr pointer)", sendto(r, "x", 1, 0, (struct sockaddr *)16, sizeof a));
	CHECK("sendto(udp, addrlen 200)", sendto(r, "x", 1, 0, (struct sockaddr *)&a, 200));
	close(r);
	close(s);
}

static void lookup(const char *name)
{
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *res;
	int e = getaddrinfo(name, "80", &hints, &res);
	if (e) {
		printf("getaddrinfo(%s): error %d\n", name, e);
		return;
	}
	char ip[64];
	inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, ip, sizeof ip);
	printf("getaddrinfo(%s): %s port %d\n", name, ip, ntohs(((struct sockaddr_in *)res->ai_addr)->sin_port));
	freeaddrinfo(res);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (argc > 1 && !strcmp(argv[1], "lookup")) {
		lookup("localhost");
		lookup("kvtest-host.example");
		lookup("10.1.2.3");
		return 0;
	}
	tcp_basics();
	udp_mmsg();
	big_transfer();
	return 0;
}
