package kvm

import (
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
	"kvsentry/platform"
)

// Context is a guest thread's virtual CPU: each Switch borrows a vCPU from
// the VM's pool (preferring the last one) and runs the guest on it from the
// calling thread.
type Context struct {
	p *Platform
	// interrupt is set by Interrupt and consumed by Switch.
	interrupt atomic.Bool
	// cur is the vCPU running this context's guest, nil when none.
	cur atomic.Pointer[vcpu]
	// wake tells a Switch waiting for a vCPU that Interrupt was called.
	wake chan struct{}
	last *vcpu
	fp   kvmFPU
}

var _ platform.Context = (*Context)(nil)

// rflagsUser are the RFLAGS bits a guest may set (Linux's FLAG_MASK for
// ptrace/sigreturn: CF PF AF ZF SF TF DF OF NT RF AC ID); IF and bit 1 are
// always set on the way to ring 3.
const (
	rflagsUser   = 0x254dd5
	rflagsAlways = 0x202
)

// canonical says whether a is a canonical 48-bit address.
func canonical(a uint64) bool { return a < 1<<47 || a >= 0xffff800000000000 }

// Switch runs the guest with regs in as until an event.
func (c *Context) Switch(as platform.AddressSpace, regs *platform.Registers) (platform.Event, error) {
	kas, ok := as.(*AddressSpace)
	if !ok || kas.vm != c.p.vm {
		return platform.Event{}, fmt.Errorf("kvm: Switch into a foreign address space %T", as)
	}
	if kas.released.Load() {
		return platform.Event{}, fmt.Errorf("kvm: Switch into a released address space: %w", unix.EINVAL)
	}
	if len(regs.FPState) != fpStateSize {
		return platform.Event{}, fmt.Errorf("kvm: FPState is %d bytes, want %d: %w", len(regs.FPState), fpStateSize, unix.EINVAL)
	}
	if c.interrupt.CompareAndSwap(true, false) {
		return platform.Event{Kind: platform.EventInterrupt}, nil
	}
	if !canonical(regs.Rip) {
		// iretq to a non-canonical rip faults: Linux sends SIGSEGV.
		return platform.Event{Kind: platform.EventSignal, Signo: int32(unix.SIGSEGV), Code: siKernel}, nil
	}
	u, err := c.p.vm.acquire(c)
	if err != nil {
		return platform.Event{}, err
	}
	if u == nil {
		c.interrupt.Store(false)
		return platform.Event{Kind: platform.EventInterrupt}, nil
	}
	c.last = u
	u.preempt.Store(false)
	u.run.setImmediateExit(0)
	u.tid.Store(int32(unix.Gettid()))
	c.cur.Store(u)
	var ev platform.Event
	if c.interrupt.CompareAndSwap(true, false) {
		ev = platform.Event{Kind: platform.EventInterrupt}
	} else {
		start := time.Now()
		ev, err = c.runOn(u, kas, regs)
		kas.userNS.Add(int64(time.Since(start)))
	}
	c.cur.Store(nil)
	u.tid.Store(0)
	c.p.vm.release(u)
	return ev, err
}

// load writes the guest state into u's data page for the stub's way in.
func (u *vcpu) load(as *AddressSpace, regs *platform.Registers) {
	r := &regs.PtraceRegs
	for _, s := range []struct {
		off uint64
		val uint64
	}{
		{dRAX, r.Rax}, {dRBX, r.Rbx}, {dRCX, r.Rcx}, {dRDX, r.Rdx}, {dRSI, r.Rsi}, {dRDI, r.Rdi}, {dRBP, r.Rbp},
		{dR8, r.R8}, {dR8 + 8, r.R9}, {dR8 + 16, r.R10}, {dR8 + 24, r.R11},
		{dR8 + 32, r.R12}, {dR8 + 40, r.R13}, {dR8 + 48, r.R14}, {dR8 + 56, r.R15},
		{dRIP, r.Rip}, {dRSP, r.Rsp}, {dRFLAGS, r.Eflags&rflagsUser | rflagsAlways},
		{dWantCR3, as.cr3()}, {dStop, 0},
	} {
		u.setData(s.off, s.val)
	}
	// wrmsr of a non-canonical base would fault in ring 0; Linux's
	// arch_prctl never lets one through.
	fs, gs := r.Fs_base, r.Gs_base
	if !canonical(fs) {
		fs = 0
	}
	if !canonical(gs) {
		gs = 0
	}
	u.setData(dWantFS, fs)
	u.setData(dWantGS, gs)
	fx := u.fxArea()
	copy(fx, regs.FPState[:512])
	le.PutUint32(fx[fxMXCSR:], le.Uint32(fx[fxMXCSR:])&u.mxcsrMask)
	if g := u.vm.flushGen.Load(); g != u.lastGen {
		u.lastGen = g
		u.setData(dFlush, 1)
	}
}

// store copies the state the stub saved into regs.
func (u *vcpu) store(regs *platform.Registers) {
	r := &regs.PtraceRegs
	for _, s := range []struct {
		off uint64
		p   *uint64
	}{
		{dRAX, &r.Rax}, {dRBX, &r.Rbx}, {dRCX, &r.Rcx}, {dRDX, &r.Rdx}, {dRSI, &r.Rsi}, {dRDI, &r.Rdi}, {dRBP, &r.Rbp},
		{dR8, &r.R8}, {dR8 + 8, &r.R9}, {dR8 + 16, &r.R10}, {dR8 + 24, &r.R11},
		{dR8 + 32, &r.R12}, {dR8 + 40, &r.R13}, {dR8 + 48, &r.R14}, {dR8 + 56, &r.R15},
		{dRIP, &r.Rip}, {dRSP, &r.Rsp}, {dRFLAGS, &r.Eflags},
	} {
		*s.p = u.data(s.off)
	}
	r.Cs, r.Ss = selUserCS, selUserSS
	r.Ds, r.Es, r.Fs, r.Gs = 0, 0, 0, 0
	copy(regs.FPState[:464], u.fxArea()[:464])
}

// storeSync copies the registers of a vCPU stopped in ring 3 (kvm_run's
// synced registers, and the FP state with KVM_GET_FPU) into regs.
func (c *Context) storeSync(u *vcpu, regs *platform.Registers) error {
	k := u.run.regs()
	r := &regs.PtraceRegs
	r.Rax, r.Rbx, r.Rcx, r.Rdx = k[regRAX], k[regRBX], k[regRCX], k[regRDX]
	r.Rsi, r.Rdi, r.Rsp, r.Rbp = k[regRSI], k[regRDI], k[regRSP], k[regRBP]
	r.R8, r.R9, r.R10, r.R11 = k[regR8], k[regR9], k[regR10], k[regR11]
	r.R12, r.R13, r.R14, r.R15 = k[regR12], k[regR13], k[regR14], k[regR15]
	r.Rip, r.Eflags = k[regRIP], k[regRFLAGS]
	r.Cs, r.Ss = selUserCS, selUserSS
	if err := getFPU(u.fd, &c.fp); err != nil {
		return errorf("KVM_GET_FPU: %w", err)
	}
	fxFromKVM(regs.FPState, &c.fp, u.mxcsrMask)
	return nil
}

// runOn runs the guest on u until an event.
func (c *Context) runOn(u *vcpu, as *AddressSpace, regs *platform.Registers) (platform.Event, error) {
	v := u.vm
	u.load(as, regs)
	list := v.priv.bytesAt(u.blk+blkTouch, maxTouches*8)
	n := 0
	loadTouches := func() {
		var words [maxTouches]uint64
		var more bool
		n, more = v.takeTouches(u, words[:])
		for i := 0; i < n; i++ {
			le.PutUint64(list[8*i:], words[i])
		}
		u.setData(dNTouch, uint64(n))
		stop := uint64(0)
		if more {
			// More than one list: leave right after this one, come back.
			stop = 1
		}
		u.setData(dStop, stop)
	}
	loadTouches()
	if !u.ring0 {
		k := u.run.regs()
		k[regRIP], k[regRFLAGS], k[regRSP] = trampVA, 0x2, 0
		u.run.setDirtyRegs(syncRegsGPR)
		u.setData(dArmed, 1)
	}
	stubStart := u.kva(blkCode)
	for {
		_, err := ioctl(u.fd, kvmRun, 0)
		if n > 0 && u.data(dNTouch) == 0 {
			u.lastGen = v.touched(u, n) // this vCPU flushed with the batch
			n = 0
		}
		rip := u.run.regs()[regRIP]
		if err == unix.EINTR {
			u.run.setImmediateExit(0)
			switch {
			case rip >= stubStart && rip < stubStart+pageSize:
				// Inside the stub: let it finish its way in or out.
				u.setData(dStop, 1)
				continue
			case rip == trampVA && !u.ring0:
				// Not entered yet.
				if c.interrupt.CompareAndSwap(true, false) || u.preempt.CompareAndSwap(true, false) {
					u.run.setDirtyRegs(0)
					regs.Orig_rax = ^uint64(0)
					return platform.Event{Kind: platform.EventInterrupt}, nil
				}
				continue
			}
			u.ring0 = false
			if c.interrupt.CompareAndSwap(true, false) || u.preempt.CompareAndSwap(true, false) {
				if err := c.storeSync(u, regs); err != nil {
					return platform.Event{}, err
				}
				regs.Orig_rax = ^uint64(0)
				return platform.Event{Kind: platform.EventInterrupt}, nil
			}
			continue
		}
		if err != nil {
			return platform.Event{}, errorf("KVM_RUN: %w", err)
		}
		reason := u.run.exitReason()
		if reason != exitIO {
			return platform.Event{}, errorf("vCPU %d: unexpected exit %s (%d, %#x) at rip %#x", u.id, exitNames[reason], reason, u.run.hwReason(), rip)
		}
		if rip != u.kva(blkCode+uint64(v.stub.afterOut)) || u.run.ioPort() != exitPort {
			// I/O from guest code: Linux answers in/out in ring 3 with #GP.
			u.ring0 = false
			if err := c.storeSync(u, regs); err != nil {
				return platform.Event{}, err
			}
			regs.Orig_rax = ^uint64(0)
			return platform.Event{Kind: platform.EventSignal, Signo: int32(unix.SIGSEGV), Code: siKernel}, nil
		}
		u.ring0 = true
		vec := u.data(dVector)
		switch {
		case vec == kindStop:
			if c.interrupt.CompareAndSwap(true, false) || u.preempt.CompareAndSwap(true, false) {
				regs.Orig_rax = ^uint64(0)
				return platform.Event{Kind: platform.EventInterrupt}, nil
			}
			// The end of a touch list, or a stray signal: go on.
			loadTouches()
			continue
		case vec == kindSyscall:
			u.store(regs)
			regs.Orig_rax = regs.Rax
			return platform.Event{Kind: platform.EventSyscall}, nil
		case vec < nVectors:
			if u.data(dCS)&3 != 3 {
				return platform.Event{}, errorf("vCPU %d: exception %d (error %#x) in the ring-0 stub at rip %#x, cr2 %#x",
					u.id, vec, u.data(dErr), u.data(dRIP), u.data(dCR2))
			}
			u.store(regs)
			regs.Orig_rax = ^uint64(0)
			return exceptionEvent(vec, u.data(dErr), u.data(dCR2), regs.Rip, u.fxArea()), nil
		default:
			return platform.Event{}, errorf("vCPU %d: bad exit kind %d", u.id, vec)
		}
	}
}

// Interrupt makes the running Switch (or the next one) return
// EventInterrupt. Any goroutine may call it.
func (c *Context) Interrupt() {
	c.interrupt.Store(true)
	select {
	case c.wake <- struct{}{}:
	default:
	}
	if u := c.cur.Load(); u != nil {
		u.kick()
	}
}

// Release frees the context (its vCPU goes on serving other contexts).
func (c *Context) Release() { c.last = nil }
