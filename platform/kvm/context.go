package kvm

import (
	"bytes"
	"fmt"
	"runtime"
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
	// Interrupt signals the thread recorded in u.tid: the ioctls must run on
	// that thread. Callers normally hold their thread locked already (the
	// sentry's task workers do); locking nests.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
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
// synced registers, and the FP state with KVM_GET_XSAVE) into regs.
func (c *Context) storeSync(u *vcpu, regs *platform.Registers) error {
	k := u.run.regs()
	r := &regs.PtraceRegs
	r.Rax, r.Rbx, r.Rcx, r.Rdx = k[regRAX], k[regRBX], k[regRCX], k[regRDX]
	r.Rsi, r.Rdi, r.Rsp, r.Rbp = k[regRSI], k[regRDI], k[regRSP], k[regRBP]
	r.R8, r.R9, r.R10, r.R11 = k[regR8], k[regR9], k[regR10], k[regR11]
	r.R12, r.R13, r.R14, r.R15 = k[regR12], k[regR13], k[regR14], k[regR15]
	r.Rip, r.Eflags = k[regRIP], k[regRFLAGS]
	r.Cs, r.Ss = selUserCS, selUserSS
	if err := getXsave(u.fd, &u.xsave); err != nil {
		return errorf("KVM_GET_XSAVE: %w", err)
	}
	fxFromXsave(regs.FPState, &u.xsave, u.mxcsrMask)
	return nil
}

// reenter sends a vCPU stopped in ring 3 back to its guest code through
// the trampoline and the stub, so that the stub applies the page-table
// touches loaded meanwhile before the guest runs again: the guest's
// registers go to the data page as load would put them (the FP state from
// KVM_GET_XSAVE), and the vCPU restarts at the trampoline.
func (u *vcpu) reenter() error {
	k := u.run.regs()
	for _, s := range []struct{ off, reg uint64 }{
		{dRAX, regRAX}, {dRBX, regRBX}, {dRCX, regRCX}, {dRDX, regRDX}, {dRSI, regRSI}, {dRDI, regRDI}, {dRBP, regRBP},
		{dR8, regR8}, {dR8 + 8, regR9}, {dR8 + 16, regR10}, {dR8 + 24, regR11},
		{dR8 + 32, regR12}, {dR8 + 40, regR13}, {dR8 + 48, regR14}, {dR8 + 56, regR15},
		{dRIP, regRIP}, {dRSP, regRSP},
	} {
		u.setData(s.off, k[s.reg])
	}
	u.setData(dRFLAGS, k[regRFLAGS]&rflagsUser|rflagsAlways)
	if err := getXsave(u.fd, &u.xsave); err != nil {
		return errorf("KVM_GET_XSAVE: %w", err)
	}
	fx := u.fxArea()
	copy(fx[:swXCR0], u.xsave[:swXCR0])
	u.enterByTrampoline()
	return nil
}

// enterByTrampoline makes the next KVM_RUN of a vCPU in ring 3 start at
// the trampoline, whose syscall takes it into the stub's way in.
func (u *vcpu) enterByTrampoline() {
	k := u.run.regs()
	k[regRIP], k[regRFLAGS], k[regRSP], k[regRCX] = trampVA, 0x2, 0, trampRetAddr
	u.run.setDirtyRegs(syncRegsGPR)
	u.setData(dArmed, 1)
	u.ring0 = false
}

// fastExit stores the state of a guest stopped at the LSTAR exit after a
// syscall: the registers from kvm_run's synced ones (rip and rflags from
// rcx and r11, as the stub's path reports them) and the FP state with
// KVM_GET_XSAVE, which stays live in the vCPU.
func (u *vcpu) fastExit(regs *platform.Registers) error {
	k := u.run.regs()
	r := &regs.PtraceRegs
	r.Rax, r.Rbx, r.Rcx, r.Rdx = k[regRAX], k[regRBX], k[regRCX], k[regRDX]
	r.Rsi, r.Rdi, r.Rsp, r.Rbp = k[regRSI], k[regRDI], k[regRSP], k[regRBP]
	r.R8, r.R9, r.R10, r.R11 = k[regR8], k[regR9], k[regR10], k[regR11]
	r.R12, r.R13, r.R14, r.R15 = k[regR12], k[regR13], k[regR14], k[regR15]
	r.Rip, r.Eflags = k[regRCX], k[regR11]
	r.Cs, r.Ss = selUserCS, selUserSS
	r.Ds, r.Es, r.Fs, r.Gs = 0, 0, 0, 0
	r.Orig_rax = r.Rax
	if err := getXsave(u.fd, &u.xsave); err != nil {
		return errorf("KVM_GET_XSAVE: %w", err)
	}
	fxFromXsave(regs.FPState, &u.xsave, u.mxcsrMask)
	copy(u.fxLive[:], regs.FPState[:swXCR0])
	return nil
}

// canFastEnter says whether the guest may resume on u with its registers
// alone after a fastExit: same address space, no page-table touch or
// flush due, fs/gs bases unchanged and the FP state as handed out.
func (u *vcpu) canFastEnter(as *AddressSpace, regs *platform.Registers) bool {
	r := &regs.PtraceRegs
	return u.data(dCurCR3) == as.cr3() && !u.touchesPending() && u.vm.flushGen.Load() == u.lastGen &&
		u.data(dCurFS) == r.Fs_base && u.data(dCurGS) == r.Gs_base &&
		bytes.Equal(u.fxLive[:], regs.FPState[:swXCR0])
}

// fastEnter resumes a guest stopped at the LSTAR exit in ring 3 by
// writing its registers into kvm_run's synced ones.
func (u *vcpu) fastEnter(regs *platform.Registers) {
	k := u.run.regs()
	r := &regs.PtraceRegs
	k[regRAX], k[regRBX], k[regRCX], k[regRDX] = r.Rax, r.Rbx, r.Rcx, r.Rdx
	k[regRSI], k[regRDI], k[regRSP], k[regRBP] = r.Rsi, r.Rdi, r.Rsp, r.Rbp
	k[regR8], k[regR9], k[regR10], k[regR11] = r.R8, r.R9, r.R10, r.R11
	k[regR12], k[regR13], k[regR14], k[regR15] = r.R12, r.R13, r.R14, r.R15
	k[regRIP], k[regRFLAGS] = r.Rip, r.Eflags&rflagsUser|rflagsAlways
	u.run.setDirtyRegs(syncRegsGPR)
}

// touchesPending says whether the VM's touch log holds entries that u has
// not loaded for its next way in.
func (u *vcpu) touchesPending() bool { return u.vm.logEnd.Load() > u.loaded.Load() }

// runOn runs the guest on u until an event.
func (c *Context) runOn(u *vcpu, as *AddressSpace, regs *platform.Registers) (platform.Event, error) {
	v := u.vm
	u.as.Store(as)
	defer u.leave()
	fast := u.r3ctx == c && u.canFastEnter(as, regs)
	u.r3ctx = nil
	if fast {
		u.fastEnter(regs)
	} else {
		u.load(as, regs)
	}
	list := v.priv.bytesAt(u.blk+blkTouch, maxTouches*8)
	n := 0
	loadTouches := func() {
		var more bool
		n, more = v.takeTouches(u, list)
		u.setData(dNTouch, uint64(n))
		stop := uint64(0)
		if more {
			// More than one list: leave right after this one, come back.
			stop = 1
		}
		u.setData(dStop, stop)
	}
	if !fast {
		loadTouches()
		if !u.ring0 {
			u.enterByTrampoline()
		}
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
			// Every check below follows the reset of immediate_exit, so an
			// Interrupt or a shootdown after it makes KVM_RUN return again.
			wanted := c.interrupt.Load() || u.preempt.Load()
			switch {
			case rip >= stubStart && rip < stubStart+pageSize:
				// Inside the stub: let it finish its way out, or leave on its
				// way in before the guest runs (past the check of dStop,
				// restart at the stop; it reloads everything it needs).
				u.setData(dStop, 1)
				if off := rip - stubStart; off > uint64(v.stub.stopCheck) && off <= uint64(v.stub.iret) {
					u.run.regs()[regRIP] = stubStart + uint64(v.stub.stop)
					u.run.setDirtyRegs(syncRegsGPR)
				}
				continue
			case rip == trampVA && !u.ring0:
				// Not entered yet.
				if c.interrupt.CompareAndSwap(true, false) || u.preempt.CompareAndSwap(true, false) {
					u.run.setDirtyRegs(0)
					u.store(regs) // load's state, or reenter's
					regs.Orig_rax = ^uint64(0)
					return platform.Event{Kind: platform.EventInterrupt}, nil
				}
				if u.touchesPending() {
					loadTouches() // the stub has not started: take the newer ones too
				}
				continue
			case rip >= trampVA && rip < trampVA+pageSize:
				// On its way into the stub: the trampoline's syscall, or a
				// guest syscall at LSTAR's ud2. Its registers are not the
				// guest's; let it reach the stub and stop there.
				if wanted || u.touchesPending() {
					u.setData(dStop, 1)
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
			if u.touchesPending() {
				// A shootdown: apply the touches before guest code runs on.
				if err := u.reenter(); err != nil {
					return platform.Event{}, err
				}
				loadTouches()
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
		if rip == lstarExitRIP && u.run.ioPort() == exitPort {
			// A guest syscall, straight from ring 3 (layout.go).
			u.ring0 = false
			if err := u.fastExit(regs); err != nil {
				return platform.Event{}, err
			}
			u.r3ctx = c
			return platform.Event{Kind: platform.EventSyscall}, nil
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
				// The data page holds the guest's state: load's, or reenter's.
				u.store(regs)
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
