//go:build ignore

/* sched.c: CPU affinity and placement (sched_getaffinity(2),
 * sched_setaffinity(2), getcpu(2), sched_yield(2); kernel/sched/core.c),
 * process-wide and per thread. The CPU count printed is the machine's, the
 * same natively and in the sandbox on one machine. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include "kvproc.h"

static int cpu_now(void)
{
	unsigned cpu = ~0u, node = ~0u;
	if (syscall(SYS_getcpu, &cpu, &node, NULL) < 0)
		return -1;
	return (int)cpu;
}

struct pinned {
	int set_ok, count, cpu;
};

static void *pin_thread(void *arg)
{
	struct pinned *p = arg;
	cpu_set_t s;
	CPU_ZERO(&s);
	CPU_SET(0, &s);
	p->set_ok = sched_setaffinity(0, sizeof s, &s) == 0;
	sched_yield();
	CPU_ZERO(&s);
	sched_getaffinity(0, sizeof s, &s);
	p->count = CPU_COUNT(&s);
	p->cpu = cpu_now();
	return NULL;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	cpu_set_t all, s;
	CPU_ZERO(&all);
	CHECK2("sched_getaffinity(0)", sched_getaffinity(0, sizeof all, &all));
	int ncpu = CPU_COUNT(&all);
	printf("  cpus=%d cpu0 set=%d\n", ncpu, !!CPU_ISSET(0, &all));
	long raw = syscall(SYS_sched_getaffinity, 0, 128, &s);
	printf("raw sched_getaffinity(len 128) returns a multiple of 8 <= 128=%d\n", raw > 0 && raw % 8 == 0 && raw <= 128);
	CHECK2("raw sched_getaffinity(len 1)", syscall(SYS_sched_getaffinity, 0, 1, &s));
	CHECK2("raw sched_getaffinity(len 12)", syscall(SYS_sched_getaffinity, 0, 12, &s));
	CHECK2("sched_getaffinity(getpid())", sched_getaffinity(getpid(), sizeof s, &s));
	CHECK2("sched_getaffinity(no such pid)", sched_getaffinity(0x3fffffff, sizeof s, &s));
	CHECK2("sched_getaffinity(0, mask 0x10)", syscall(SYS_sched_getaffinity, 0, 128, (void *)0x10));

	int cpu = cpu_now();
	printf("getcpu: cpu in the affinity mask=%d\n", cpu >= 0 && CPU_ISSET(cpu, &all));
	CHECK2("getcpu(NULL, NULL)", syscall(SYS_getcpu, NULL, NULL, NULL));
	CHECK2("sched_yield", sched_yield());

	/* Pin to CPU 0: the mask reads back and getcpu follows. */
	CPU_ZERO(&s);
	CPU_SET(0, &s);
	CHECK2("sched_setaffinity({0})", sched_setaffinity(0, sizeof s, &s));
	sched_yield();
	CPU_ZERO(&s);
	sched_getaffinity(0, sizeof s, &s);
	printf("  mask now: count=%d cpu0=%d getcpu=%d\n", CPU_COUNT(&s), !!CPU_ISSET(0, &s), cpu_now());
	CPU_ZERO(&s);
	CHECK2("sched_setaffinity(empty)", sched_setaffinity(0, sizeof s, &s));
	CPU_ZERO(&s);
	CPU_SET(1000, &s);
	CHECK2("sched_setaffinity({1000})", sched_setaffinity(0, sizeof s, &s));
	CHECK2("sched_setaffinity(no such pid)", sched_setaffinity(0x3fffffff, sizeof all, &all));
	CHECK2("sched_setaffinity(all)", sched_setaffinity(0, sizeof all, &all));
	sched_getaffinity(0, sizeof s, &s);
	printf("  mask restored=%d\n", CPU_EQUAL(&s, &all));

	/* Affinity is per thread: a thread pinning itself leaves the main thread's
	 * mask alone, and a child inherits its parent thread's mask. */
	struct pinned p = {0};
	pthread_t th;
	pthread_create(&th, NULL, pin_thread, &p);
	pthread_join(th, NULL);
	sched_getaffinity(0, sizeof s, &s);
	printf("thread pinned to cpu0: set ok=%d its count=%d its getcpu=%d; main's count unchanged=%d\n", p.set_ok, p.count,
	       p.cpu, CPU_COUNT(&s) == ncpu);
	CPU_ZERO(&s);
	CPU_SET(0, &s);
	sched_setaffinity(0, sizeof s, &s);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		cpu_set_t c;
		sched_getaffinity(0, sizeof c, &c);
		printf("child of a pinned parent: count=%d cpu0=%d\n", CPU_COUNT(&c), !!CPU_ISSET(0, &c));
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	sched_setaffinity(0, sizeof all, &all);

	/* sched_yield in a loop always succeeds. */
	int ok = 1;
	for (int i = 0; i < 1000; i++)
		ok &= sched_yield() == 0;
	printf("sched_yield x1000 all 0=%d\n", ok);
	return 0;
}
