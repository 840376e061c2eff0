package signal

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestDefaultActions(t *testing.T) {
	cases := map[unix.Signal]DefaultAction{
		unix.SIGKILL: Terminate, unix.SIGTERM: Terminate, unix.SIGPIPE: Terminate,
		unix.SIGSEGV: Core, unix.SIGABRT: Core, unix.SIGCHLD: Ignore,
		unix.SIGWINCH: Ignore, unix.SIGTSTP: Stop, unix.SIGCONT: Continue,
		unix.Signal(40): Terminate,
	}
	for sig, want := range cases {
		if got := Default(int(sig)); got != want {
			t.Errorf("Default(%v) = %v, want %v", sig, got, want)
		}
	}
}

func TestResetForExec(t *testing.T) {
	var tab Table
	tab[unix.SIGINT-1] = Action{Handler: 0x1234, Flags: SARestart}
	tab[unix.SIGPIPE-1] = Action{Handler: SigIgn, Flags: SARestart}
	tab.ResetForExec()
	if tab[unix.SIGINT-1] != (Action{}) {
		t.Errorf("handled signal not reset: %+v", tab[unix.SIGINT-1])
	}
	if tab[unix.SIGPIPE-1].Handler != SigIgn {
		t.Errorf("ignored signal not kept ignored")
	}
}

func TestSet(t *testing.T) {
	s := Bit(1) | Bit(64)
	if !s.Has(1) || !s.Has(64) || s.Has(2) || s.Has(0) || s.Has(65) {
		t.Fatalf("set membership wrong: %x", uint64(s))
	}
	if !Unblockable.Has(int(unix.SIGKILL)) || !Unblockable.Has(int(unix.SIGSTOP)) {
		t.Fatal("Unblockable lacks SIGKILL/SIGSTOP")
	}
}
