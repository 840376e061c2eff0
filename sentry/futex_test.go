package sentry

import (
	"testing"

	"kvsentry/mm"
)

func TestFutexTableWakeAndRequeue(t *testing.T) {
	var ft futexTable
	ft.q = map[mm.FutexKey][]*futexWaiter{}
	a := mm.FutexKey{Obj: 1, Addr: 0x1000}
	b := mm.FutexKey{Obj: 1, Addr: 0x2000}
	var ws []*futexWaiter
	for i := 0; i < 5; i++ {
		w := &futexWaiter{key: a, bitset: 1 << uint(i%2), woken: make(chan struct{})}
		ft.q[a] = append(ft.q[a], w)
		ws = append(ws, w)
	}
	ft.mu.Lock()
	if n := ft.wakeLocked(a, 10, 2); n != 2 {
		t.Errorf("bitset wake woke %d, want 2", n)
	}
	if !ws[1].done || !ws[3].done || ws[0].done {
		t.Error("wrong waiters woken by bitset")
	}
	// Requeue the remaining three (bitset 1) to b, one at a time.
	for len(ft.q[a]) > 0 {
		w := ft.q[a][0]
		ft.removeLocked(w)
		w.key = b
		ft.q[b] = append(ft.q[b], w)
	}
	if n := ft.wakeLocked(a, 10, ^uint32(0)); n != 0 {
		t.Errorf("woke %d on an emptied key", n)
	}
	if n := ft.wakeLocked(b, 2, ^uint32(0)); n != 2 || !ws[0].done || !ws[2].done || ws[4].done {
		t.Errorf("requeued waiters woken out of order (%d)", n)
	}
	ft.mu.Unlock()
	select {
	case <-ws[4].woken:
		t.Error("unwoken waiter's channel closed")
	default:
	}
	if signExtend12(0xfff) != -1 || signExtend12(0x7ff) != 2047 {
		t.Error("signExtend12")
	}
}
