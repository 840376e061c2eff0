package kvm

import "encoding/binary"

// Guest-physical memory: the page pool is memslot 0 at guest-physical 0, so
// a pool offset is a guest-physical address; the platform's own memory (page
// tables, the ring-0 stub, descriptor tables, vCPU stacks) is memslot 1 at
// privGPA, the first 1 GiB boundary above the pool.
const (
	pageSize  = 4096
	privSize  = 1 << 30
	gib       = 1 << 30
	slotPool  = 0
	slotPriv  = 1
	hugeShift = 21
)

// Guest-virtual layout. The user half is the guest's, below maxUserAddress
// (Linux's TASK_SIZE). Every address space's PML4 shares two kernel-half
// entries: kernBase maps the whole private memslot supervisor-only (2 MiB
// pages), and trampVA maps one user-executable page holding the `ud2` whose
// #UD is the way into the stub for a vCPU that is in ring 3 (see stub.go)
// and the `out` that LSTAR points at.
const (
	maxUserAddress = 0x7ffffffff000
	kernBase       = 0xffff800000000000
	trampVA        = 0xffffffffffe00000
)

// Offsets in the private memslot.
const (
	privKernPDPT  = 0x0000
	privKernPD    = 0x1000
	privTrampPDPT = 0x2000
	privTrampPD   = 0x3000
	privTrampPT   = 0x4000
	privTrampCode = 0x5000
	privIdlePML4  = 0x6000
	privBlocks    = 0x10000
	blockSize     = 0x8000
	maxVCPUs      = 32
	privAllocBase = 0x200000 // page-table pages are allocated from here
)

// Offsets in a vCPU block: the stub's code, its data page, the descriptor
// tables, the pending page-table touches and the ring-0 stack.
const (
	blkCode     = 0x0000
	blkData     = 0x1000
	blkGDT      = 0x2000
	blkTSS      = 0x2080
	blkIDT      = 0x2100
	blkTouch    = 0x3000
	maxTouches  = 0x2000 / 8
	blkStackTop = 0x8000
	gdtLimit    = 10*8 - 1
	tssIOMap    = 0x300 // I/O permission bitmap offset in the TSS (past the IDT)
	tssLimit    = tssIOMap + exitPort/8 + 1
	nVectors    = 32
	idtLimit    = nVectors*16 - 1
	selKernCS   = 0x10
	selKernSS   = 0x18
	selUserCS   = 0x33
	selUserSS   = 0x2b
	selTSS      = 0x40
	// trampRetAddr is the rcx the host gives the trampoline's ud2 (at
	// trampVA): with dArmed it tells the stub's #UD handler a way in.
	trampRetAddr = trampVA + 2
	// lstarVA is where `syscall` goes. kvm_pvm runs the LSTAR target in
	// ring 3 for a guest that is not PVM-aware, so LSTAR points at an
	// `out` in the trampoline page that leaves KVM_RUN straight from ring 3
	// (an exception into the ring-0 stub and its iretq back cost ~70 µs
	// more here); the host resumes the guest with the synced registers.
	lstarVA = trampVA + 0x10
	// lstarExitRIP is the rip KVM reports for that exit.
	lstarExitRIP = lstarVA + 2
	// probeVA holds a `syscall` for the probe.
	probeVA = trampVA + 0x20
)

// Data-page fields (offsets from blkData), shared by the stub and the host.
// The host writes them while the vCPU is stopped; the stub reads them on the
// way into the guest and writes them on the way out.
const (
	dRAX     = 0x000
	dRBX     = 0x008
	dRCX     = 0x010
	dRDX     = 0x018
	dRSI     = 0x020
	dRDI     = 0x028
	dRBP     = 0x030
	dR8      = 0x038 // r8..r15 follow, 8 bytes apart
	dRIP     = 0x078
	dRSP     = 0x080
	dRFLAGS  = 0x088
	dVector  = 0x090 // exit kind: an exception vector, kindSyscall or kindStop
	dErr     = 0x098
	dCR2     = 0x0a0
	dCS      = 0x0a8
	dWantCR3 = 0x0b0
	dCurCR3  = 0x0b8
	dWantFS  = 0x0c0
	dCurFS   = 0x0c8
	dWantGS  = 0x0d0
	dCurGS   = 0x0d8
	dNTouch  = 0x0e0
	dFlush   = 0x0e8
	dStop    = 0x0f0
	dArmed   = 0x0f8
	dTrampRt = 0x100
	dSysRet  = 0x108 // trampVA: the rip of the trampoline's #UD
	dFX      = 0x200 // 512-byte FXSAVE area
)

// Exit kinds in dVector besides exception vectors.
const (
	kindSyscall = 256
	kindStop    = 257
)

// exitPort is the I/O port of the stub's `out`: every stub exit uses it.
const exitPort = 0xe9

// Page-table entry bits (Intel SDM vol. 3, 4.5).
const (
	ptePresent  = 1 << 0
	pteWrite    = 1 << 1
	pteUser     = 1 << 2
	pteAccessed = 1 << 5
	pteDirty    = 1 << 6
	pteHuge     = 1 << 7
	pteNX       = 1 << 63
	pteAddr     = 0x000ffffffffff000
)

// gdtEntries are the descriptors at selectors 0x00..0x38, in Linux's x86-64
// layout (arch/x86/include/asm/segment.h): kernel code 0x10, kernel data
// 0x18, user data 0x28, user code 0x30 (ring-3 selectors 0x2b and 0x33).
var gdtEntries = []uint64{
	0,
	0,
	0x00af9b000000ffff, // kernel code, 64-bit
	0x00cf93000000ffff, // kernel data
	0x00cffb000000ffff, // user code, 32-bit (never used)
	0x00cff3000000ffff, // user data
	0x00affb000000ffff, // user code, 64-bit
	0,
}

// buildGDT writes the GDT with a 64-bit TSS descriptor at selTSS for a TSS at
// tssVA into b.
func buildGDT(b []byte, tssVA uint64) {
	le := binary.LittleEndian
	for i, e := range gdtEntries {
		le.PutUint64(b[8*i:], e)
	}
	// Available 64-bit TSS (type 9), present, DPL 0 (SDM vol. 3, 8.2.3).
	lo := uint64(tssLimit) | (tssVA&0xffffff)<<16 | uint64(0x89)<<40 | (tssVA>>24&0xff)<<56
	le.PutUint64(b[selTSS:], lo)
	le.PutUint64(b[selTSS+8:], tssVA>>32)
}

// buildTSS writes a 64-bit TSS with rsp0 and an I/O permission bitmap
// that lets ring 3 reach exitPort alone (SDM vol. 1, 19.5.2), for the
// LSTAR exit; any other ring-3 in/out raises #GP. The bitmap lies past
// the IDT, which follows the TSS: call it before buildIDT.
func buildTSS(b []byte, rsp0 uint64) {
	le := binary.LittleEndian
	clear(b[:tssLimit+1])
	le.PutUint64(b[4:], rsp0)
	le.PutUint16(b[102:], tssIOMap)
	bm := b[tssIOMap : tssLimit+1]
	for i := range bm {
		bm[i] = 0xff // the last byte ends the map
	}
	bm[exitPort/8] &^= 1 << (exitPort % 8)
}

// buildIDT writes interrupt gates for vectors 0..nVectors-1 to the handler
// addresses in handlers; int3 and into are reachable from ring 3 (DPL 3),
// as in Linux's idt.c.
func buildIDT(b []byte, handlers []uint64) {
	le := binary.LittleEndian
	for v, h := range handlers {
		g := b[16*v : 16*v+16]
		le.PutUint16(g[0:], uint16(h))
		le.PutUint16(g[2:], selKernCS)
		attr := byte(0x8e) // present, DPL 0, 64-bit interrupt gate
		if v == 3 || v == 4 {
			attr = 0xee
		}
		g[4], g[5] = 0, attr
		le.PutUint16(g[6:], uint16(h>>16))
		le.PutUint32(g[8:], uint32(h>>32))
		le.PutUint32(g[12:], 0)
	}
}
