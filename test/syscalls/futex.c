//go:build ignore

/* futex.c: futex(2) called directly: FUTEX_WAIT value mismatch, relative and
 * absolute timeouts (FUTEX_WAIT, FUTEX_WAIT_BITSET with and without
 * FUTEX_CLOCK_REALTIME), bad arguments, FUTEX_WAKE counts, FUTEX_REQUEUE and
 * FUTEX_CMP_REQUEUE (kernel/futex/requeue.c), a shared futex between two
 * processes, and FUTEX_WAKE_OP. Waiters are counted, without waking them, by
 * requeueing them to a scratch futex and back, so no result depends on a
 * sleep. */
#define _GNU_SOURCE
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include "kvproc.h"

/* futex(2) constants from <linux/futex.h> (musl-gcc has no kernel headers). */
#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define FUTEX_REQUEUE 3
#define FUTEX_CMP_REQUEUE 4
#define FUTEX_WAKE_OP 5
#define FUTEX_WAIT_BITSET 9
#define FUTEX_WAKE_BITSET 10
#define FUTEX_PRIVATE_FLAG 128
#define FUTEX_CLOCK_REALTIME 256
#define FUTEX_WAIT_PRIVATE (FUTEX_WAIT | FUTEX_PRIVATE_FLAG)
#define FUTEX_WAKE_PRIVATE (FUTEX_WAKE | FUTEX_PRIVATE_FLAG)
#define FUTEX_REQUEUE_PRIVATE (FUTEX_REQUEUE | FUTEX_PRIVATE_FLAG)
#define FUTEX_CMP_REQUEUE_PRIVATE (FUTEX_CMP_REQUEUE | FUTEX_PRIVATE_FLAG)
#define FUTEX_WAKE_OP_PRIVATE (FUTEX_WAKE_OP | FUTEX_PRIVATE_FLAG)
#define FUTEX_WAIT_BITSET_PRIVATE (FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG)
#define FUTEX_WAKE_BITSET_PRIVATE (FUTEX_WAKE_BITSET | FUTEX_PRIVATE_FLAG)
#define FUTEX_BITSET_MATCH_ANY 0xffffffff
#define FUTEX_OP_SET 0
#define FUTEX_OP_CMP_EQ 0
#define FUTEX_OP(op, oparg, cmp, cmparg) \
	((((op) & 0xf) << 28) | (((cmp) & 0xf) << 24) | (((oparg) & 0xfff) << 12) | ((cmparg) & 0xfff))

static long futex(void *uaddr, int op, int val, const struct timespec *ts, void *uaddr2, int val3)
{
	return syscall(SYS_futex, uaddr, op, val, ts, uaddr2, val3);
}

/* queued returns how many tasks wait on f (priv FUTEX_PRIVATE_FLAG or 0),
 * without waking any: it requeues them all to f+1 (a word nobody waits on) and
 * back. */
static long queued(int *f, int priv)
{
	long n = futex(f, FUTEX_CMP_REQUEUE | priv, 0, (void *)(long)INT_MAX, f + 1, *f);
	futex(f + 1, FUTEX_REQUEUE | priv, 0, (void *)(long)INT_MAX, f, 0);
	return n;
}

/* wait_queued waits (at most 5 s) until n tasks wait on f; it returns 1 if so. */
static int wait_queued(int *f, int priv, long n)
{
	for (int i = 0; i < 5000; i++) {
		if (queued(f, priv) == n)
			return 1;
		sleep_ms(1);
	}
	return 0;
}

/* Each futex word is followed by its scratch word (see queued). */
static int f1s[2], f2s[2], woken;
#define f1 f1s[0]
#define f2 f2s[0]

struct waiter {
	int *f;
	long ret;
	int err;
	long long ms;
	long timeout_ms; /* 0: none */
};

static void *wait_thread(void *arg)
{
	struct waiter *w = arg;
	struct timespec ts = {w->timeout_ms / 1000, (w->timeout_ms % 1000) * 1000000L};
	long long t0 = mono_ms();
	errno = 0;
	w->ret = futex(w->f, FUTEX_WAIT_PRIVATE, 0, w->timeout_ms ? &ts : NULL, NULL, 0);
	w->err = errno;
	w->ms = mono_ms() - t0;
	__atomic_add_fetch(&woken, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static void timeouts(void)
{
	int f = 0;
	struct timespec rel = {0, 30 * 1000000L};
	long long t0 = mono_ms();
	CHECK2("FUTEX_WAIT relative 30ms", futex(&f, FUTEX_WAIT_PRIVATE, 0, &rel, NULL, 0));
	printf("  waited>=30ms=%d\n", mono_ms() - t0 >= 30);

	struct timespec abs;
	clock_gettime(CLOCK_MONOTONIC, &abs);
	abs.tv_nsec += 30 * 1000000L;
	if (abs.tv_nsec >= 1000000000L) {
		abs.tv_sec++;
		abs.tv_nsec -= 1000000000L;
	}
	t0 = mono_ms();
	CHECK2("FUTEX_WAIT_BITSET absolute monotonic +30ms",
	       futex(&f, FUTEX_WAIT_BITSET_PRIVATE, 0, &abs, NULL, FUTEX_BITSET_MATCH_ANY));
	printf("  waited>=29ms=%d\n", mono_ms() - t0 >= 29);

	clock_gettime(CLOCK_REALTIME, &abs);
	abs.tv_nsec += 30 * 1000000L;
	if (abs.tv_nsec >= 1000000000L) {
		abs.tv_sec++;
		abs.tv_nsec -= 1000000000L;
	}
	t0 = mono_ms();
	CHECK2("FUTEX_WAIT_BITSET|FUTEX_CLOCK_REALTIME absolute +30ms",
	       futex(&f, FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME, 0, &abs, NULL, FUTEX_BITSET_MATCH_ANY));
	printf("  waited>=29ms=%d\n", mono_ms() - t0 >= 29);

	struct timespec past = {1, 0};
	CHECK2("FUTEX_WAIT_BITSET absolute in the past", futex(&f, FUTEX_WAIT_BITSET_PRIVATE, 0, &past, NULL, FUTEX_BITSET_MATCH_ANY));
	struct timespec zero = {0, 0};
	CHECK2("FUTEX_WAIT relative 0", futex(&f, FUTEX_WAIT_PRIVATE, 0, &zero, NULL, 0));
	struct timespec bad = {0, 1000000000L};
	CHECK2("FUTEX_WAIT tv_nsec=1e9", futex(&f, FUTEX_WAIT_PRIVATE, 0, &bad, NULL, 0));
	struct timespec neg = {-1, 0};
	CHECK2("FUTEX_WAIT tv_sec=-1", futex(&f, FUTEX_WAIT_PRIVATE, 0, &neg, NULL, 0));
	CHECK2("FUTEX_WAIT timeout pointer 0x10", futex(&f, FUTEX_WAIT_PRIVATE, 0, (void *)0x10, NULL, 0));

	/* A waiter woken before its timeout returns 0. */
	f1 = 0;
	woken = 0;
	struct waiter w = {.f = &f1, .timeout_ms = 10000};
	pthread_t th;
	pthread_create(&th, NULL, wait_thread, &w);
	printf("timed waiter queued=%d\n", wait_queued(&f1, FUTEX_PRIVATE_FLAG, 1));
	CHECK2("FUTEX_WAKE timed waiter", futex(&f1, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0));
	pthread_join(th, NULL);
	printf("  waiter: ret=%ld %s before its timeout=%d\n", w.ret, w.ret < 0 ? errname2(w.err) : "OK", w.ms < 10000);

	/* A thread whose timeout expires while another thread runs. */
	w = (struct waiter){.f = &f1, .timeout_ms = 40};
	pthread_create(&th, NULL, wait_thread, &w);
	pthread_join(th, NULL);
	printf("thread FUTEX_WAIT 40ms: ret=%ld %s waited>=40ms=%d\n", w.ret, w.ret < 0 ? errname2(w.err) : "OK", w.ms >= 40);
}

static void bad_args(void)
{
	int f = 0;
	CHECK2("FUTEX_WAIT value mismatch", futex(&f, FUTEX_WAIT_PRIVATE, 1, NULL, NULL, 0));
	CHECK2("FUTEX_WAKE without waiters", futex(&f, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0));
	CHECK2("FUTEX_WAKE shared without waiters", futex(&f, FUTEX_WAKE, INT_MAX, NULL, NULL, 0));
	CHECK2("FUTEX_WAIT unaligned", futex((char *)&f + 1, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0));
	CHECK2("FUTEX_WAKE unaligned", futex((char *)&f + 2, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0));
	CHECK2("FUTEX_WAIT address 0x10", futex((void *)0x10, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0));
	CHECK2("FUTEX_WAIT_BITSET bitset 0", futex(&f, FUTEX_WAIT_BITSET_PRIVATE, 0, NULL, NULL, 0));
	CHECK2("FUTEX_WAKE_BITSET bitset 0", futex(&f, FUTEX_WAKE_BITSET_PRIVATE, 1, NULL, NULL, 0));
	CHECK2("unknown op 99", futex(&f, 99, 0, NULL, NULL, 0));
	CHECK2("FUTEX_CLOCK_REALTIME with FUTEX_WAKE", futex(&f, FUTEX_WAKE_PRIVATE | FUTEX_CLOCK_REALTIME, 1, NULL, NULL, 0));
	CHECK2("FUTEX_CMP_REQUEUE value mismatch", futex(&f, FUTEX_CMP_REQUEUE_PRIVATE, 1, (void *)1L, &f1, 5));
	CHECK2("FUTEX_CMP_REQUEUE nr_wake -1", futex(&f, FUTEX_CMP_REQUEUE_PRIVATE, -1, (void *)1L, &f1, 0));
	CHECK2("FUTEX_CMP_REQUEUE nr_requeue -1", futex(&f, FUTEX_CMP_REQUEUE_PRIVATE, 1, (void *)-1L, &f1, 0));
	CHECK2("FUTEX_CMP_REQUEUE uaddr2 0x10", futex(&f, FUTEX_CMP_REQUEUE_PRIVATE, 1, (void *)1L, (void *)0x10, 0));
}

#define NW 4

static void requeue(void)
{
	f1 = 0;
	f2 = 0;
	woken = 0;
	struct waiter w[NW];
	pthread_t th[NW];
	for (int i = 0; i < NW; i++) {
		w[i] = (struct waiter){.f = &f1};
		pthread_create(&th[i], NULL, wait_thread, &w[i]);
	}
	printf("requeue: %d waiters queued on f1=%d\n", NW, wait_queued(&f1, FUTEX_PRIVATE_FLAG, NW));
	/* futex_requeue with uaddr1 == uaddr2 leaves the waiters in place and counts them. */
	CHECK2("FUTEX_CMP_REQUEUE(f1, wake 0, requeue all, f1) onto itself",
	       futex(&f1, FUTEX_CMP_REQUEUE_PRIVATE, 0, (void *)(long)INT_MAX, &f1, 0));
	printf("  queued on f1=%ld\n", queued(&f1, FUTEX_PRIVATE_FLAG));
	CHECK2("FUTEX_CMP_REQUEUE(f1, wake 1, requeue 2, f2) stale value", futex(&f1, FUTEX_CMP_REQUEUE_PRIVATE, 1, (void *)2L, &f2, 1));
	CHECK2("FUTEX_CMP_REQUEUE(f1, wake 1, requeue 2, f2)", futex(&f1, FUTEX_CMP_REQUEUE_PRIVATE, 1, (void *)2L, &f2, 0));
	for (int i = 0; i < 5000 && __atomic_load_n(&woken, __ATOMIC_SEQ_CST) < 1; i++)
		sleep_ms(1);
	printf("  woken=%d queued on f1=%ld queued on f2=%ld\n", __atomic_load_n(&woken, __ATOMIC_SEQ_CST),
	       queued(&f1, FUTEX_PRIVATE_FLAG), queued(&f2, FUTEX_PRIVATE_FLAG));
	CHECK2("FUTEX_REQUEUE(f1, wake 0, requeue all, f2)", futex(&f1, FUTEX_REQUEUE_PRIVATE, 0, (void *)(long)INT_MAX, &f2, 0));
	printf("  queued on f1=%ld queued on f2=%ld\n", queued(&f1, FUTEX_PRIVATE_FLAG), queued(&f2, FUTEX_PRIVATE_FLAG));
	CHECK2("FUTEX_WAKE(f1, all)", futex(&f1, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0));
	CHECK2("FUTEX_WAKE(f2, 1)", futex(&f2, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0));
	CHECK2("FUTEX_WAKE(f2, all)", futex(&f2, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0));
	int all_zero = 1;
	for (int i = 0; i < NW; i++) {
		pthread_join(th[i], NULL);
		all_zero &= w[i].ret == 0;
	}
	printf("  joined: woken=%d every FUTEX_WAIT returned 0=%d\n", woken, all_zero);

	/* FUTEX_WAKE_OP: *f2 = 5 (FUTEX_OP_SET), wake 1 on f1, and 1 on f2 since old f2 == 0. */
	f1 = 0;
	f2 = 0;
	woken = 0;
	for (int i = 0; i < 2; i++) {
		w[i] = (struct waiter){.f = i == 0 ? &f1 : &f2};
		pthread_create(&th[i], NULL, wait_thread, &w[i]);
	}
	int q1 = wait_queued(&f1, FUTEX_PRIVATE_FLAG, 1), q2 = wait_queued(&f2, FUTEX_PRIVATE_FLAG, 1);
	printf("wake_op: waiters queued=%d\n", q1 && q2);
	CHECK2("FUTEX_WAKE_OP(f1, 1, f2, 1, SET 5 if old==0)",
	       futex(&f1, FUTEX_WAKE_OP_PRIVATE, 1, (void *)1L, &f2, FUTEX_OP(FUTEX_OP_SET, 5, FUTEX_OP_CMP_EQ, 0)));
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	printf("  f2=%d woken=%d\n", f2, woken);
}

/* shared: a futex in MAP_SHARED memory, waited on by a child process (without
 * FUTEX_PRIVATE_FLAG) and woken by the parent. */
static void shared(void)
{
	int *f = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	*f = 0;
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		long r = futex(f, FUTEX_WAIT, 0, NULL, NULL, 0);
		_exit(r == 0 && *f == 1 ? 0 : 1);
	}
	printf("shared: child queued=%d\n", wait_queued(f, 0, 1));
	printf("  private wake finds no shared waiter: %ld\n", futex(f, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0));
	*f = 1;
	CHECK2("  FUTEX_WAKE shared", futex(f, FUTEX_WAKE, 1, NULL, NULL, 0));
	printf("  child %s\n", reap(pid));
	munmap(f, 4096);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	bad_args();
	timeouts();
	requeue();
	shared();
	return 0;
}
