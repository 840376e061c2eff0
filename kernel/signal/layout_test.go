package signal

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// muslLayout compiles testdata/layout.c with musl-gcc and returns the sizes
// and offsets it prints, skipping the test when musl-gcc is missing.
func muslLayout(t *testing.T) map[string]int {
	t.Helper()
	musl, err := exec.LookPath("musl-gcc")
	if err != nil {
		t.Skip("musl-gcc not found on PATH (apt install musl-tools)")
	}
	bin := filepath.Join(t.TempDir(), "layout")
	if out, err := exec.Command(musl, "-static", "-O2", "-o", bin, "testdata/layout.c").CombinedOutput(); err != nil {
		t.Fatalf("musl-gcc: %v\n%s", err, out)
	}
	out, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatalf("layout: %v", err)
	}
	m := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		i := strings.LastIndexByte(sc.Text(), ' ')
		v, err := strconv.Atoi(sc.Text()[i+1:])
		if i < 0 || err != nil {
			t.Fatalf("bad line %q", sc.Text())
		}
		m[sc.Text()[:i]] = v
	}
	return m
}

// TestLayoutAgainstMusl compares every size and offset the frame builder and
// the siginfo marshallers use with musl's definitions of the structures.
func TestLayoutAgainstMusl(t *testing.T) {
	m := muslLayout(t)
	want := map[string]int{
		"sizeof.siginfo_t":                    InfoSize,
		"siginfo_t.si_signo":                  siSignoOff,
		"siginfo_t.si_errno":                  siErrnoOff,
		"siginfo_t.si_code":                   siCodeOff,
		"siginfo_t.si_pid":                    siPidOff,
		"siginfo_t.si_uid":                    siUIDOff,
		"siginfo_t.si_timerid":                siTimerIDOff,
		"siginfo_t.si_overrun":                siOverrunOff,
		"siginfo_t.si_value":                  siValueOff,
		"siginfo_t.si_status":                 siStatusOff,
		"siginfo_t.si_utime":                  siUtimeOff,
		"siginfo_t.si_stime":                  siStimeOff,
		"siginfo_t.si_addr":                   siAddrOff,
		"sizeof.stack_t":                      24,
		"stack_t.ss_sp":                       0,
		"stack_t.ss_flags":                    8,
		"stack_t.ss_size":                     16,
		"ucontext_t.uc_flags":                 ucFlagsOff,
		"ucontext_t.uc_link":                  ucLinkOff,
		"ucontext_t.uc_stack":                 ucStackOff,
		"ucontext_t.uc_mcontext":              ucMcontextOff,
		"ucontext_t.uc_sigmask":               ucSigmaskOff,
		"sizeof.mcontext_t":                   sigcontextSize,
		"mcontext_t.gregs":                    0,
		"mcontext_t.fpregs":                   scFPState,
		"sizeof.gregset_t":                    scFPState,
		"REG_RSP":                             15,
		"REG_RIP":                             scRIP / 8,
		"REG_EFL":                             scEflags / 8,
		"REG_CSGSFS":                          scCS / 8,
		"REG_ERR":                             scErr / 8,
		"REG_TRAPNO":                          scTrapno / 8,
		"REG_OLDMASK":                         scOldmask / 8,
		"REG_CR2":                             scCR2 / 8,
		"sizeof.sigcontext":                   sigcontextSize,
		"struct sigcontext.r8":                0,
		"struct sigcontext.rsp":               15 * 8,
		"struct sigcontext.rip":               scRIP,
		"struct sigcontext.eflags":            scEflags,
		"struct sigcontext.cs":                scCS,
		"struct sigcontext.gs":                scGS,
		"struct sigcontext.fs":                scFS,
		"struct sigcontext.__pad0":            scSS,
		"struct sigcontext.err":               scErr,
		"struct sigcontext.trapno":            scTrapno,
		"struct sigcontext.oldmask":           scOldmask,
		"struct sigcontext.cr2":               scCR2,
		"struct sigcontext.fpstate":           scFPState,
		"sizeof._fpstate":                     swReservedOff + 48,
		"sizeof.signalfd_siginfo":             SignalfdInfoSize,
		"struct signalfd_siginfo.ssi_signo":   SsiSignoOff,
		"struct signalfd_siginfo.ssi_errno":   SsiErrnoOff,
		"struct signalfd_siginfo.ssi_code":    SsiCodeOff,
		"struct signalfd_siginfo.ssi_pid":     SsiPidOff,
		"struct signalfd_siginfo.ssi_uid":     SsiUIDOff,
		"struct signalfd_siginfo.ssi_fd":      SsiFdOff,
		"struct signalfd_siginfo.ssi_tid":     SsiTidOff,
		"struct signalfd_siginfo.ssi_band":    SsiBandOff,
		"struct signalfd_siginfo.ssi_overrun": SsiOverrunOff,
		"struct signalfd_siginfo.ssi_trapno":  SsiTrapnoOff,
		"struct signalfd_siginfo.ssi_status":  SsiStatusOff,
		"struct signalfd_siginfo.ssi_int":     SsiIntOff,
		"struct signalfd_siginfo.ssi_ptr":     SsiPtrOff,
		"struct signalfd_siginfo.ssi_utime":   SsiUtimeOff,
		"struct signalfd_siginfo.ssi_stime":   SsiStimeOff,
		"struct signalfd_siginfo.ssi_addr":    SsiAddrOff,
	}
	for name, w := range want {
		got, ok := m[name]
		if !ok {
			t.Errorf("%s: not printed by layout.c", name)
			continue
		}
		if got != w {
			t.Errorf("%s: musl %d, kvsentry %d", name, got, w)
		}
	}
	// The kernel's ucontext ends with an 8-byte sigset_t (musl's is larger,
	// for user space): the rt_sigframe's siginfo follows it.
	if frameInfo != frameUContext+m["ucontext_t.uc_sigmask"]+8 {
		t.Errorf("rt_sigframe info at %d, want %d", frameInfo, frameUContext+m["ucontext_t.uc_sigmask"]+8)
	}
}

// TestFrameGregsAtMuslIndices builds a frame and reads every register back
// at musl's REG_* index of uc_mcontext.gregs, as a handler would.
func TestFrameGregsAtMuslIndices(t *testing.T) {
	m := muslLayout(t)
	r := testRegs()
	f, err := Build(FrameInput{Regs: r, Sig: 11, Act: Action{Flags: SASigInfo}, Mask: Bit(5),
		Alt: AltStack{Flags: SSDisable}, Fault: Fault{Trapno: 14, Err: 6, Cr2: 0xdead000}})
	if err != nil {
		t.Fatal(err)
	}
	gregs := f.Data[frameUContext+m["ucontext_t.uc_mcontext"]+m["mcontext_t.gregs"]:]
	le := binary.LittleEndian
	for name, v := range map[string]uint64{
		"REG_R8": r.R8, "REG_R15": r.R15, "REG_RDI": r.Rdi, "REG_RSI": r.Rsi, "REG_RBP": r.Rbp,
		"REG_RBX": r.Rbx, "REG_RDX": r.Rdx, "REG_RAX": r.Rax, "REG_RCX": r.Rcx, "REG_RSP": r.Rsp,
		"REG_RIP": r.Rip, "REG_EFL": r.Eflags, "REG_ERR": 6, "REG_TRAPNO": 14,
		"REG_OLDMASK": uint64(Bit(5)), "REG_CR2": 0xdead000,
	} {
		if got := le.Uint64(gregs[8*m[name]:]); got != v {
			t.Errorf("gregs[%s] = %#x, want %#x", name, got, v)
		}
	}
	if cs := le.Uint16(gregs[8*m["REG_CSGSFS"]:]); cs != 0x33 {
		t.Errorf("cs = %#x", cs)
	}
	fpregs := le.Uint64(gregs[m["mcontext_t.fpregs"]:])
	if fpregs != f.FPAddr {
		t.Errorf("fpregs = %#x, want %#x", fpregs, f.FPAddr)
	}
	sigmask := le.Uint64(f.Data[frameUContext+m["ucontext_t.uc_sigmask"]:])
	if sigmask != uint64(Bit(5)) {
		t.Errorf("uc_sigmask = %#x", sigmask)
	}
}
