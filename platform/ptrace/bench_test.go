package ptrace

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

func TestSwitchDoesNotAllocate(t *testing.T) {
	e := newEnv(t)
	r := e.regsAt(codeGetpidLoop)
	runGetpidLoop(t, e, r, 10)
	if a := testing.AllocsPerRun(100, func() { runGetpidLoop(t, e, r, 1) }); a != 0 {
		t.Errorf("Switch allocates %v times per round trip", a)
	}
}

// BenchmarkGetpidRoundTrip: one guest getpid, answered by the test, per op.
func BenchmarkGetpidRoundTrip(b *testing.B) {
	for _, pin := range []bool{true, false} {
		name := "pinned"
		if !pin {
			name = "unpinned"
		}
		b.Run(name, func(b *testing.B) {
			old := pinTracers
			pinTracers = pin
			e := newEnv(b)
			pinTracers = old
			r := e.regsAt(codeGetpidLoop)
			b.ResetTimer()
			runGetpidLoop(b, e, r, b.N)
		})
	}
}

// BenchmarkMapFile: one MapFile of one page (replacing the previous one).
func BenchmarkMapFile(b *testing.B) {
	e := newEnv(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := e.as.MapFile(0x10000000, pageSize, uint64(i%8)*pageSize, platform.ReadWrite); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMapFilesPerPage: MapFiles batches of 32 single pages; ns/op is
// per page.
func BenchmarkMapFilesPerPage(b *testing.B) {
	e := newEnv(b)
	ms := make([]Mapping, 32)
	for i := range ms {
		ms[i] = Mapping{Addr: 0x10000000 + uint64(i)*2*pageSize, Length: pageSize, PoolOffset: uint64(i%8) * pageSize, Perms: platform.Read}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i += len(ms) {
		if err := e.as.MapFiles(ms); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNewAddressSpace: start, set up and release one stub.
func BenchmarkNewAddressSpace(b *testing.B) {
	e := newEnv(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		as, err := e.p.NewAddressSpace()
		if err != nil {
			b.Fatal(err)
		}
		as.Release()
	}
}
