package kvm

import (
	"golang.org/x/sys/unix"
	"kvsentry/platform"
)

// Platform is the KVM platform (see the package doc).
type Platform struct {
	vm     *vm
	initFP []byte
}

var _ platform.Platform = (*Platform)(nil)

// New builds the KVM platform on the pool memfd: it fails, saying why,
// when this machine has no usable KVM (no /dev/kvm, no permission, a
// capability missing, or a vCPU that cannot run the stub).
func New(opts platform.Options) (*Platform, error) {
	v, err := newVM(opts.PoolFD)
	if err != nil {
		return nil, err
	}
	p := &Platform{vm: v}
	mask, err := p.probe()
	if err != nil {
		v.close()
		return nil, err
	}
	p.initFP = initialFPState(mask)
	return p, nil
}

// probe runs the trampoline's syscall on the first vCPU twice (through the
// trampoline, then through the stub's iretq) and returns the CPU's
// MXCSR_MASK from the saved FXSAVE area.
func (p *Platform) probe() (uint32, error) {
	c := &Context{p: p, wake: make(chan struct{}, 1)}
	as, err := newAddressSpace(p.vm)
	if err != nil {
		return 0, err
	}
	defer as.Release()
	regs := &platform.Registers{FPState: initialFPState(0xffff)}
	regs.Rip, regs.Eflags = probeVA, 0x202
	for i := 0; i < 2; i++ {
		ev, err := c.Switch(as, regs)
		if err != nil {
			return 0, errorf("probe run: %w", err)
		}
		if ev.Kind != platform.EventSyscall || regs.Rip != probeVA+2 {
			return 0, errorf("probe run: event %v at rip %#x, want a syscall at %#x", ev.Kind, regs.Rip, uint64(probeVA+2))
		}
		regs.Rip = probeVA
	}
	// A #UD in ring 3 (the trampoline page's filler) goes through the
	// stub's exception path, which saves the FXSAVE area.
	regs.Rip = probeVA + 0x10
	if ev, err := c.Switch(as, regs); err != nil || ev.Kind != platform.EventSignal || ev.Signo != int32(unix.SIGILL) {
		return 0, errorf("probe run: event %+v (%v), want SIGILL", ev, err)
	}
	u := c.last
	mask := le.Uint32(u.fxArea()[fxMXCSRMask:])
	if mask == 0 {
		mask = 0xffbf // SDM: a zero MXCSR_MASK means the default
	}
	for _, x := range p.vm.vcpus {
		x.mxcsrMask = mask
	}
	p.vm.mxcsrMask = mask
	return mask, nil
}

// close frees the VM (tests).
func (p *Platform) close() { p.vm.close() }

// Name returns "kvm".
func (p *Platform) Name() string { return "kvm" }

// MaxUserAddress is Linux's x86-64 TASK_SIZE, 0x7ffffffff000: the platform's
// own pages live in the kernel half.
func (p *Platform) MaxUserAddress() uint64 { return maxUserAddress }

// FPStateSize is 576: an FXSAVE area and an XSAVE header (fpstate.go).
func (p *Platform) FPStateSize() int { return fpStateSize }

// InitialFPState returns a fresh FP state as a new process starts with it.
func (p *Platform) InitialFPState() []byte { return append([]byte(nil), p.initFP...) }

// NewAddressSpace creates an empty guest address space.
func (p *Platform) NewAddressSpace() (platform.AddressSpace, error) {
	return newAddressSpace(p.vm)
}

// NewContext creates a virtual CPU for a guest thread; any thread may use
// it, one at a time.
func (p *Platform) NewContext() (platform.Context, error) {
	return &Context{p: p, wake: make(chan struct{}, 1)}, nil
}
