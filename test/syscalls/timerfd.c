//go:build ignore

/* timerfd.c: timerfd_create(2), timerfd_settime(2), timerfd_gettime(2):
 * clocks, flags, one-shot and interval timers, TFD_TIMER_ABSTIME,
 * expiration counts read as one u64, the time left, poll bits. Prints only
 * what is deterministic (counts as relations to the time that passed). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include "kvtest.h"

/* rd reads a u64 from fd and prints it. */
static void rd(const char *label, int fd)
{
	uint64_t v = 0;
	errno = 0;
	ssize_t n = read(fd, &v, sizeof v);
	printf("%s: ret=%ld %s value=%llu\n", label, (long)n, n < 0 ? errname(errno) : "OK", n < 0 ? 0ULL : (unsigned long long)v);
}

/* pollbits prints fd's readiness for POLLIN|POLLOUT. */
static void pollbits(const char *label, int fd)
{
	struct pollfd p = {fd, POLLIN | POLLOUT, 0};
	poll(&p, 1, 0);
	printf("%s: revents=%#x\n", label, p.revents);
}

static long long ns(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	char path[64], link[64];
	ssize_t ln;
	uint32_t small = 1;
	uint64_t v;
	/* timerfd */
	CHECK("timerfd_create(bad clock 99)", timerfd_create(99, 0));
	CHECK("timerfd_create(CLOCK_PROCESS_CPUTIME_ID)", timerfd_create(CLOCK_PROCESS_CPUTIME_ID, 0));
	CHECK("timerfd_create(bad flag)", timerfd_create(CLOCK_MONOTONIC, 4));
	int t = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	printf("timerfd_create(MONOTONIC, NONBLOCK): ok=%d F_GETFL=%#x\n", t >= 0, fcntl(t, F_GETFL));
	snprintf(path, sizeof path, "/proc/self/fd/%d", t);
	ln = readlink(path, link, sizeof link - 1);
	link[ln < 0 ? 0 : ln] = 0;
	printf("  link: %s\n", link);
	rd("read(disarmed)", t);
	CHECK("read(4 bytes)", read(t, &small, sizeof small));
	CHECK("write(timerfd)", write(t, &v, sizeof v));
	struct itimerspec its = {{0, 0}, {0, 1000000000L}}, old;
	CHECK("settime(tv_nsec=1e9)", timerfd_settime(t, 0, &its, NULL));
	its.it_value.tv_nsec = 0;
	its.it_value.tv_sec = -1;
	CHECK("settime(tv_sec=-1)", timerfd_settime(t, 0, &its, NULL));
	its.it_value.tv_sec = 1;
	CHECK("settime(bad flags)", timerfd_settime(t, 8, &its, NULL));
	CHECK("settime(on an eventfd)", timerfd_settime(eventfd(0, 0), 0, &its, NULL));
	CHECK("settime(bad fd)", timerfd_settime(99, 0, &its, NULL));
	CHECK("gettime(bad fd)", timerfd_gettime(99, &old));

	/* One-shot. */
	its = (struct itimerspec){{0, 0}, {0, 20000000}};
	CHECK("settime(one-shot 20ms)", timerfd_settime(t, 0, &its, &old));
	printf("  old: %ld.%09ld / %ld.%09ld\n", (long)old.it_value.tv_sec, old.it_value.tv_nsec, (long)old.it_interval.tv_sec, old.it_interval.tv_nsec);
	struct itimerspec cur;
	timerfd_gettime(t, &cur);
	printf("  gettime: 0<value<=20ms=%d interval=%ld.%09ld\n", cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 0 && cur.it_value.tv_nsec <= 20000000,
	       (long)cur.it_interval.tv_sec, cur.it_interval.tv_nsec);
	pollbits("poll(armed)", t);
	struct pollfd pw = {t, POLLIN, 0};
	CHECK("poll(timerfd, 2s)", poll(&pw, 1, 2000));
	rd("read(expired one-shot)", t);
	rd("read(again)", t);
	timerfd_gettime(t, &cur);
	printf("  gettime after: %ld.%09ld / %ld.%09ld\n", (long)cur.it_value.tv_sec, cur.it_value.tv_nsec, (long)cur.it_interval.tv_sec, cur.it_interval.tv_nsec);

	/* Interval: 3 periods of 20ms, read as one count. */
	its = (struct itimerspec){{0, 20000000}, {0, 20000000}};
	long long t0 = ns(CLOCK_MONOTONIC);
	timerfd_settime(t, 0, &its, NULL);
	usleep(65000);
	uint64_t cnt = 0;
	read(t, &cnt, sizeof cnt);
	long long expected = (ns(CLOCK_MONOTONIC) - t0) / 20000000;
	printf("interval 20ms after >=65ms: count>=1=%d count<=expected=%d\n", cnt >= 1, (long long)cnt <= expected);
	timerfd_gettime(t, &cur);
	printf("  gettime: value<=20ms=%d interval=%ld.%09ld\n", cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec <= 20000000,
	       (long)cur.it_interval.tv_sec, cur.it_interval.tv_nsec);
	its = (struct itimerspec){{0, 0}, {0, 0}};
	CHECK("settime(disarm)", timerfd_settime(t, 0, &its, &old));
	printf("  old: value<=20ms=%d interval=%ld.%09ld\n", old.it_value.tv_sec == 0 && old.it_value.tv_nsec <= 20000000,
	       (long)old.it_interval.tv_sec, old.it_interval.tv_nsec);
	rd("read(disarmed)", t);
	close(t);

	/* Absolute times, other clocks, a blocking read. */
	int clocks[] = {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME};
	const char *names[] = {"REALTIME", "MONOTONIC", "BOOTTIME"};
	for (int i = 0; i < 3; i++) {
		int fd = timerfd_create(clocks[i], 0);
		struct timespec now;
		clock_gettime(clocks[i], &now);
		its = (struct itimerspec){{0, 0}, {now.tv_sec - 1, now.tv_nsec}};
		errno = 0;
		int r = timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL);
		printf("%s: settime(ABSTIME in the past) ret=%d %s\n", names[i], r, errname(errno));
		rd("  blocking read", fd);
		its = (struct itimerspec){{0, 0}, {0, 10000000}};
		timerfd_settime(fd, 0, &its, NULL);
		rd("  blocking read of a 10ms timer", fd);
		close(fd);
	}
	return 0;
}
