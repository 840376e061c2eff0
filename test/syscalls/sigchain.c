//go:build ignore

/* sigchain.c: a chain of 64 nested signal handlers (SA_SIGINFO|SA_NODEFER,
 * SIGUSR1 and SIGUSR2 alternating), each raising the next with tkill from
 * an assembly probe that keeps all sixteen xmm registers and the callee-saved
 * registers live across the syscall, hence across the nested deliveries,
 * and checks them afterwards. Each level also checks its siginfo and its
 * ucontext (the interrupted registers, FP area and mask). Prints only
 * counts and mismatches. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>
#include <stdio.h>

#define DEPTH 64

/* probe(tid, sig, in, out, gout): loads xmm0..15 from in (32 doubles) and
 * fixed patterns into rbx, rbp, r12..r15, calls tkill(tid, sig), then
 * stores xmm0..15 to out and the six registers to gout. */
long probe(long tid, long sig, const double *in, double *out, uint64_t *gout);
extern char probe_after_syscall[], probe_end[];
__asm__(
	".text\n.globl probe\nprobe:\n"
	"push %rbx\npush %rbp\npush %r12\npush %r13\npush %r14\npush %r15\n"
	"push %rcx\npush %r8\n"
	"movupd 0(%rdx),%xmm0\nmovupd 16(%rdx),%xmm1\nmovupd 32(%rdx),%xmm2\nmovupd 48(%rdx),%xmm3\n"
	"movupd 64(%rdx),%xmm4\nmovupd 80(%rdx),%xmm5\nmovupd 96(%rdx),%xmm6\nmovupd 112(%rdx),%xmm7\n"
	"movupd 128(%rdx),%xmm8\nmovupd 144(%rdx),%xmm9\nmovupd 160(%rdx),%xmm10\nmovupd 176(%rdx),%xmm11\n"
	"movupd 192(%rdx),%xmm12\nmovupd 208(%rdx),%xmm13\nmovupd 224(%rdx),%xmm14\nmovupd 240(%rdx),%xmm15\n"
	"movabs $0x1111111111111111,%rbx\nmovabs $0x2222222222222222,%rbp\n"
	"movabs $0x1212121212121212,%r12\nmovabs $0x1313131313131313,%r13\n"
	"movabs $0x1414141414141414,%r14\nmovabs $0x1515151515151515,%r15\n"
	"mov $200,%eax\nsyscall\n"
	".globl probe_after_syscall\nprobe_after_syscall:\n"
	"mov 8(%rsp),%rcx\n"
	"movupd %xmm0,0(%rcx)\nmovupd %xmm1,16(%rcx)\nmovupd %xmm2,32(%rcx)\nmovupd %xmm3,48(%rcx)\n"
	"movupd %xmm4,64(%rcx)\nmovupd %xmm5,80(%rcx)\nmovupd %xmm6,96(%rcx)\nmovupd %xmm7,112(%rcx)\n"
	"movupd %xmm8,128(%rcx)\nmovupd %xmm9,144(%rcx)\nmovupd %xmm10,160(%rcx)\nmovupd %xmm11,176(%rcx)\n"
	"movupd %xmm12,192(%rcx)\nmovupd %xmm13,208(%rcx)\nmovupd %xmm14,224(%rcx)\nmovupd %xmm15,240(%rcx)\n"
	"mov 0(%rsp),%rcx\n"
	"mov %rbx,0(%rcx)\nmov %rbp,8(%rcx)\nmov %r12,16(%rcx)\nmov %r13,24(%rcx)\nmov %r14,32(%rcx)\nmov %r15,40(%rcx)\n"
	"add $16,%rsp\n"
	"pop %r15\npop %r14\npop %r13\npop %r12\npop %rbp\npop %rbx\nret\n"
	".globl probe_end\nprobe_end:\n");

static const uint64_t gpat[6] = {0x1111111111111111ULL, 0x2222222222222222ULL, 0x1212121212121212ULL,
	0x1313131313131313ULL, 0x1414141414141414ULL, 0x1515151515151515ULL};

static volatile int depth, maxdepth, errors;
static int tid, pid;
static unsigned handler_mxcsr;
static char errlog[4096];
static size_t errlen;

static void fail(const char *what, int level)
{
	errors++;
	if (errlen < sizeof errlog - 64)
		errlen += snprintf(errlog + errlen, sizeof errlog - errlen, "  level %d: %s\n", level, what);
}

/* run_probe raises sig with xmm values derived from seed and checks that
 * they, and the callee-saved registers, survive. */
static void run_probe(int sig, int level)
{
	double in[32], out[32];
	uint64_t g[6];
	for (int i = 0; i < 32; i++)
		in[i] = level * 1000.0 + i + 0.25;
	memset(out, 0, sizeof out);
	long r = probe(tid, sig, in, out, g);
	if (r != 0)
		fail("tkill failed", level);
	if (memcmp(in, out, sizeof in) != 0)
		fail("xmm registers changed across nested delivery", level);
	if (memcmp(g, gpat, sizeof g) != 0)
		fail("callee-saved registers changed", level);
}

static void handler(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	int level = ++depth;
	if (level > maxdepth)
		maxdepth = level;
	if (level == 1)
		__asm__ volatile("stmxcsr %0" : "=m"(handler_mxcsr));
	int want = (level % 2) ? SIGUSR1 : SIGUSR2;
	if (sig != want || si->si_signo != want)
		fail("wrong signal", level);
	if (si->si_code != SI_TKILL || si->si_pid != pid || si->si_uid != 0)
		fail("siginfo code/pid/uid", level);
	greg_t *gr = uc->uc_mcontext.gregs;
	if ((char *)gr[REG_RIP] != probe_after_syscall)
		fail("uc RIP is not after the probe's syscall", level);
	if ((uint64_t)gr[REG_RBX] != gpat[0] || (uint64_t)gr[REG_RBP] != gpat[1] ||
	    (uint64_t)gr[REG_R12] != gpat[2] || (uint64_t)gr[REG_R15] != gpat[5])
		fail("uc callee-saved registers", level);
	if (gr[REG_RAX] != 0)
		fail("uc rax", level);
	if (gr[REG_RDI] != tid)
		fail("uc rdi", level);
	if ((gr[REG_CSGSFS] & 0xffff) != 0x33)
		fail("uc cs", level);
	/* The interrupted level's xmm0 is in the FP area. */
	double x0;
	memcpy(&x0, uc->uc_mcontext.fpregs->_xmm[0].element, sizeof x0);
	if (x0 != (level - 1) * 1000.0 + 0.25)
		fail("uc fpregs xmm0", level);
	if (sigismember(&uc->uc_sigmask, SIGUSR1) || sigismember(&uc->uc_sigmask, SIGUSR2))
		fail("uc_sigmask holds the chain's signals despite SA_NODEFER", level);
	if (!sigismember(&uc->uc_sigmask, SIGWINCH))
		fail("uc_sigmask lacks main's blocked SIGWINCH", level);
	if (uc->uc_stack.ss_size != 0 || uc->uc_stack.ss_sp != 0)
		fail("uc_stack set without sigaltstack", level);
	/* Live FP values across the nested chain (in registers and spilled). */
	volatile double a = level * 1.5, b = level / 3.0;
	long double c = (long double)level * 2.25L;
	if (level < DEPTH)
		run_probe((level % 2) ? SIGUSR2 : SIGUSR1, level);
	if (a != level * 1.5 || b != level / 3.0 || c != (long double)level * 2.25L)
		fail("FP locals changed", level);
	depth--;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	pid = getpid();
	tid = syscall(SYS_gettid);
	struct sigaction sa = {0};
	sa.sa_sigaction = handler;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGWINCH);
	sigprocmask(SIG_BLOCK, &m, NULL);
	/* Round toward zero in main: handlers start from the default MXCSR. */
	unsigned mx = 0x7f80, mxafter;
	__asm__ volatile("ldmxcsr %0" ::"m"(mx));
	run_probe(SIGUSR1, 0);
	__asm__ volatile("stmxcsr %0" : "=m"(mxafter));
	printf("max depth=%d final depth=%d errors=%d\n", maxdepth, depth, errors);
	printf("handler mxcsr=%#x main mxcsr after=%#x\n", handler_mxcsr, mxafter);
	fputs(errlog, stdout);
	return errors != 0;
}
