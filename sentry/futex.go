package sentry

import (
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"kvsentry/mm"
)

// futexWaiter is one task blocked in FUTEX_WAIT (Linux's futex_q).
type futexWaiter struct {
	key    mm.FutexKey
	bitset uint32
	// woken is closed when the waiter is woken; done is then set.
	woken chan struct{}
	done  bool
}

// futexTable is the kernel's futex hash: waiters queued per key, in
// arrival order.
type futexTable struct {
	mu sync.Mutex
	q  map[mm.FutexKey][]*futexWaiter
}

// removeLocked takes w off its queue. futexTable.mu must be held.
func (ft *futexTable) removeLocked(w *futexWaiter) {
	q := ft.q[w.key]
	for i, x := range q {
		if x == w {
			q = append(q[:i:i], q[i+1:]...)
			break
		}
	}
	if len(q) == 0 {
		delete(ft.q, w.key)
	} else {
		ft.q[w.key] = q
	}
}

// wakeLocked wakes up to n waiters on key whose bitset matches; it returns
// how many were woken. futexTable.mu must be held.
func (ft *futexTable) wakeLocked(key mm.FutexKey, n int, bitset uint32) int {
	woken := 0
	q := ft.q[key]
	kept := q[:0]
	for _, w := range q {
		if woken < n && w.bitset&bitset != 0 {
			w.done = true
			close(w.woken)
			woken++
			continue
		}
		kept = append(kept, w)
	}
	if len(kept) == 0 {
		delete(ft.q, key)
	} else {
		ft.q[key] = kept
	}
	return woken
}

// futexWait blocks while the word at addr holds val (futex_wait). deadline
// is absolute (zero: no timeout).
func (k *Kernel) futexWait(t *Task, addr uint64, private bool, val uint32, deadline time.Time, bitset uint32) error {
	key, err := t.mm.FutexKey(addr, private)
	if err != nil {
		return err
	}
	ft := &k.futexes
	ft.mu.Lock()
	cur, err := t.mm.Load32(addr)
	if err != nil {
		ft.mu.Unlock()
		return unix.EFAULT
	}
	if cur != val {
		ft.mu.Unlock()
		return unix.EAGAIN
	}
	w := &futexWaiter{key: key, bitset: bitset, woken: make(chan struct{})}
	if ft.q == nil {
		ft.q = map[mm.FutexKey][]*futexWaiter{}
	}
	ft.q[key] = append(ft.q[key], w)
	ft.mu.Unlock()

	var timeout <-chan time.Time
	if !deadline.IsZero() {
		tm := time.NewTimer(time.Until(deadline))
		defer tm.Stop()
		timeout = tm.C
	}
	var result error = errRestartSys
	intr, pending := t.waitChan()
	if !pending {
		select {
		case <-w.woken:
			return nil
		case <-timeout:
			result = unix.ETIMEDOUT
		case <-intr:
		}
	}
	ft.mu.Lock()
	if w.done {
		ft.mu.Unlock()
		return nil // woken just as the wait ended
	}
	ft.removeLocked(w)
	ft.mu.Unlock()
	if result == errRestartSys && !deadline.IsZero() {
		// Interrupted, a wait without a timeout restarts as the same
		// call (ERESTARTSYS); one with a deadline leaves a restart
		// (futex_wait_restart) that waits only for the time left.
		return t.setRestart(func(t *Task) (uint64, error) {
			t.clearRestart()
			return 0, k.futexWait(t, addr, private, val, deadline, bitset)
		})
	}
	return result
}

// futexWake wakes up to n waiters on the word at addr (futex_wake).
func (k *Kernel) futexWake(t *Task, addr uint64, private bool, n int, bitset uint32) (int, error) {
	key, err := t.mm.FutexKey(addr, private)
	if err != nil {
		return 0, err
	}
	ft := &k.futexes
	ft.mu.Lock()
	defer ft.mu.Unlock()
	return ft.wakeLocked(key, n, bitset), nil
}

// futexRequeue wakes nWake waiters on addr and moves up to nRequeue more to
// addr2 (futex_requeue); with cmp, the word at addr must hold val3.
func (k *Kernel) futexRequeue(t *Task, addr, addr2 uint64, private bool, nWake, nRequeue int, cmp bool, val3 uint32) (int, error) {
	key, err := t.mm.FutexKey(addr, private)
	if err != nil {
		return 0, err
	}
	key2, err := t.mm.FutexKey(addr2, private)
	if err != nil {
		return 0, err
	}
	ft := &k.futexes
	ft.mu.Lock()
	defer ft.mu.Unlock()
	if cmp {
		cur, err := t.mm.Load32(addr)
		if err != nil {
			return 0, unix.EFAULT
		}
		if cur != val3 {
			return 0, unix.EAGAIN
		}
	}
	woken := ft.wakeLocked(key, nWake, ^uint32(0))
	moved := 0
	if key == key2 {
		// Requeueing onto the same futex moves nothing but counts as
		// Linux's loop does.
		moved = min(nRequeue, len(ft.q[key]))
	} else {
		for moved < nRequeue && len(ft.q[key]) > 0 {
			w := ft.q[key][0]
			ft.removeLocked(w)
			w.key = key2
			ft.q[key2] = append(ft.q[key2], w)
			moved++
		}
	}
	return woken + moved, nil
}

// futexWakeOp implements FUTEX_WAKE_OP: atomically update the word at
// addr2, wake n waiters on addr, and n2 on addr2 if the old value of the
// word at addr2 passes the comparison encoded in op.
func (k *Kernel) futexWakeOp(t *Task, addr, addr2 uint64, private bool, n, n2 int, op uint32) (int, error) {
	key, err := t.mm.FutexKey(addr, private)
	if err != nil {
		return 0, err
	}
	key2, err := t.mm.FutexKey(addr2, private)
	if err != nil {
		return 0, err
	}
	kind := (op >> 28) & 7
	cmpKind := (op >> 24) & 15
	oparg := signExtend12((op >> 12) & 0xfff)
	cmparg := signExtend12(op & 0xfff)
	if op>>28&8 != 0 { // FUTEX_OP_OPARG_SHIFT
		if oparg < 0 || oparg > 31 {
			return 0, unix.EINVAL
		}
		oparg = 1 << uint(oparg)
	}
	if kind > 4 || cmpKind > 5 {
		return 0, unix.ENOSYS
	}
	ft := &k.futexes
	ft.mu.Lock()
	defer ft.mu.Unlock()
	old, err := t.mm.RMW32(addr2, func(v uint32) uint32 {
		a := uint32(oparg)
		switch kind {
		case 0:
			return a
		case 1:
			return v + a
		case 2:
			return v | a
		case 3:
			return v &^ a
		default:
			return v ^ a
		}
	})
	if err != nil {
		return 0, unix.EFAULT
	}
	woken := ft.wakeLocked(key, n, ^uint32(0))
	o := int32(old)
	pass := false
	switch cmpKind {
	case 0:
		pass = o == cmparg
	case 1:
		pass = o != cmparg
	case 2:
		pass = o < cmparg
	case 3:
		pass = o <= cmparg
	case 4:
		pass = o > cmparg
	case 5:
		pass = o >= cmparg
	}
	if pass {
		woken += ft.wakeLocked(key2, n2, ^uint32(0))
	}
	return woken, nil
}

// signExtend12 sign-extends a 12-bit field (sign_extend32(x, 11)).
func signExtend12(x uint32) int32 { return int32(x<<20) >> 20 }

// Robust futex word bits (include/uapi/linux/futex.h).
const (
	futexWaiters   = 0x80000000
	futexOwnerDied = 0x40000000
	futexTIDMask   = 0x3fffffff
	robustLimit    = 2048
)

// exitRobustList releases the robust futexes a dying thread holds
// (exit_robust_list): each gets FUTEX_OWNER_DIED and one waiter is woken.
func (t *Task) exitRobustList() {
	head := t.robustList
	t.robustList = 0
	if head == 0 || t.mm == nil {
		return
	}
	next, err := t.copyInUint64(head)
	if err != nil {
		return
	}
	off, err := t.copyInUint64(head + 8)
	if err != nil {
		return
	}
	pending, err := t.copyInUint64(head + 16)
	if err != nil {
		return
	}
	entry := next &^ 1
	for i := 0; entry != head && i < robustLimit; i++ {
		n, err := t.copyInUint64(entry)
		if err != nil {
			break
		}
		if entry != pending&^1 {
			t.futexDeath(entry + off)
		}
		entry = n &^ 1
	}
	if pending&^1 != 0 {
		t.futexDeath(pending&^1 + off)
	}
}

// futexDeath marks one robust futex whose owner died (handle_futex_death).
func (t *Task) futexDeath(addr uint64) {
	owned := false
	old, err := t.mm.RMW32(addr, func(v uint32) uint32 {
		if v&futexTIDMask != uint32(t.tid) {
			owned = false
			return v
		}
		owned = true
		return v&futexWaiters | futexOwnerDied
	})
	if err != nil || !owned {
		return
	}
	if old&futexWaiters != 0 {
		t.k.futexWake(t, addr, false, 1, ^uint32(0))
	}
}
