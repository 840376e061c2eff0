package ptrace

import (
	"testing"
	"time"

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

// BenchmarkNewAddressSpace: "warm" times NewAddressSpace alone, the
// caller's path with a stub waiting in the pool (Release and the refill run
// with the timer stopped); "sustained" creates and releases address spaces
// back to back, so the pool is empty and the cost is that of starting stubs.
func BenchmarkNewAddressSpace(b *testing.B) {
	e := newEnv(b)
	b.Run("warm", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			for len(e.p.pool.ready) < readyStubs {
				time.Sleep(50 * time.Microsecond)
			}
			b.StartTimer()
			as, err := e.p.NewAddressSpace()
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			as.Release()
		}
	})
	b.Run("sustained", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			as, err := e.p.NewAddressSpace()
			if err != nil {
				b.Fatal(err)
			}
			as.Release()
		}
	})
}

// BenchmarkRelease: Release of an address space with one stub thread.
func BenchmarkRelease(b *testing.B) {
	e := newEnv(b)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		as, err := e.p.NewAddressSpace()
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		as.Release()
	}
}

// BenchmarkNewThread: a second thread's first use of an address space
// (Unmap), on the thread's side: "spare" adopts the parked spare thread
// (the server's clone of the next one and Context.Release run with the
// timer stopped); "clone" has no spare and waits for the server's clone.
func BenchmarkNewThread(b *testing.B) {
	e := newEnv(b)
	lt := newLockedThread(b, e.p, true)
	for _, spare := range []bool{true, false} {
		name := map[bool]string{true: "spare", false: "clone"}[spare]
		b.Run(name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				for {
					e.as.mu.Lock()
					if !spare {
						e.as.spares = nil
					}
					n := len(e.as.spares)
					e.as.mu.Unlock()
					if n > 0 || !spare {
						break
					}
					time.Sleep(50 * time.Microsecond)
				}
				var err error
				lt.do(func() {
					b.StartTimer()
					err = e.as.Unmap(0x10000000, pageSize)
					b.StopTimer()
					lt.ctx.Release()
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
