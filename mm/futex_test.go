package mm

import (
	"testing"

	"golang.org/x/sys/unix"

	"kvsentry/platform"
)

func TestFutexKeysAndAtomics(t *testing.T) {
	pool, err := NewPool(64 << 20)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	m := New(pool, 1<<46)
	priv, err := m.Mmap(MmapOpts{Length: PageSize, Perms: platform.ReadWrite, Private: true})
	if err != nil {
		t.Fatal(err)
	}
	shared, err := m.Mmap(MmapOpts{Length: PageSize, Perms: platform.ReadWrite})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.FutexKey(priv+2, true); err != unix.EINVAL {
		t.Errorf("unaligned key: %v", err)
	}
	if _, err := m.FutexKey(0x1000, false); err != unix.EFAULT {
		t.Errorf("unmapped shared key: %v", err)
	}
	if _, err := m.FutexKey(0x1000, true); err != nil {
		t.Errorf("unmapped private key: %v (Linux computes it without a mapping)", err)
	}
	child, err := m.Fork()
	if err != nil {
		t.Fatal(err)
	}
	k1, _ := m.FutexKey(shared+8, false)
	k2, _ := child.FutexKey(shared+8, false)
	if k1 != k2 {
		t.Errorf("shared futex keys differ across fork: %v %v", k1, k2)
	}
	p1, _ := m.FutexKey(priv, false)
	p2, _ := child.FutexKey(priv, false)
	if p1 == p2 {
		t.Errorf("private mapping keys equal across fork")
	}
	old, err := m.RMW32(shared+8, func(v uint32) uint32 { return v + 5 })
	if err != nil || old != 0 {
		t.Fatalf("RMW32 = %d, %v", old, err)
	}
	if v, _ := child.Load32(shared + 8); v != 5 {
		t.Errorf("child sees %d in shared memory, want 5", v)
	}
	if _, err := child.RMW32(priv, func(v uint32) uint32 { return 9 }); err != nil {
		t.Fatal(err)
	}
	if v, _ := m.Load32(priv); v != 0 {
		t.Errorf("parent sees child's private write: %d", v)
	}
	ro, _ := m.Mmap(MmapOpts{Length: PageSize, Perms: platform.Read, Private: true})
	if _, err := m.RMW32(ro, func(v uint32) uint32 { return 1 }); err != unix.EFAULT {
		t.Errorf("RMW32 on read-only page: %v", err)
	}
}
