//go:build ignore

/* robust.c: robust futexes (set_robust_list(2), get_robust_list(2),
 * kernel/futex/core.c exit_robust_list): when the owner of a robust mutex dies
 * holding it, the kernel marks the lock word FUTEX_OWNER_DIED and the next
 * locker gets EOWNERDEAD (pthread_mutexattr_setrobust(3)). The owner dies as a
 * thread calling SYS_exit directly (so musl's own pthread_exit cleanup cannot
 * hide a missing kernel walk), as a process calling _exit, and as a process
 * killed by SIGKILL, once with a waiter already blocked in the lock. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include "kvproc.h"

struct robust_list_head_abi {
	void *list;
	long futex_offset;
	void *list_op_pending;
};

/* new_robust returns a robust, process-shared mutex in shared memory: musl puts
 * only process-shared robust mutexes on the list it registers with the kernel
 * (private ones it cleans up itself in pthread_exit). */
static pthread_mutex_t *new_robust(void)
{
	pthread_mutex_t *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutex_init(m, &a);
	pthread_mutexattr_destroy(&a);
	return m;
}

static int holding;

static void *die_holding(void *arg)
{
	pthread_mutex_lock(arg);
	__atomic_store_n(&holding, 1, __ATOMIC_SEQ_CST);
	syscall(SYS_exit, 0); /* the thread dies; the kernel walks its robust list */
	return NULL;
}

/* lock5 is pthread_mutex_timedlock with a 5 s deadline, so that a kernel that
 * never marks the owner dead shows as ETIMEDOUT rather than a hang. */
static int lock5(pthread_mutex_t *m)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 5;
	return pthread_mutex_timedlock(m, &ts);
}

/* lock_after_death locks m, expecting the previous owner dead, and shows how the
 * mutex recovers: consistent, unlock, lock again. */
static void lock_after_death(const char *who, pthread_mutex_t *m)
{
	int e = lock5(m);
	printf("%s: lock: %s\n", who, errname2(e));
	if (e == EOWNERDEAD) {
		PTH("  consistent", pthread_mutex_consistent(m));
		PTH("  unlock", pthread_mutex_unlock(m));
		PTH("  lock again", pthread_mutex_lock(m));
		PTH("  unlock", pthread_mutex_unlock(m));
	}
}

/* wait_one_task waits (at most 5 s) until the process has one thread left. */
static void wait_one_task(void)
{
	int n = -1;
	for (int i = 0; i < 5000 && (n = count_tasks()) != 1; i++)
		sleep_ms(1);
	printf("  threads left=%d\n", n);
}

/* start_holder starts a thread that locks m and dies, and waits (at most 5 s)
 * until it holds the lock. */
static void start_holder(pthread_mutex_t *m)
{
	pthread_t th;
	holding = 0;
	int e = pthread_create(&th, NULL, die_holding, m);
	for (int i = 0; e == 0 && i < 5000 && !__atomic_load_n(&holding, __ATOMIC_SEQ_CST); i++)
		sleep_ms(1);
	printf("thread: create %s holds the lock=%d\n", errname2(e), holding);
}

static void thread_owner(void)
{
	pthread_mutex_t *m = new_robust();
	/* The threads exit without musl's pthread_exit, so they cannot be joined:
	 * the kernel marking the lock is what the main thread waits for. */
	start_holder(m);
	lock_after_death("thread died holding a robust mutex", m);
	wait_one_task();

	/* Not made consistent: unlocking leaves it unrecoverable. */
	start_holder(m);
	PTH("thread died again: lock", lock5(m));
	wait_one_task();
	PTH("  unlock without consistent", pthread_mutex_unlock(m));
	PTH("  lock", pthread_mutex_lock(m));
	PTH("  trylock", pthread_mutex_trylock(m));
	munmap(m, 4096);
}

static void process_owner(int by_kill, int waiter_blocked)
{
	pthread_mutex_t *m = new_robust();
	int ready[2], go[2];
	pipe(ready);
	pipe(go);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		close(ready[0]);
		close(go[1]);
		pthread_mutex_lock(m);
		write(ready[1], "x", 1);
		char c;
		read(go[0], &c, 1); /* wait until told to die (or for SIGKILL) */
		_exit(3);
	}
	close(ready[1]);
	close(go[0]);
	char c;
	read(ready[0], &c, 1);
	PTH("  trylock while the child holds it", pthread_mutex_trylock(m));
	if (waiter_blocked) {
		/* The child dies a little after this process blocks in the lock; had it
		 * died first, the result would be the same. */
		pid_t killer = fork();
		if (killer == 0) {
			sleep_ms(100);
			kill(pid, SIGKILL);
			_exit(0);
		}
		lock_after_death("  blocked waiter", m);
		printf("  killer %s\n", reap(killer));
	} else {
		if (by_kill)
			kill(pid, SIGKILL);
		else
			write(go[1], "x", 1);
	}
	printf("  owner %s\n", reap(pid));
	if (!waiter_blocked)
		lock_after_death("  next locker", m);
	close(ready[0]);
	close(go[1]);
	munmap(m, 4096);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);

	/* musl registers its robust list with the first process-shared robust lock. */
	pthread_mutex_t *m = new_robust();
	pthread_mutex_lock(m);
	struct robust_list_head_abi *head = NULL;
	size_t len = 0;
	CHECK2("get_robust_list(0)", syscall(SYS_get_robust_list, 0, &head, &len));
	printf("  head set=%d len=%zu\n", head != NULL, len);
	CHECK2("get_robust_list(own pid)", syscall(SYS_get_robust_list, getpid(), &head, &len));
	CHECK2("get_robust_list(no such pid)", syscall(SYS_get_robust_list, 0x3fffffff, &head, &len));
	CHECK2("get_robust_list(0, 0x10, ...)", syscall(SYS_get_robust_list, 0, (void *)0x10, &len));
	CHECK2("set_robust_list(head, 23)", syscall(SYS_set_robust_list, head, 23));
	pthread_mutex_unlock(m);
	munmap(m, 4096);

	thread_owner();
	printf("process died holding a shared robust mutex (_exit):\n");
	process_owner(0, 0);
	printf("process killed by SIGKILL holding a shared robust mutex:\n");
	process_owner(1, 0);
	printf("process killed while another process waits in the lock:\n");
	process_owner(1, 1);
	return 0;
}
