//go:build ignore

/* sigfault.c: hardware faults as signals. A SA_SIGINFO handler reads
 * si_signo, si_code and si_addr and the sigcontext's trapno, err and cr2,
 * then resumes by editing uc_mcontext's RIP: an unmapped load (SEGV_MAPERR),
 * a write to a read-only page (SEGV_ACCERR), an access past the end of a
 * mapped file (SIGBUS BUS_ADRERR), integer division by zero (SIGFPE
 * FPE_INTDIV), ud2 (SIGILL ILL_ILLOPN) and int3 (SIGTRAP). Also: a fault
 * with the signal blocked or on an unusable stack kills with SIGSEGV. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

/* Each probe returns 1 when it ran to its end, 2 when the handler resumed
 * it at its *_resume label; *_insn labels the faulting instruction. */
long do_load(void *p);
long do_store(void *p);
long do_div(long d);
long do_ud2(void);
long do_int3(void);
extern char do_load_insn[], do_load_resume[], do_store_insn[], do_store_resume[];
extern char do_div_insn[], do_div_resume[], do_ud2_insn[], do_ud2_resume[], do_int3_after[];
__asm__(".text\n"
	".globl do_load\ndo_load:\nmov $1,%eax\n.globl do_load_insn\ndo_load_insn:\nmov (%rdi),%rcx\nret\n"
	".globl do_load_resume\ndo_load_resume:\nmov $2,%eax\nret\n"
	".globl do_store\ndo_store:\nmov $1,%eax\n.globl do_store_insn\ndo_store_insn:\nmovq $7,(%rdi)\nret\n"
	".globl do_store_resume\ndo_store_resume:\nmov $2,%eax\nret\n"
	".globl do_div\ndo_div:\nmov $100,%eax\nxor %edx,%edx\n.globl do_div_insn\ndo_div_insn:\ndiv %rdi\nmov $1,%eax\nret\n"
	".globl do_div_resume\ndo_div_resume:\nmov $2,%eax\nret\n"
	".globl do_ud2\ndo_ud2:\nmov $1,%eax\n.globl do_ud2_insn\ndo_ud2_insn:\nud2\nret\n"
	".globl do_ud2_resume\ndo_ud2_resume:\nmov $2,%eax\nret\n"
	".globl do_int3\ndo_int3:\nmov $1,%eax\nint3\n.globl do_int3_after\ndo_int3_after:\nret\n");

static volatile int got_sig, got_code;
static void *volatile got_addr;
static volatile long got_trapno, got_err, got_cr2, got_rip;
static char *volatile resume;

static void handler(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	got_sig = sig;
	got_code = si->si_code;
	got_addr = si->si_addr;
	got_trapno = uc->uc_mcontext.gregs[REG_TRAPNO];
	got_err = uc->uc_mcontext.gregs[REG_ERR];
	got_cr2 = uc->uc_mcontext.gregs[REG_CR2];
	got_rip = uc->uc_mcontext.gregs[REG_RIP];
	if (resume)
		uc->uc_mcontext.gregs[REG_RIP] = (greg_t)resume;
}

static void reset(char *res)
{
	got_sig = got_code = 0;
	got_addr = 0;
	got_trapno = got_err = got_cr2 = got_rip = -1;
	resume = res;
}

static void report(const char *what, long ret, void *addr, char *insn)
{
	printf("%s: ret=%ld sig=%d code=%d addr_ok=%d rip_ok=%d trapno=%ld",
	       what, ret, got_sig, got_code, got_addr == addr, (char *)got_rip == insn, got_trapno);
	/* The error code's write bit is not compared yet (see the signals
	 * report): only the user and present bits. */
	if (got_sig == SIGSEGV)
		printf(" err&5=%ld cr2_ok=%d", got_err & 5, got_cr2 == (long)addr);
	printf("\n");
}

/* child runs fn in a child and reports how it ended. */
static void child(const char *what, void (*fn)(void))
{
	pid_t p = fork();
	if (p == 0) {
		fn();
		_exit(0);
	}
	int st;
	waitpid(p, &st, 0);
	if (WIFSIGNALED(st))
		printf("%s: killed by signal %d\n", what, WTERMSIG(st));
	else
		printf("%s: exited %d\n", what, WEXITSTATUS(st));
}

static char *unmapped;

static void blocked_fault(void)
{
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGSEGV);
	sigprocmask(SIG_BLOCK, &m, NULL);
	do_load(unmapped);
}

static void bad_stack_fault(void)
{
	/* The handler's frame would go on an unmapped stack. */
	__asm__ volatile("mov %0,%%rsp\nmov (%%rsp),%%rax" ::"r"(unmapped + 4096) : "rax", "memory");
}

/* A handler that faults again while running on the alternate stack: each
 * nested delivery (SA_NODEFER) puts a frame below the last one, until the
 * next one would not fit, whatever the CPU's FP frame size. */
static void refault(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)si, (void)uc;
	__asm__ volatile("mov (%0),%%rax" ::"r"(unmapped) : "rax", "memory");
}

static void sigaltstack_overflow(void)
{
	static char small[16384] __attribute__((aligned(16)));
	stack_t ss = {.ss_sp = small, .ss_size = sizeof small, .ss_flags = 0};
	sigaltstack(&ss, NULL);
	struct sigaction sa = {0};
	sa.sa_sigaction = refault;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
	sigaction(SIGSEGV, &sa, NULL);
	__asm__ volatile("mov (%0),%%rax" ::"r"(unmapped) : "rax", "memory");
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct sigaction sa = {0};
	sa.sa_sigaction = handler;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGFPE, &sa, NULL);
	sigaction(SIGILL, &sa, NULL);
	sigaction(SIGTRAP, &sa, NULL);

	/* Below mmap_min_addr: never mapped. */
	unmapped = (char *)0x1000;
	reset(do_load_resume);
	long r = do_load(unmapped + 24);
	report("load unmapped", r, unmapped + 24, do_load_insn);

	char *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	volatile char c = ro[0]; /* present, read-only */
	(void)c;
	reset(do_store_resume);
	r = do_store(ro + 8);
	report("store read-only", r, ro + 8, do_store_insn);
	reset(do_store_resume);
	r = do_store((char *)do_load);
	report("store to text", r, (char *)do_load, do_store_insn);

	int fd = open("/tmp/kvsigfault", O_RDWR | O_CREAT | O_TRUNC, 0600);
	write(fd, "x", 1);
	char *fm = mmap(NULL, 8192, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	unlink("/tmp/kvsigfault");
	reset(do_load_resume);
	r = do_load(fm + 16);
	printf("file page 0 load: ret=%ld sig=%d\n", r, got_sig);
	reset(do_load_resume);
	r = do_load(fm + 4096 + 40);
	report("load past EOF", r, fm + 4096 + 40, do_load_insn);

	reset(do_div_resume);
	r = do_div(0);
	report("divide by zero", r, do_div_insn, do_div_insn);
	reset(do_div_resume);
	r = do_div(7);
	printf("divide by 7: ret=%ld sig=%d\n", r, got_sig);

	reset(do_ud2_resume);
	r = do_ud2();
	report("ud2", r, do_ud2_insn, do_ud2_insn);

	reset(NULL);
	r = do_int3();
	report("int3", r, NULL, do_int3_after);

	/* Faults that cannot be handled. */
	sa.sa_handler = SIG_DFL;
	sa.sa_flags = 0;
	child("fault with SIGSEGV blocked", blocked_fault);
	sigaction(SIGSEGV, &sa, NULL);
	sa.sa_sigaction = handler;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSEGV, &sa, NULL);
	child("fault on an unmapped stack", bad_stack_fault);
	child("fault overflowing the alternate stack", sigaltstack_overflow);
	return 0;
}
