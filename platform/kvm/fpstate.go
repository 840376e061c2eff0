package kvm

// FP state: the platform saves and loads the guest's x87/SSE state with
// FXSAVE/FXRSTOR in the stub (KVM here exposes no XSAVE), so
// Registers.FPState is an FXSAVE area followed by an XSAVE header: 576 bytes,
// with XCR0 = x87|SSE in the software-reserved bytes 464..471 (where
// ptrace's NT_X86_XSTATE keeps it and kernel/signal reads it) and XSTATE_BV
// = x87|SSE at byte 512.
const (
	fpStateSize   = 512 + 64
	fxMXCSR       = 24
	fxMXCSRMask   = 28
	swXCR0        = 464
	xstateBV      = 512
	xfeatureFPSSE = 0x3
)

// initialFPState builds the state of a freshly exec'ed process
// (fpu__init_cpu: FCW 0x37f, MXCSR 0x1f80) with the CPU's MXCSR mask.
func initialFPState(mxcsrMask uint32) []byte {
	fp := make([]byte, fpStateSize)
	le.PutUint16(fp[0:], 0x37f)
	le.PutUint32(fp[fxMXCSR:], 0x1f80)
	le.PutUint32(fp[fxMXCSRMask:], mxcsrMask)
	le.PutUint64(fp[swXCR0:], xfeatureFPSSE)
	le.PutUint64(fp[xstateBV:], xfeatureFPSSE)
	return fp
}

// fxFromXsave fills the FXSAVE part of a platform FP state from a
// KVM_GET_XSAVE image (its first 512 bytes are an FXSAVE area), keeping the
// XCR0 software bytes and the XSAVE header of fp.
func fxFromXsave(fp []byte, x *[kvmXsaveSize]byte, mxcsrMask uint32) {
	copy(fp[:swXCR0], x[:swXCR0])
	le.PutUint32(fp[fxMXCSRMask:], mxcsrMask)
}
