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

// fxFromKVM fills an FXSAVE area from struct kvm_fpu (KVM_GET_FPU), whose
// fields are the FXSAVE ones (ftwx is the abridged tag byte).
func fxFromKVM(fx []byte, f *kvmFPU, mxcsrMask uint32) {
	le.PutUint16(fx[0:], f.FCW)
	le.PutUint16(fx[2:], f.FSW)
	fx[4] = f.FTWX
	fx[5] = 0
	le.PutUint16(fx[6:], f.LastOpcode)
	le.PutUint64(fx[8:], f.LastIP)
	le.PutUint64(fx[16:], f.LastDP)
	le.PutUint32(fx[fxMXCSR:], f.MXCSR)
	le.PutUint32(fx[fxMXCSRMask:], mxcsrMask)
	for i := 0; i < 8; i++ {
		copy(fx[32+16*i:48+16*i], f.FPR[i][:])
	}
	for i := 0; i < 16; i++ {
		copy(fx[160+16*i:176+16*i], f.XMM[i][:])
	}
}
