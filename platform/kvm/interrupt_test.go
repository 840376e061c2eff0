package kvm

import (
	"encoding/binary"
	"testing"
	"time"

	"kvsentry/platform"
)

var (
	// 1: inc %rbx; mov %rbx,%r12; movq %rbx,%xmm3; mov $39,%eax; syscall; jmp 1b
	codeCountSyscall = []byte{0x48, 0xff, 0xc3, 0x49, 0x89, 0xdc, 0x66, 0x48, 0x0f, 0x6e, 0xdb,
		0xb8, 0x27, 0, 0, 0, 0x0f, 0x05, 0xeb, 0xec}
	// 1: inc %rbx; mov %rbx,%r12; movq %rbx,%xmm3; jmp 1b
	codeCountSpin = []byte{0x48, 0xff, 0xc3, 0x49, 0x89, 0xdc, 0x66, 0x48, 0x0f, 0x6e, 0xdb, 0xeb, 0xf3}
)

// checkCounter checks the invariants of the codeCount* loops at any
// instruction boundary: rip inside the loop, r12 and xmm3 equal to rbx or
// one behind, the untouched registers and the FP control words intact.
func checkCounter(t *testing.T, what string, r *platform.Registers, codeLen int) bool {
	t.Helper()
	const xmm3 = 160 + 3*16
	x := binary.LittleEndian.Uint64(r.FPState[xmm3:])
	fcw := binary.LittleEndian.Uint16(r.FPState[0:])
	mxcsr := binary.LittleEndian.Uint32(r.FPState[fxMXCSR:])
	ok := r.Rip >= codeAddr && r.Rip < codeAddr+uint64(codeLen) &&
		(r.R12 == r.Rbx || r.R12+1 == r.Rbx) && (x == r.Rbx || x+1 == r.Rbx || x+1 == r.R12 && r.R12+1 == r.Rbx) &&
		r.R13 == 0x1313 && r.R14 == 0x1414 && r.Rbp == 0xbbbb && r.Rsp == dataAddr+pageSize &&
		fcw == 0x37f && mxcsr == 0x1f80
	if !ok {
		t.Errorf("%s: rip %#x rbx %#x r12 %#x xmm3 %#x r13 %#x r14 %#x rbp %#x rsp %#x fcw %#x mxcsr %#x",
			what, r.Rip, r.Rbx, r.R12, x, r.R13, r.R14, r.Rbp, r.Rsp, fcw, mxcsr)
	}
	return ok
}

// TestInterruptKeepsState interrupts guest loops at random points, many
// times, and checks that the registers and the FP state that come back are
// the guest's (an interrupt that lands in the trampoline or the stub must
// not hand back the vCPU's scratch state).
func TestInterruptKeepsState(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		name string
		code []byte
	}{{"syscall loop", codeCountSyscall}, {"spin loop", codeCountSpin}} {
		r := e.regsAt(c.code)
		r.R13, r.R14, r.Rbp = 0x1313, 0x1414, 0xbbbb
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				select {
				case <-stop:
					return
				default:
				}
				e.ctx.Interrupt()
				time.Sleep(20 * time.Microsecond)
			}
		}()
		interrupts, syscalls := 0, 0
		deadline := time.Now().Add(400 * time.Millisecond)
		for time.Now().Before(deadline) && interrupts < 3000 {
			ev := e.switchTo(r)
			switch ev.Kind {
			case platform.EventSyscall:
				syscalls++
				if r.Orig_rax != 39 || r.Rip != codeAddr+18 {
					t.Errorf("%s: syscall %d at rip %#x", c.name, r.Orig_rax, r.Rip)
				}
				r.Rax = 1
			case platform.EventInterrupt:
				interrupts++
			default:
				t.Errorf("%s: event %+v at rip %#x", c.name, ev, r.Rip)
			}
			if !checkCounter(t, c.name, r, len(c.code)) {
				break
			}
		}
		close(stop)
		<-done
		if interrupts == 0 {
			t.Errorf("%s: no interrupts", c.name)
		}
		t.Logf("%s: %d interrupts, %d syscalls, counter %d", c.name, interrupts, syscalls, r.Rbx)
		if t.Failed() {
			return
		}
	}
}

// codeLoadSpin: 1: movabs $0x600000,%rcx; mov (%rcx),%rax; jmp 1b
var codeLoadSpin = []byte{0x48, 0xb9, 0, 0, 0x60, 0, 0, 0, 0, 0, 0x48, 0x8b, 0x01, 0xeb, 0xf1}

// TestUnmapShootsDown unmaps a page that a guest on a running vCPU keeps
// loading: once Unmap returns, the guest must fault on it (as after
// Linux's TLB shootdown), not go on through a stale TLB or shadow entry.
func TestUnmapShootsDown(t *testing.T) {
	e := newEnv(t)
	r := e.regsAt(codeLoadSpin)
	evs := make(chan platform.Event, 1)
	go func() {
		ev, err := e.ctx.Switch(e.as, r)
		if err != nil {
			t.Errorf("Switch: %v", err)
		}
		evs <- ev
	}()
	time.Sleep(20 * time.Millisecond) // the guest is spinning by now
	if err := e.as.Unmap(dataAddr, pageSize); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-evs:
		if ev.Kind != platform.EventFault || ev.Addr != dataAddr {
			t.Errorf("event %+v, want a fault at %#x", ev, dataAddr)
		}
	case <-time.After(time.Second):
		e.ctx.Interrupt()
		ev := <-evs
		t.Errorf("the guest still loads from the unmapped page a second after Unmap (then %+v)", ev)
	}
	// A downgrade to read-only is shot down too: a store loop faults.
	e.mustMap(dataAddr, 1, platform.ReadWrite)
	code := append([]byte(nil), codeLoadSpin...)
	code[11] = 0x89 // mov %rax,(%rcx)
	r = e.regsAt(code)
	go func() {
		ev, _ := e.ctx.Switch(e.as, r)
		evs <- ev
	}()
	time.Sleep(20 * time.Millisecond)
	e.mustMap(dataAddr, 1, platform.Read)
	select {
	case ev := <-evs:
		if ev.Kind != platform.EventFault || ev.Addr != dataAddr || ev.Code != segvAccErr {
			t.Errorf("event %+v, want a write fault at %#x", ev, dataAddr)
		}
	case <-time.After(time.Second):
		e.ctx.Interrupt()
		<-evs
		t.Errorf("the guest still stores to a page made read-only a second ago")
	}
}
