package syscalls

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"kvsentry/test/internal/harness"
)

// TestSignalChain compares sigchain.c: 64 nested SA_NODEFER handlers that
// keep FP and callee-saved registers live across each nested delivery and
// check their siginfo and ucontext.
func TestSignalChain(t *testing.T) {
	harness.RequireRoot(t)
	prog := harness.BuildAndInstallC(t, "sigchain.c", "sigchain", true)
	differential(t, []string{prog}, 0,
		"max depth=64 final depth=0 errors=0\n", "handler mxcsr=0x1f80 main mxcsr after=0x7f80\n")
}

// TestSignalTimerChildren compares sigtimer.c: a 200 us interval timer
// firing while a slow SIGCHLD handler reaps 200 children.
func TestSignalTimerChildren(t *testing.T) {
	harness.RequireRoot(t)
	prog := harness.BuildAndInstallC(t, "sigtimer.c", "sigtimer", true)
	differential(t, []string{prog}, 0,
		"children=200 fork failures=0 reaped=200 statussum ok=1\n",
		"checksum ok=1 bad=0 handler errors=0 alarms>0=1\n", "read across timer signals: n=1 c=z\n")
}

// TestSignalFaults compares sigfault.c: SIGSEGV (MAPERR, ACCERR), SIGBUS,
// SIGFPE, SIGILL and SIGTRAP handlers that resume by editing RIP, and
// faults that cannot be handled.
func TestSignalFaults(t *testing.T) {
	harness.RequireRoot(t)
	prog := harness.BuildAndInstallC(t, "sigfault.c", "sigfault", true)
	differential(t, []string{prog}, 0,
		"load unmapped: ret=2 sig=11 code=1 addr_ok=1 rip_ok=1 trapno=14 err&5=4 cr2_ok=1\n",
		"store read-only: ret=2 sig=11 code=2 addr_ok=1 rip_ok=1 trapno=14 err&5=5 cr2_ok=1\n",
		"load past EOF: ret=2 sig=7 code=2 addr_ok=1", "divide by zero: ret=2 sig=8 code=1 addr_ok=1 rip_ok=1",
		"ud2: ret=2 sig=4 code=2 addr_ok=1 rip_ok=1", "int3: ret=1 sig=5 code=128",
		"fault with SIGSEGV blocked: killed by signal 11\n", "fault on an unmapped stack: killed by signal 11\n",
		"fault overflowing the alternate stack: killed by signal 11\n")
}

// TestSignalfd compares signalfd.c: signalfd4 records, readiness, mask
// updates and errors, rt_tgsigqueueinfo, and rt_sigtimedwait woken by
// another process.
func TestSignalfd(t *testing.T) {
	harness.RequireRoot(t)
	prog := harness.BuildAndInstallC(t, "signalfd.c", "signalfd", true)
	differential(t, []string{prog}, 0,
		"read(SIGUSR1 raised): ret=128 OK\n  signo=10 code=-6 pid_ok=1",
		"  signo=35 code=-1 pid_ok=1 uid=0 int=103 ptr=0x67", "epoll_wait(SIGUSR2 raised): n=1 events=0x1 data=7\n",
		"blocking read(child sends SIGUSR1): ret=128 OK\n", "sigtimedwait(child sends SIGUSR2): sig=12 code=0 pid_ok=1\n",
		"rt_tgsigqueueinfo(child, SI_USER): ret=-1 EPERM\n")
}

// TestGoProgram builds testdata/goprog with CGO_ENABLED=0 and compares it:
// goroutines, timers, the garbage collector, asynchronous preemption
// (SIGURG) and os/signal.
func TestGoProgram(t *testing.T) {
	harness.RequireRoot(t)
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go not found on PATH")
	}
	wd, err := harness.WorkDir()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(wd, "bin", "goprog")
	cmd := exec.Command(goBin, "build", "-o", out, "./testdata/goprog")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build goprog: %v\n%s", err, msg)
	}
	prog := harness.Install(t, out, "goprog")
	differential(t, []string{prog}, 0,
		"goroutines: 100 0 4950\n", "preemption: ticker fired 5 while two goroutines spun\n",
		"timer: afterfunc\n", "signal: user defined signal 1\ndone\n")
}
