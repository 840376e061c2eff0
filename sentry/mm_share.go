package sentry

import "kvsentry/mm"

// mmGet records one more task using m (CLONE_VM). Address spaces are
// shared by the threads of a process and by a vfork child until it execs.
func (k *Kernel) mmGet(m *mm.MM) *mm.MM {
	k.mmMu.Lock()
	k.mmUsers[m]++
	k.mmMu.Unlock()
	return m
}

// mmPut drops a task's use of m; the last user releases it (mmput).
func (k *Kernel) mmPut(m *mm.MM) {
	if m == nil {
		return
	}
	k.mmMu.Lock()
	n := k.mmUsers[m] - 1
	if n <= 0 {
		delete(k.mmUsers, m)
	} else {
		k.mmUsers[m] = n
	}
	k.mmMu.Unlock()
	if n <= 0 {
		m.Release()
	}
}

// mmShared reports whether another task uses m too.
func (k *Kernel) mmShared(m *mm.MM) bool {
	k.mmMu.Lock()
	defer k.mmMu.Unlock()
	return k.mmUsers[m] > 1
}
