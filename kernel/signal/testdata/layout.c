/* layout.c: prints sizeof and offsetof of the signal structures as musl's
 * headers define them (ucontext_t, mcontext_t gregs, struct sigcontext,
 * siginfo_t, stack_t, struct signalfd_siginfo), one "name value" per line,
 * for layout_test.go to compare with the sentry's frame constants. */
#define _GNU_SOURCE
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/signalfd.h>
#include <ucontext.h>

#define P(name, v) printf("%s %ld\n", name, (long)(v))
#define OFF(t, f) P(#t "." #f, offsetof(t, f))

int main(void)
{
	P("sizeof.siginfo_t", sizeof(siginfo_t));
	OFF(siginfo_t, si_signo);
	OFF(siginfo_t, si_errno);
	OFF(siginfo_t, si_code);
	OFF(siginfo_t, si_pid);
	OFF(siginfo_t, si_uid);
	OFF(siginfo_t, si_timerid);
	OFF(siginfo_t, si_overrun);
	OFF(siginfo_t, si_value);
	OFF(siginfo_t, si_status);
	OFF(siginfo_t, si_utime);
	OFF(siginfo_t, si_stime);
	OFF(siginfo_t, si_addr);

	P("sizeof.stack_t", sizeof(stack_t));
	OFF(stack_t, ss_sp);
	OFF(stack_t, ss_flags);
	OFF(stack_t, ss_size);

	OFF(ucontext_t, uc_flags);
	OFF(ucontext_t, uc_link);
	OFF(ucontext_t, uc_stack);
	OFF(ucontext_t, uc_mcontext);
	OFF(ucontext_t, uc_sigmask);
	P("sizeof.mcontext_t", sizeof(mcontext_t));
	OFF(mcontext_t, gregs);
	OFF(mcontext_t, fpregs);
	P("sizeof.gregset_t", sizeof(gregset_t));
	P("REG_R8", REG_R8);
	P("REG_R15", REG_R15);
	P("REG_RDI", REG_RDI);
	P("REG_RSI", REG_RSI);
	P("REG_RBP", REG_RBP);
	P("REG_RBX", REG_RBX);
	P("REG_RDX", REG_RDX);
	P("REG_RAX", REG_RAX);
	P("REG_RCX", REG_RCX);
	P("REG_RSP", REG_RSP);
	P("REG_RIP", REG_RIP);
	P("REG_EFL", REG_EFL);
	P("REG_CSGSFS", REG_CSGSFS);
	P("REG_ERR", REG_ERR);
	P("REG_TRAPNO", REG_TRAPNO);
	P("REG_OLDMASK", REG_OLDMASK);
	P("REG_CR2", REG_CR2);

	P("sizeof.sigcontext", sizeof(struct sigcontext));
	OFF(struct sigcontext, r8);
	OFF(struct sigcontext, rsp);
	OFF(struct sigcontext, rip);
	OFF(struct sigcontext, eflags);
	OFF(struct sigcontext, cs);
	OFF(struct sigcontext, gs);
	OFF(struct sigcontext, fs);
	OFF(struct sigcontext, __pad0);
	OFF(struct sigcontext, err);
	OFF(struct sigcontext, trapno);
	OFF(struct sigcontext, oldmask);
	OFF(struct sigcontext, cr2);
	OFF(struct sigcontext, fpstate);
	P("sizeof._fpstate", sizeof(struct _fpstate));

	P("sizeof.signalfd_siginfo", sizeof(struct signalfd_siginfo));
	OFF(struct signalfd_siginfo, ssi_signo);
	OFF(struct signalfd_siginfo, ssi_errno);
	OFF(struct signalfd_siginfo, ssi_code);
	OFF(struct signalfd_siginfo, ssi_pid);
	OFF(struct signalfd_siginfo, ssi_uid);
	OFF(struct signalfd_siginfo, ssi_fd);
	OFF(struct signalfd_siginfo, ssi_tid);
	OFF(struct signalfd_siginfo, ssi_band);
	OFF(struct signalfd_siginfo, ssi_overrun);
	OFF(struct signalfd_siginfo, ssi_trapno);
	OFF(struct signalfd_siginfo, ssi_status);
	OFF(struct signalfd_siginfo, ssi_int);
	OFF(struct signalfd_siginfo, ssi_ptr);
	OFF(struct signalfd_siginfo, ssi_utime);
	OFF(struct signalfd_siginfo, ssi_stime);
	OFF(struct signalfd_siginfo, ssi_addr);
	return 0;
}
