package signal

import (
	"encoding/binary"
	"testing"

	"kvsentry/platform"
)

// testRegs returns registers with distinct values in every GPR.
func testRegs() *platform.Registers {
	r := &platform.Registers{FPState: make([]byte, 832)}
	r.R8, r.R9, r.R10, r.R11, r.R12, r.R13, r.R14, r.R15 = 8, 9, 10, 11, 12, 13, 14, 15
	r.Rdi, r.Rsi, r.Rbp, r.Rbx, r.Rdx, r.Rax, r.Rcx = 101, 102, 103, 104, 105, 106, 107
	r.Rsp, r.Rip, r.Eflags = 0x7ffffff00123, 0x401000, 0x246
	r.Cs, r.Ss = 0x33, 0x2b
	binary.LittleEndian.PutUint64(r.FPState[464:], 0x7) // XCR0 as ptrace reports it
	r.FPState[24] = 0x80                                // MXCSR byte, recognisable
	return r
}

func TestBuildLayoutAndRestore(t *testing.T) {
	r := testRegs()
	orig := *r
	act := Action{Handler: 0x402000, Flags: SASigInfo | SARestorer, Restorer: 0x403000, Mask: Bit(10)}
	info := Info{Signo: 10, Code: SIUser, Pid: 7, UID: 0}
	f, err := Build(FrameInput{Regs: r, Sig: 10, Info: info, Act: act, Mask: Bit(3), Alt: AltStack{Flags: SSDisable}})
	if err != nil {
		t.Fatal(err)
	}
	// (sp+8) is 16-byte aligned, as after a call instruction.
	if (f.Addr+8)%16 != 0 {
		t.Errorf("frame %#x misaligned", f.Addr)
	}
	// The frame lies below the red zone.
	if f.Addr+uint64(len(f.Data)) > orig.Rsp-128 {
		t.Errorf("frame overlaps the red zone: end %#x, rsp %#x", f.Addr+uint64(len(f.Data)), orig.Rsp)
	}
	if f.FPAddr%64 != 0 {
		t.Errorf("fpstate %#x not 64-byte aligned", f.FPAddr)
	}
	le := binary.LittleEndian
	if got := le.Uint64(f.Data[0:]); got != act.Restorer {
		t.Errorf("pretcode = %#x", got)
	}
	mc := f.Data[8+40:]
	if le.Uint64(mc[128:]) != orig.Rip || le.Uint64(mc[120:]) != orig.Rsp || le.Uint64(mc[0:]) != 8 {
		t.Errorf("sigcontext rip/rsp/r8 wrong")
	}
	if le.Uint64(mc[184:]) != f.FPAddr {
		t.Errorf("fpstate pointer %#x, want %#x", le.Uint64(mc[184:]), f.FPAddr)
	}
	if le.Uint64(f.Data[8+296:]) != uint64(Bit(3)) {
		t.Errorf("uc_sigmask wrong")
	}
	si := f.Data[312:]
	if le.Uint32(si[0:]) != 10 || le.Uint32(si[16:]) != 7 {
		t.Errorf("siginfo signo/pid wrong")
	}
	fp := f.Data[f.FPAddr-f.Addr:]
	if le.Uint32(fp[464:]) != fpXStateMagic1 || le.Uint32(fp[832:]) != fpXStateMagic2 {
		t.Errorf("xstate magic numbers missing")
	}
	if CheckFP(fp, 832) != 832 {
		t.Errorf("CheckFP rejects our own frame")
	}

	EnterHandler(r, f, 10, act, make([]byte, 832))
	if r.Rip != act.Handler || r.Rdi != 10 || r.Rsi != f.Addr+312 || r.Rdx != f.Addr+8 || r.Rsp != f.Addr {
		t.Errorf("handler registers wrong: %+v", r.PtraceRegs)
	}

	// The handler's ret pops pretcode; rt_sigreturn then sees rsp = frame+8.
	r.Rsp = f.Addr + 8
	r.Rax = 999
	st := Restore(r, f.Data)
	if r.PtraceRegs.Rip != orig.Rip || r.Rsp != orig.Rsp || r.Rax != orig.Rax || r.R15 != 15 || r.Rbx != 104 {
		t.Errorf("restore lost registers: %+v", r.PtraceRegs)
	}
	if st.Mask != Bit(3) || st.FPAddr != f.FPAddr {
		t.Errorf("restore state %+v", st)
	}
}

func TestBuildAltStack(t *testing.T) {
	r := testRegs()
	alt := AltStack{Sp: 0x10000000, Size: 0x10000}
	act := Action{Handler: 1 << 20, Flags: SAOnStack}
	f, err := Build(FrameInput{Regs: r, Sig: 11, Act: act, Alt: alt})
	if err != nil {
		t.Fatal(err)
	}
	if !alt.On(f.Addr) || f.Addr+uint64(len(f.Data)) > alt.Sp+alt.Size {
		t.Errorf("frame %#x not on the alternate stack", f.Addr)
	}
	// A frame that cannot fit an alternate stack it is already on fails.
	tiny := AltStack{Sp: 0x10000000, Size: 0x200}
	r.Rsp = tiny.Sp + 0x100
	if _, err := Build(FrameInput{Regs: r, Sig: 11, Act: act, Alt: tiny}); err != ErrBadStack {
		t.Errorf("overflowing alternate stack: err = %v", err)
	}
}

func TestInfoLayout(t *testing.T) {
	b := make([]byte, InfoSize)
	(&Info{Signo: 11, Code: 1, Addr: 0xdead}).Marshal(b)
	if binary.LittleEndian.Uint64(b[16:]) != 0xdead {
		t.Error("SIGSEGV si_addr not at offset 16")
	}
	(&Info{Signo: 17, Code: CLDExited, Pid: 42, Status: 3}).Marshal(b)
	if binary.LittleEndian.Uint32(b[16:]) != 42 || binary.LittleEndian.Uint32(b[24:]) != 3 {
		t.Error("SIGCHLD pid/status misplaced")
	}
}
