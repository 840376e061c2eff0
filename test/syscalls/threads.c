//go:build ignore

/* threads.c: POSIX threads over clone(2) with CLONE_THREAD and futex(2): 8 threads
 * contending on a mutex, a condition-variable ping-pong, thread-local storage,
 * pthread_join results, gettid(2) per thread, /proc/self/task listing every
 * thread (proc(5)), prctl(2) PR_SET_NAME/PR_GET_NAME per thread, and a thread's
 * exit status not ending the process. Output is printed by the main thread
 * after the joins, so its order never depends on scheduling. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include "kvproc.h"

#define NTHREADS 8
#define NINCR 20000
#define NROUNDS 2000

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static long counter;
static __thread int tls = 42;
static __thread char tls_buf[64] = "initial";

struct info {
	int idx;
	pid_t tid;
	int tls_ok;
	void *tls_addr;
	int pid_same;
};

static pid_t main_pid;

static void *contend(void *arg)
{
	struct info *in = arg;
	in->tid = kv_gettid();
	in->pid_same = getpid() == main_pid;
	int fresh = tls == 42 && strcmp(tls_buf, "initial") == 0;
	tls = in->idx;
	snprintf(tls_buf, sizeof tls_buf, "thread %d", in->idx);
	in->tls_addr = &tls;
	for (int i = 0; i < NINCR; i++) {
		pthread_mutex_lock(&mu);
		counter++;
		pthread_mutex_unlock(&mu);
		if (i % 1000 == 0)
			sched_yield();
	}
	char want[64];
	snprintf(want, sizeof want, "thread %d", in->idx);
	in->tls_ok = fresh && tls == in->idx && strcmp(tls_buf, want) == 0;
	return (void *)(intptr_t)(100 + in->idx);
}

/* Condition-variable ping-pong: turn goes 0 -> 1 -> 0 ... NROUNDS times each. */
static pthread_mutex_t pp_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pp_cv = PTHREAD_COND_INITIALIZER;
static int turn, pings, pongs;

static void *pong(void *arg)
{
	(void)arg;
	for (int i = 0; i < NROUNDS; i++) {
		pthread_mutex_lock(&pp_mu);
		while (turn != 1)
			pthread_cond_wait(&pp_cv, &pp_mu);
		pongs++;
		turn = 0;
		pthread_cond_signal(&pp_cv);
		pthread_mutex_unlock(&pp_mu);
	}
	return NULL;
}

/* Threads parked on a barrier while main lists /proc/self/task. */
#define NPARK 4
static pthread_barrier_t park_in, park_out;
static pid_t park_tids[NPARK];
static char park_names[NPARK][16];
static int park_name_ok[NPARK];

static void *parked(void *arg)
{
	int i = (int)(intptr_t)arg;
	park_tids[i] = kv_gettid();
	char name[16];
	snprintf(name, sizeof name, "worker-%d", i);
	prctl(PR_SET_NAME, name, 0, 0, 0);
	prctl(PR_GET_NAME, park_names[i], 0, 0, 0);
	park_name_ok[i] = strcmp(park_names[i], name) == 0;
	pthread_barrier_wait(&park_in);
	pthread_barrier_wait(&park_out);
	return NULL;
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
	return (x > y) - (x < y);
}

/* read_comm reads /proc/self/task/TID/comm without its newline. */
static void read_comm(pid_t tid, char *buf, size_t n)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/self/task/%d/comm", (int)tid);
	FILE *f = fopen(path, "r");
	buf[0] = 0;
	if (!f) {
		snprintf(buf, n, "(open: %s)", errname2(errno));
		return;
	}
	if (fgets(buf, (int)n, f))
		buf[strcspn(buf, "\n")] = 0;
	fclose(f);
}

static void task_listing(void)
{
	pthread_t th[NPARK];
	pthread_barrier_init(&park_in, NULL, NPARK + 1);
	pthread_barrier_init(&park_out, NULL, NPARK + 1);
	for (int i = 0; i < NPARK; i++)
		pthread_create(&th[i], NULL, parked, (void *)(intptr_t)i);
	pthread_barrier_wait(&park_in);

	pid_t want[NPARK + 1], got[64];
	want[0] = getpid();
	for (int i = 0; i < NPARK; i++)
		want[i + 1] = park_tids[i];
	int n = 0;
	DIR *d = opendir("/proc/self/task");
	if (d) {
		struct dirent *e;
		while ((e = readdir(d)) != NULL && n < 64)
			if (e->d_name[0] != '.')
				got[n++] = atoi(e->d_name);
		closedir(d);
	}
	qsort(want, NPARK + 1, sizeof want[0], cmp_pid);
	qsort(got, n, sizeof got[0], cmp_pid);
	int same = n == NPARK + 1 && memcmp(want, got, sizeof want) == 0;
	printf("/proc/self/task: entries=%d lists exactly the %d thread ids=%d\n", n, NPARK + 1, same);

	char main_name[16];
	prctl(PR_GET_NAME, main_name, 0, 0, 0);
	printf("main thread name=%s\n", main_name);
	for (int i = 0; i < NPARK; i++) {
		char comm[64];
		read_comm(park_tids[i], comm, sizeof comm);
		printf("thread %d: PR_GET_NAME=%s matches=%d task comm=%s\n", i, park_names[i], park_name_ok[i], comm);
	}
	char comm[64];
	read_comm(getpid(), comm, sizeof comm);
	printf("main task comm=%s\n", comm);

	pthread_barrier_wait(&park_out);
	for (int i = 0; i < NPARK; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&park_in);
	pthread_barrier_destroy(&park_out);
	printf("after joins: /proc/self/task entries=%d\n", count_tasks());
}

static void *exit_early(void *arg)
{
	(void)arg;
	pthread_exit((void *)(intptr_t)7);
}

static void *detached(void *arg)
{
	int *flag = arg;
	__atomic_store_n(flag, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	main_pid = getpid();
	printf("main: gettid==getpid=%d\n", kv_gettid() == main_pid);

	/* 8 threads contending on one mutex. */
	pthread_t th[NTHREADS];
	struct info in[NTHREADS];
	for (int i = 0; i < NTHREADS; i++) {
		in[i] = (struct info){.idx = i};
		int e = pthread_create(&th[i], NULL, contend, &in[i]);
		if (e) {
			printf("pthread_create %d: %s\n", i, errname2(e));
			return 1;
		}
	}
	int joins_ok = 1;
	for (int i = 0; i < NTHREADS; i++) {
		void *ret;
		int e = pthread_join(th[i], &ret);
		printf("join %d: %s value=%ld\n", i, errname2(e), (long)(intptr_t)ret);
		joins_ok &= e == 0;
	}
	printf("mutex: counter=%ld want=%d\n", counter, NTHREADS * NINCR);
	int tids_distinct = 1, tids_not_pid = 1, pid_same = 1, tls_ok = 1, tls_addr_distinct = 1;
	for (int i = 0; i < NTHREADS; i++) {
		tids_not_pid &= in[i].tid != main_pid && in[i].tid > 0;
		pid_same &= in[i].pid_same;
		tls_ok &= in[i].tls_ok;
		for (int j = 0; j < i; j++) {
			tids_distinct &= in[i].tid != in[j].tid;
			tls_addr_distinct &= in[i].tls_addr != in[j].tls_addr;
		}
	}
	printf("threads: getpid same as main=%d gettid distinct=%d gettid!=pid=%d\n", pid_same, tids_distinct, tids_not_pid);
	printf("tls: each thread saw its own fresh copy=%d distinct addresses=%d main tls=%d main buf=%s\n",
	       tls_ok, tls_addr_distinct, tls, tls_buf);

	/* Condition-variable ping-pong. */
	pthread_t p;
	pthread_create(&p, NULL, pong, NULL);
	for (int i = 0; i < NROUNDS; i++) {
		pthread_mutex_lock(&pp_mu);
		while (turn != 0)
			pthread_cond_wait(&pp_cv, &pp_mu);
		pings++;
		turn = 1;
		pthread_cond_signal(&pp_cv);
		pthread_mutex_unlock(&pp_mu);
	}
	pthread_join(p, NULL);
	printf("condvar ping-pong: pings=%d pongs=%d turn=%d\n", pings, pongs, turn);

	/* pthread_cond_timedwait with nobody signalling times out. */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 20 * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	long long t0 = mono_ms();
	pthread_mutex_lock(&pp_mu);
	int e = pthread_cond_timedwait(&pp_cv, &pp_mu, &ts);
	pthread_mutex_unlock(&pp_mu);
	printf("pthread_cond_timedwait(20ms): %s waited>=15ms=%d\n", errname2(e), mono_ms() - t0 >= 15);

	/* pthread_exit with a value, a detached thread, joining twice. */
	pthread_create(&p, NULL, exit_early, NULL);
	void *ret;
	e = pthread_join(p, &ret);
	printf("pthread_exit value: %s %ld\n", errname2(e), (long)(intptr_t)ret);
	int flag = 0;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	e = pthread_create(&p, &attr, detached, &flag);
	for (int i = 0; i < 5000 && !__atomic_load_n(&flag, __ATOMIC_SEQ_CST); i++)
		sleep_ms(1);
	printf("detached thread: create %s ran=%d\n", errname2(e), flag);
	pthread_attr_destroy(&attr);
	/* Wait for the detached thread to be gone from the task list. */
	for (int i = 0; i < 5000 && count_tasks() != 1; i++)
		sleep_ms(1);

	task_listing();

	/* pthread_mutex errorcheck: relocking and foreign unlock. */
	pthread_mutexattr_t ma;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ERRORCHECK);
	pthread_mutex_t ec;
	pthread_mutex_init(&ec, &ma);
	PTH("errorcheck lock", pthread_mutex_lock(&ec));
	PTH("errorcheck relock", pthread_mutex_lock(&ec));
	PTH("errorcheck trylock", pthread_mutex_trylock(&ec));
	PTH("errorcheck unlock", pthread_mutex_unlock(&ec));
	PTH("errorcheck unlock again", pthread_mutex_unlock(&ec));

	printf("all joins ok=%d\n", joins_ok);
	return 0;
}
