package mm

import (
	"testing"

	"kvsentry/platform"
)

// withCOWFork makes Fork share every private page copy-on-write for the
// duration of a test.
func withCOWFork(t *testing.T) {
	old := eagerForkPages
	eagerForkPages = 0
	t.Cleanup(func() { eagerForkPages = old })
}

func TestForkEagerCopy(t *testing.T) {
	m, as, _ := newTestMM(t)
	a := mustMmap(t, m, anonOpts(0x400000, 8*PageSize, platform.ReadWrite))
	if _, err := m.CopyOut(a, []byte("parent")); err != nil {
		t.Fatal(err)
	}
	if err := m.HandleFault(a, platform.Write); err != nil {
		t.Fatal(err)
	}
	n := len(as.maps)
	c, err := m.Fork()
	if err != nil {
		t.Fatal(err)
	}
	if len(as.maps) != n || len(as.unmaps) != 0 {
		t.Fatalf("small fork touched the parent's mappings: %+v %+v", as.maps[n:], as.unmaps)
	}
	cas := newFakeAS()
	c.SetAddressSpace(cas)
	c.Prefault(nil, 1000, false)
	if len(cas.maps) == 0 || cas.maps[0].perms != platform.ReadWrite {
		t.Fatalf("child's copied pages not mapped writable: %+v", cas.maps)
	}
	if _, err := c.CopyOut(a, []byte("child!")); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 6)
	m.CopyIn(a, b)
	if string(b) != "parent" {
		t.Fatalf("parent sees %q after the child's write", b)
	}
	c.CopyIn(a, b)
	if string(b) != "child!" {
		t.Fatalf("child sees %q", b)
	}
	c.Release()
	checkInvariants(t, m)
}
