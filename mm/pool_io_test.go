package mm

import (
	"bytes"
	"testing"

	"golang.org/x/sys/unix"
)

func TestPoolReadWriteAt(t *testing.T) {
	p, err := NewPool(64 * PageSize)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	off, err := p.Alloc(2)
	if err != nil {
		t.Fatal(err)
	}
	src := make([]byte, 3*PageSize+17)
	for i := range src {
		src[i] = byte(i*7 + 1)
	}
	if err := p.WriteAt(src, off+100); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p.Bytes(off+100, uint64(len(src))), src) {
		t.Fatal("WriteAt not visible through the pool mapping")
	}
	got := make([]byte, len(src))
	if err := p.ReadAt(got, off+100); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, src) {
		t.Fatal("ReadAt differs from what WriteAt stored")
	}
	if err := p.ZeroAt(off+50, PageSize+200); err != nil {
		t.Fatal(err)
	}
	if err := p.ReadAt(got[:PageSize+300], off); err != nil {
		t.Fatal(err)
	}
	for i := 50; i < PageSize+250; i++ {
		if got[i] != 0 {
			t.Fatalf("byte %d not zeroed: %d", i, got[i])
		}
	}
	if got[PageSize+250] != src[PageSize+150] {
		t.Fatal("ZeroAt cleared past its range")
	}
	if err := p.ReadAt(make([]byte, 2*PageSize), p.Size()-PageSize); err != unix.EINVAL {
		t.Fatalf("read past the pool: %v, want EINVAL", err)
	}
	if err := p.WriteAt(make([]byte, 1), ^uint64(0)); err != unix.EINVAL {
		t.Fatalf("write at wrapping offset: %v, want EINVAL", err)
	}
}
