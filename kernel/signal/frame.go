package signal

import (
	"encoding/binary"
	"errors"

	"kvsentry/platform"
)

// Linux x86-64 rt_sigframe layout (arch/x86/include/asm/sigframe.h,
// uapi/asm/sigcontext.h, uapi/asm-generic/ucontext.h):
//
//	0    pretcode (sa_restorer)
//	8    struct ucontext: uc_flags, uc_link, uc_stack (24), sigcontext (256), uc_sigmask
//	312  struct siginfo (128)
//	440  end; the xsave area is placed below the frame's top, 64-byte aligned.
const (
	frameUContext  = 8
	ucFlagsOff     = 0
	ucLinkOff      = 8
	ucStackOff     = 16
	ucMcontextOff  = 40
	ucSigmaskOff   = 296
	frameInfo      = frameUContext + 304
	FrameSize      = frameInfo + InfoSize
	sigcontextSize = 256
	redZone        = 128
)

// struct sigcontext field offsets (arch/x86/include/uapi/asm/sigcontext.h):
// the general registers r8..r15, rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp as
// gregs 0..15 (musl's REG_R8..REG_RSP), then these.
const (
	scRIP     = 128
	scEflags  = 136
	scCS      = 144
	scGS      = 146
	scFS      = 148
	scSS      = 150 // __pad0 in the uapi header: ss with UC_SIGCONTEXT_SS
	scErr     = 152
	scTrapno  = 160
	scOldmask = 168
	scCR2     = 176
	scFPState = 184
)

// Layout accessors for tests elsewhere: where, from the frame's start
// (the pretcode slot), the ucontext, its mcontext and the siginfo lie.
const (
	// FrameUContextOff is offsetof(struct rt_sigframe, uc).
	FrameUContextOff = frameUContext
	// FrameInfoOff is offsetof(struct rt_sigframe, info).
	FrameInfoOff = frameInfo
	// UCMcontextOff is offsetof(struct ucontext, uc_mcontext).
	UCMcontextOff = ucMcontextOff
	// UCSigmaskOff is offsetof(struct ucontext, uc_sigmask).
	UCSigmaskOff = ucSigmaskOff
	// SigcontextRIPOff is offsetof(struct sigcontext, rip).
	SigcontextRIPOff = scRIP
)

// uc_flags bits (arch/x86/include/uapi/asm/ucontext.h).
const (
	ucFPXState        = 0x1
	ucSigcontextSS    = 0x2
	ucStrictRestoreSS = 0x4
)

// FP state markers (arch/x86/include/uapi/asm/sigcontext.h).
const (
	fpXStateMagic1 = 0x46505853
	fpXStateMagic2 = 0x46505845
	// swReservedOff is where struct _fpx_sw_bytes sits in the FXSAVE area;
	// ptrace's NT_X86_XSTATE keeps XCR0 in its first 8 bytes.
	swReservedOff = 464
)

// sigaltstack flags (include/uapi/linux/signal.h).
const (
	SSOnStack    = 1
	SSDisable    = 2
	SSAutoDisarm = 1 << 31
)

// eflags bits the guest may change through sigreturn (FIX_EFLAGS in
// arch/x86/kernel/signal.c).
const fixEflags = 0x40000 | 0x800 | 0x400 | 0x100 | 0x80 | 0x40 | 0x10 | 0x4 | 0x1 | 0x10000

// eflags bits cleared on entry to a handler: TF, DF, RF (and AC).
const handlerClearEflags = 0x100 | 0x400 | 0x10000 | 0x40000

// AltStack is a task's sigaltstack setting (stack_t).
type AltStack struct {
	Sp    uint64
	Flags uint32
	Size  uint64
}

// On reports whether sp lies on the alternate stack (on_sig_stack).
func (s AltStack) On(sp uint64) bool {
	if s.Flags&SSAutoDisarm != 0 {
		return false
	}
	return sp > s.Sp && sp-s.Sp <= s.Size
}

// FlagsFor is sas_ss_flags: what sigaltstack reports for a task at sp.
func (s AltStack) FlagsFor(sp uint64) uint32 {
	if s.Size == 0 {
		return SSDisable
	}
	if s.On(sp) {
		return SSOnStack
	}
	return 0
}

// Fault describes the hardware exception behind a signal, saved in the
// sigcontext's trapno, err and cr2.
type Fault struct {
	Trapno, Err, Cr2 uint64
}

// FrameInput is everything needed to build one signal frame.
type FrameInput struct {
	Regs  *platform.Registers
	Sig   int
	Info  Info
	Act   Action
	Mask  Set // the mask sigreturn restores (uc_sigmask, oldmask)
	Alt   AltStack
	Fault Fault
}

// ErrBadStack reports an alternate stack that would overflow: Linux makes
// the task die with SIGSEGV.
var ErrBadStack = errors.New("signal frame does not fit the alternate stack")

// Frame is a built signal frame: Data is to be written at Addr.
type Frame struct {
	Addr uint64
	Data []byte
	// FPAddr is where the xsave area lies (inside Data).
	FPAddr uint64
	// DisarmAlt is set when SS_AUTODISARM requires the caller to clear its
	// alternate stack after delivery.
	DisarmAlt bool
}

// Build lays out an rt_sigframe as Linux's get_sigframe and
// __setup_rt_frame do.
func Build(in FrameInput) (Frame, error) {
	r := in.Regs
	// nested: the interrupted code already runs on the alternate stack
	// (judged at the original rsp); entering: the frame switches to it.
	nested := in.Alt.On(r.Rsp)
	sp := r.Rsp - redZone
	entering := false
	if in.Act.Flags&SAOnStack != 0 && in.Alt.FlagsFor(sp) == 0 {
		sp = in.Alt.Sp + in.Alt.Size
		entering = true
	}
	onAlt := nested || entering
	fpSize := uint64(len(r.FPState))
	// fpu__alloc_mathframe: xsave area + MAGIC2, 64-byte aligned.
	fpAddr := (sp - (fpSize + 4)) &^ 63
	sp = fpAddr - FrameSize
	// align_sigframe: as if just after a call ((sp+8) % 16 == 0).
	sp = ((sp + 8) &^ 15) - 8
	if onAlt && !in.Alt.On(sp) {
		return Frame{}, ErrBadStack
	}
	top := fpAddr + fpSize + 4
	data := make([]byte, top-sp)
	le := binary.LittleEndian

	le.PutUint64(data[0:], in.Act.Restorer)
	uc := data[frameUContext:]
	le.PutUint64(uc[ucFlagsOff:], ucFPXState|ucSigcontextSS|ucStrictRestoreSS)
	le.PutUint64(uc[ucLinkOff:], 0)
	le.PutUint64(uc[ucStackOff:], in.Alt.Sp)
	le.PutUint32(uc[ucStackOff+8:], in.Alt.Flags)
	le.PutUint64(uc[ucStackOff+16:], in.Alt.Size)
	mc := uc[ucMcontextOff : ucMcontextOff+sigcontextSize]
	for i, v := range []uint64{r.R8, r.R9, r.R10, r.R11, r.R12, r.R13, r.R14, r.R15,
		r.Rdi, r.Rsi, r.Rbp, r.Rbx, r.Rdx, r.Rax, r.Rcx, r.Rsp, r.Rip, r.Eflags} {
		le.PutUint64(mc[8*i:], v)
	}
	// cs, gs, fs, ss as four 16-bit fields.
	le.PutUint16(mc[scCS:], uint16(r.Cs))
	le.PutUint16(mc[scSS:], uint16(r.Ss))
	le.PutUint64(mc[scErr:], in.Fault.Err)
	le.PutUint64(mc[scTrapno:], in.Fault.Trapno)
	le.PutUint64(mc[scOldmask:], uint64(in.Mask))
	le.PutUint64(mc[scCR2:], in.Fault.Cr2)
	le.PutUint64(mc[scFPState:], fpAddr)
	le.PutUint64(uc[ucSigmaskOff:], uint64(in.Mask))
	if in.Act.Flags&SASigInfo != 0 {
		in.Info.Marshal(data[frameInfo:])
	}

	fp := data[fpAddr-sp:]
	copy(fp, r.FPState)
	if fpSize >= 512 {
		// struct _fpx_sw_bytes: magic1, extended_size, xfeatures, xstate_size.
		xcr0 := le.Uint64(r.FPState[swReservedOff:])
		sw := fp[swReservedOff:]
		clear(sw[:48])
		le.PutUint32(sw[0:], fpXStateMagic1)
		le.PutUint32(sw[4:], uint32(fpSize+4))
		le.PutUint64(sw[8:], xcr0)
		le.PutUint32(sw[16:], uint32(fpSize))
	}
	le.PutUint32(fp[fpSize:], fpXStateMagic2)
	return Frame{Addr: sp, Data: data, FPAddr: fpAddr, DisarmAlt: in.Alt.Flags&SSAutoDisarm != 0 && onAlt}, nil
}

// EnterHandler points the registers at the handler with the frame built:
// rdi = signal, rsi = &info, rdx = &uc, rsp = frame, as __setup_rt_frame.
// initFP is the FP state the handler starts with (Linux resets it).
func EnterHandler(r *platform.Registers, f Frame, sig int, act Action, initFP []byte) {
	r.Rdi = uint64(sig)
	r.Rsi = f.Addr + frameInfo
	r.Rdx = f.Addr + frameUContext
	r.Rax = 0
	r.Rsp = f.Addr
	r.Rip = act.Handler
	r.Eflags &^= handlerClearEflags
	r.Cs, r.Ss = 0x33, 0x2b
	r.Orig_rax = ^uint64(0)
	r.FPState = append(r.FPState[:0], initFP...)
}

// ReturnState is what rt_sigreturn restores.
type ReturnState struct {
	Mask Set
	Alt  AltStack
	// FPAddr is the saved xsave area's address (0: start from init state).
	FPAddr uint64
}

// FrameReadSize is how many bytes at rsp-8 Restore needs (pretcode,
// ucontext, siginfo).
const FrameReadSize = FrameSize

// Restore reloads the registers from a frame read at sp-8 (the handler's
// ret popped pretcode), as rt_sigreturn's restore_sigcontext. FP state is
// read separately from ReturnState.FPAddr by the caller.
func Restore(r *platform.Registers, frame []byte) ReturnState {
	le := binary.LittleEndian
	uc := frame[frameUContext:]
	mc := uc[ucMcontextOff:]
	regs := []*uint64{&r.R8, &r.R9, &r.R10, &r.R11, &r.R12, &r.R13, &r.R14, &r.R15,
		&r.Rdi, &r.Rsi, &r.Rbp, &r.Rbx, &r.Rdx, &r.Rax, &r.Rcx, &r.Rsp, &r.Rip}
	for i, p := range regs {
		*p = le.Uint64(mc[8*i:])
	}
	fl := le.Uint64(mc[scEflags:])
	r.Eflags = r.Eflags&^fixEflags | fl&fixEflags
	r.Cs, r.Ss = 0x33, 0x2b
	r.Orig_rax = ^uint64(0)
	return ReturnState{
		Mask: Set(le.Uint64(uc[ucSigmaskOff:])) &^ Unblockable,
		Alt: AltStack{
			Sp:    le.Uint64(uc[ucStackOff:]),
			Flags: le.Uint32(uc[ucStackOff+8:]),
			Size:  le.Uint64(uc[ucStackOff+16:]),
		},
		FPAddr: le.Uint64(mc[scFPState:]),
	}
}

// CheckFP validates a saved xsave area's software bytes (check_xstate_in_sigframe)
// and returns how many bytes of it to load.
func CheckFP(fp []byte, size int) int {
	le := binary.LittleEndian
	if len(fp) < 512 {
		return 0
	}
	sw := fp[swReservedOff:]
	if le.Uint32(sw[0:]) != fpXStateMagic1 {
		// No extended state: only the legacy FXSAVE area is valid.
		return 512
	}
	xsize := int(le.Uint32(sw[16:]))
	ext := int(le.Uint32(sw[4:]))
	if xsize < 512 || xsize > size || ext != xsize+4 || len(fp) < xsize+4 ||
		le.Uint32(fp[xsize:]) != fpXStateMagic2 {
		return 512
	}
	return xsize
}
