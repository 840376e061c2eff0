// Package signal holds the sentry's signal state: signal sets, the sigaction
// table and each signal's default action (signal(7)). Frame building and
// delivery to guest handlers come with the signals issue.
package signal

import "golang.org/x/sys/unix"

// NumSignals is the number of signals Linux x86-64 has (1..64).
const NumSignals = 64

// Set is a signal mask: bit n-1 stands for signal n, as in Linux's sigset_t.
type Set uint64

// Bit returns the mask bit of signal sig.
func Bit(sig int) Set { return Set(1) << uint(sig-1) }

// Has reports whether sig is in the set.
func (s Set) Has(sig int) bool { return sig >= 1 && sig <= NumSignals && s&Bit(sig) != 0 }

// Unblockable holds SIGKILL and SIGSTOP, which no mask can block.
const Unblockable = Set(1)<<(unix.SIGKILL-1) | Set(1)<<(unix.SIGSTOP-1)

// Handler values of struct sigaction's sa_handler.
const (
	// SigDfl is SIG_DFL.
	SigDfl = 0
	// SigIgn is SIG_IGN.
	SigIgn = 1
)

// Flags of sa_flags (include/uapi/asm-generic/signal-defs.h, x86 signal.h).
const (
	SANoCldStop = 0x1
	SANoCldWait = 0x2
	SASigInfo   = 0x4
	SAOnStack   = 0x08000000
	SARestart   = 0x10000000
	SANoDefer   = 0x40000000
	SAResetHand = 0x80000000
	SARestorer  = 0x04000000
)

// Action is the x86-64 kernel struct sigaction as rt_sigaction passes it:
// handler, flags, restorer, mask (32 bytes).
type Action struct {
	Handler  uint64
	Flags    uint64
	Restorer uint64
	Mask     Set
}

// ActionSize is the size of the guest's struct sigaction.
const ActionSize = 32

// DefaultAction is what a signal does when its handler is SIG_DFL.
type DefaultAction int

const (
	// Terminate ends the process.
	Terminate DefaultAction = iota
	// Core ends the process and reports a core dump in the wait status.
	Core
	// Ignore discards the signal.
	Ignore
	// Stop stops the process.
	Stop
	// Continue resumes a stopped process.
	Continue
)

// Default returns the default action of sig, per signal(7).
func Default(sig int) DefaultAction {
	switch unix.Signal(sig) {
	case unix.SIGQUIT, unix.SIGILL, unix.SIGTRAP, unix.SIGABRT, unix.SIGBUS,
		unix.SIGFPE, unix.SIGSEGV, unix.SIGXCPU, unix.SIGXFSZ, unix.SIGSYS:
		return Core
	case unix.SIGCHLD, unix.SIGURG, unix.SIGWINCH:
		return Ignore
	case unix.SIGSTOP, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU:
		return Stop
	case unix.SIGCONT:
		return Continue
	}
	return Terminate
}

// Table is a process's sigaction table, indexed by signal number - 1.
type Table [NumSignals]Action

// ResetForExec resets handled signals to SIG_DFL as execve(2) does; ignored
// ones stay ignored.
func (t *Table) ResetForExec() {
	for i := range t {
		if t[i].Handler != SigIgn {
			t[i] = Action{}
		} else {
			t[i].Flags, t[i].Restorer, t[i].Mask = 0, 0, 0
		}
	}
}

// Valid reports whether sig is a signal number (1..64).
func Valid(sig int) bool { return sig >= 1 && sig <= NumSignals }
