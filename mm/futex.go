package mm

import (
	"golang.org/x/sys/unix"
)

// FutexKey identifies a futex word as Linux's get_futex_key does: a word in
// a MAP_SHARED anonymous area is keyed by the shared object and offset, so
// processes mapping it meet on the same key; any other word (private
// futexes, private mappings) is keyed by the address space and address.
type FutexKey struct {
	// Obj is the *MM (private) or the shared object (shared).
	Obj  any
	Addr uint64
}

// FutexKey returns the key of the 32-bit word at addr. private selects
// FUTEX_PRIVATE_FLAG keys. EINVAL if addr is not 4-byte aligned, EFAULT if it
// is not mapped.
func (m *MM) FutexKey(addr uint64, private bool) (FutexKey, error) {
	if addr%4 != 0 {
		return FutexKey{}, unix.EINVAL
	}
	if addr >= m.maxAddr {
		return FutexKey{}, unix.EFAULT // !access_ok
	}
	if private {
		// A private key needs no mapping (get_futex_key with !fshared).
		return FutexKey{Obj: m, Addr: addr}, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	v := m.vmas.find(addr)
	if v == nil {
		return FutexKey{}, unix.EFAULT
	}
	if v.shm != nil {
		return FutexKey{Obj: v.shm, Addr: v.offsetOf(addr)}, nil
	}
	return FutexKey{Obj: m, Addr: addr}, nil
}

// Load32 reads the aligned 32-bit word at addr atomically.
func (m *MM) Load32(addr uint64) (uint32, error) {
	if addr%4 != 0 {
		return 0, unix.EINVAL
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	off, err := m.pageFor(addr, false, false)
	if err != nil {
		return 0, err
	}
	return atomicLoad32(m.pool.Bytes(off, 4)), nil
}

// RMW32 atomically replaces the aligned 32-bit word at addr with fn(old) and
// returns old (Linux's futex_atomic_op_inuser / cmpxchg on user memory). The
// word must be writable; copy-on-write is broken first.
func (m *MM) RMW32(addr uint64, fn func(old uint32) uint32) (uint32, error) {
	if addr%4 != 0 {
		return 0, unix.EINVAL
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	off, err := m.pageFor(addr, true, false)
	if err != nil {
		return 0, err
	}
	b := m.pool.Bytes(off, 4)
	for {
		old := atomicLoad32(b)
		if atomicCAS32(b, old, fn(old)) {
			return old, nil
		}
	}
}
