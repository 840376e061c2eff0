package ptrace

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"sync"

	"kvsentry/platform"
)

// Platform is the ptrace platform (see the package doc).
type Platform struct {
	poolFD int
	fpSize int
	initFP []byte
	pool   *stubPool
}

var _ platform.Platform = (*Platform)(nil)

// XSAVE header: XSTATE_BV is at byte 512 (Intel SDM vol. 1, 13.4.2).
const (
	xstateBVOff   = 512
	xfeatureFPSSE = 0x3 // XFEATURE_MASK_FP | XFEATURE_MASK_SSE
)

var (
	probeOnce sync.Once
	probeFP   []byte
	probeErr  error
)

// probeFPState starts one throw-away stub on its own locked thread and
// reads its XSAVE state with PTRACE_GETREGSET NT_X86_XSTATE from a large
// buffer: the kernel shortens iov_len to its XSAVE size, and the contents are
// what a freshly exec'ed process holds (fpu__init_cpu state: FCW 0x37f,
// MXCSR 0x1f80, the CPU's MXCSR_MASK, XSTATE_BV as the kernel sets it).
func probeFPState() ([]byte, error) {
	probeOnce.Do(func() {
		done := make(chan struct{})
		go func() {
			defer close(done)
			// Never unlocked: the thread exits with this goroutine.
			runtime.LockOSThread()
			t, pidfd, err := spawnStub(-1)
			if err != nil {
				probeErr = err
				return
			}
			defer killStub(t.pid, pidfd)
			buf := make([]byte, 1<<16)
			n, err := getXState(t.tid, &t.iov, buf)
			if err != nil {
				probeErr = fmt.Errorf("ptrace: PTRACE_GETREGSET NT_X86_XSTATE: %w", err)
				return
			}
			if n < 512+64 {
				probeErr = fmt.Errorf("ptrace: XSAVE area of %d bytes is too small", n)
				return
			}
			fp := append([]byte(nil), buf[:n]...)
			// XSTATE_BV |= x87|SSE: the legacy area (FCW, MXCSR, XMM) then
			// holds what is loaded, instead of the CPU's init values, so
			// code that edits XMM registers in FPState sees them take effect.
			// The state is the same; the kernel sets these bits itself for
			// FXSAVE-only signal frames (fpu__restore_sig).
			bv := binary.LittleEndian.Uint64(fp[xstateBVOff:])
			binary.LittleEndian.PutUint64(fp[xstateBVOff:], bv|xfeatureFPSSE)
			probeFP = fp
		}()
		<-done
	})
	return probeFP, probeErr
}

// New builds the ptrace platform. It fails when this machine does not allow
// ptrace or cannot run the stub.
func New(opts platform.Options) (*Platform, error) {
	fp, err := probeFPState()
	if err != nil {
		return nil, err
	}
	p := &Platform{poolFD: opts.PoolFD, fpSize: len(fp), initFP: fp, pool: newStubPool(opts.PoolFD)}
	// Pre-started stubs hold the pool fd: kill them with the platform.
	runtime.AddCleanup(p, func(sp *stubPool) { sp.close() }, p.pool)
	return p, nil
}

// close kills the platform's pre-started stubs (address spaces already
// handed out stay). Tests call it before closing the pool fd.
func (p *Platform) close() { p.pool.close() }

// Name returns "ptrace".
func (p *Platform) Name() string { return "ptrace" }

// MaxUserAddress is 0x7fffffffd000: the two stub pages sit above it, up to
// Linux's x86-64 TASK_SIZE (0x7ffffffff000).
func (p *Platform) MaxUserAddress() uint64 { return stubBase }

// FPStateSize is the XSAVE size the kernel uses for NT_X86_XSTATE.
func (p *Platform) FPStateSize() int { return p.fpSize }

// InitialFPState returns a copy of a freshly exec'ed process's XSAVE state,
// with the x87 and SSE bits of XSTATE_BV set. As with the XSAVE instruction,
// a component whose XSTATE_BV bit is clear is loaded in its init state
// whatever its bytes say: set the bit when editing that component.
func (p *Platform) InitialFPState() []byte { return append([]byte(nil), p.initFP...) }

// NewAddressSpace takes a ready stub from the platform's pool (or starts
// one) and makes the calling thread, which must be locked to its goroutine,
// the tracer of one of its threads. Other locked threads get stub threads of
// their own on their first MapFile, MapFiles, Unmap or Switch.
func (p *Platform) NewAddressSpace() (platform.AddressSpace, error) {
	r, err := p.pool.get()
	if err != nil {
		return nil, err
	}
	return newAddressSpace(r, p.fpSize)
}

// NewContext creates a virtual CPU for the calling (locked) thread.
func (p *Platform) NewContext() (platform.Context, error) {
	return &Context{fpSize: p.fpSize}, nil
}
