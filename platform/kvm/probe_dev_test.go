package kvm

import (
	"testing"

	"golang.org/x/sys/unix"
	"kvsentry/platform"
)

func TestProbeOnly(t *testing.T) {
	fd, _ := unix.MemfdCreate("p", 0)
	unix.Ftruncate(fd, 1<<20)
	p, err := New(platform.Options{PoolFD: fd})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ok mask %#x", le.Uint32(p.initFP[28:]))
}
