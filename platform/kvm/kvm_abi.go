package kvm

// The KVM API as include/uapi/linux/kvm.h and arch/x86/include/uapi/asm/kvm.h
// define it (Documentation/virt/kvm/api.rst).

// ioctl request numbers (_IO/_IOR/_IOW/_IOWR with KVMIO = 0xAE).
const (
	kvmGetAPIVersion       = 0xae00
	kvmCreateVM            = 0xae01
	kvmCheckExtension      = 0xae03
	kvmGetVCPUMmapSize     = 0xae04
	kvmGetSupportedCPUID   = 0xc008ae05
	kvmCreateVCPU          = 0xae41
	kvmSetUserMemoryRegion = 0x4020ae46
	kvmRun                 = 0xae80
	kvmGetRegs             = 0x8090ae81
	kvmSetRegs             = 0x4090ae82
	kvmGetSregs            = 0x8138ae83
	kvmSetSregs            = 0x4138ae84
	kvmSetMSRs             = 0x4008ae89
	kvmSetCPUID2           = 0x4008ae90
	kvmGetXsave            = 0x9000aea4
)

// Capabilities (KVM_CHECK_EXTENSION).
const (
	capUserMemory    = 3
	capNrVCPUs       = 9
	capMaxVCPUs      = 66
	capXsave         = 55
	capSyncRegs      = 74
	capImmediateExit = 136
)

// Exit reasons (kvm_run.exit_reason).
const (
	exitUnknown       = 0
	exitException     = 1
	exitIO            = 2
	exitHLT           = 5
	exitMMIO          = 6
	exitShutdown      = 8
	exitFailEntry     = 9
	exitIntr          = 10
	exitInternalError = 17
)

// exitNames names the exit reasons for error messages.
var exitNames = map[uint32]string{
	exitUnknown: "UNKNOWN", exitException: "EXCEPTION", exitIO: "IO", exitHLT: "HLT",
	exitMMIO: "MMIO", exitShutdown: "SHUTDOWN (triple fault)", exitFailEntry: "FAIL_ENTRY",
	exitIntr: "INTR", exitInternalError: "INTERNAL_ERROR",
}

// struct kvm_run field offsets.
const (
	runImmediateExit = 1
	runExitReason    = 8
	runIODirection   = 32 // exit union: struct { __u8 direction, size; __u16 port; __u32 count; __u64 data_offset; } io
	runIOPort        = 34
	runHWReason      = 32 // fail_entry.hardware_entry_failure_reason / internal.suberror
	runValidRegs     = 288
	runDirtyRegs     = 296
	runSyncRegs      = 304 // struct kvm_sync_regs: kvm_regs first
)

// kvm_sync_regs field selectors (KVM_SYNC_X86_*).
const syncRegsGPR = 1

// struct kvm_regs: 18 u64 in this order.
const (
	regRAX = iota
	regRBX
	regRCX
	regRDX
	regRSI
	regRDI
	regRSP
	regRBP
	regR8
	regR9
	regR10
	regR11
	regR12
	regR13
	regR14
	regR15
	regRIP
	regRFLAGS
	nRegs
)

// kvmSegment is struct kvm_segment.
type kvmSegment struct {
	Base                           uint64
	Limit                          uint32
	Selector                       uint16
	Type                           uint8
	Present, DPL, DB, S, L, G, AVL uint8
	Unusable                       uint8
	_                              uint8
}

// kvmDTable is struct kvm_dtable.
type kvmDTable struct {
	Base  uint64
	Limit uint16
	_     [3]uint16
}

// kvmSregs is struct kvm_sregs (312 bytes).
type kvmSregs struct {
	CS, DS, ES, FS, GS, SS  kvmSegment
	TR, LDT                 kvmSegment
	GDT, IDT                kvmDTable
	CR0, CR2, CR3, CR4, CR8 uint64
	EFER                    uint64
	APICBase                uint64
	InterruptBitmap         [4]uint64
}

// kvmXsaveSize is the size of struct kvm_xsave: the XSAVE image in the
// standard (uncompacted) format, the FXSAVE area first.
const kvmXsaveSize = 4096

// kvmUserspaceMemoryRegion is struct kvm_userspace_memory_region.
type kvmUserspaceMemoryRegion struct {
	Slot          uint32
	Flags         uint32
	GuestPhysAddr uint64
	MemorySize    uint64
	UserspaceAddr uint64
}

// kvmCPUIDEntry2 is struct kvm_cpuid_entry2.
type kvmCPUIDEntry2 struct {
	Function, Index, Flags uint32
	EAX, EBX, ECX, EDX     uint32
	_                      [3]uint32
}

// Model-specific registers (Intel SDM vol. 4).
const (
	msrSTAR         = 0xc0000081
	msrLSTAR        = 0xc0000082
	msrCSTAR        = 0xc0000083
	msrSFMASK       = 0xc0000084
	msrFSBase       = 0xc0000100
	msrGSBase       = 0xc0000101
	msrKernelGSBase = 0xc0000102
)

// Control register and EFER bits.
const (
	cr0PE = 1 << 0
	cr0MP = 1 << 1
	cr0ET = 1 << 4
	cr0NE = 1 << 5
	cr0WP = 1 << 16
	cr0AM = 1 << 18
	cr0PG = 1 << 31

	cr4PAE        = 1 << 5
	cr4OSFXSR     = 1 << 9
	cr4OSXMMEXCPT = 1 << 10

	eferSCE = 1 << 0
	eferLME = 1 << 8
	eferLMA = 1 << 10
	eferNXE = 1 << 11
)
