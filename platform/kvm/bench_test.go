package kvm

import (
	"testing"

	"kvsentry/platform"
)

// runGetpidLoop answers n getpid calls of the guest loop codeGetpidLoop.
func runGetpidLoop(tb testing.TB, e *env, r *platform.Registers, n int) {
	for i := 0; i < n; i++ {
		ev, err := e.ctx.Switch(e.as, r)
		if err != nil || ev.Kind != platform.EventSyscall || r.Orig_rax != 39 {
			tb.Fatalf("event %+v orig_rax %d err %v", ev, r.Orig_rax, err)
		}
		r.Rax = 1
	}
}

// BenchmarkGetpidRoundTrip: one guest getpid, answered by the test, per op.
func BenchmarkGetpidRoundTrip(b *testing.B) {
	e := newEnv(b)
	r := e.regsAt(codeGetpidLoop)
	runGetpidLoop(b, e, r, 10)
	b.ResetTimer()
	runGetpidLoop(b, e, r, b.N)
}

// BenchmarkPageFault: per op, the guest stores to an unmapped page, the
// fault comes back, the page is mapped and the store retried; then the
// page is unmapped again (a touch on the next entry).
func BenchmarkPageFault(b *testing.B) {
	e := newEnv(b)
	// movabs $0x5000000,%rcx; mov %rax,(%rcx); mov $39,%eax; syscall; jmp to start
	code := []byte{0x48, 0xb9, 0, 0, 0, 0x05, 0, 0, 0, 0, 0x48, 0x89, 0x01, 0xb8, 0x27, 0, 0, 0, 0x0f, 0x05, 0xeb, 0xea}
	r := e.regsAt(code)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ev := e.switchTo(r)
		if ev.Kind != platform.EventFault {
			b.Fatalf("event %+v, want a fault", ev)
		}
		e.mustMap(0x5000000, 3, platform.ReadWrite)
		if ev := e.switchTo(r); ev.Kind != platform.EventSyscall {
			b.Fatalf("event %+v, want the syscall", ev)
		}
		if err := e.as.Unmap(0x5000000, pageSize); err != nil {
			b.Fatal(err)
		}
	}
}

func TestSwitchDoesNotAllocate(t *testing.T) {
	e := newEnv(t)
	r := e.regsAt(codeGetpidLoop)
	runGetpidLoop(t, e, r, 10)
	if a := testing.AllocsPerRun(100, func() { runGetpidLoop(t, e, r, 1) }); a != 0 {
		t.Errorf("Switch allocates %v times per round trip", a)
	}
}
