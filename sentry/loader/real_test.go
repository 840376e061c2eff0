package loader

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"debug/elf"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

const alpineTarball = "/work/shared/rootfs/alpine-minirootfs-3.20.3-x86_64.tar.gz"

// checkAgainstDebugELF cross-checks a load of the trusted binary img (at
// bias) with Go's debug/elf: every PT_LOAD's file bytes are visible at
// bias+p_vaddr, a writable segment's bss reads as zero, and AT_PHDR points
// at a copy of the program headers.
func checkAgainstDebugELF(t *testing.T, mem *fakeMem, img []byte, bias uint64, res *Result, isMain bool) {
	t.Helper()
	ef, err := elf.NewFile(bytes.NewReader(img))
	if err != nil {
		t.Fatal(err)
	}
	sample := func(start, n uint64) [][2]uint64 {
		if n <= 3*512 {
			return [][2]uint64{{start, n}}
		}
		return [][2]uint64{{start, 512}, {start + n/2, 512}, {start + n - 512, 512}}
	}
	for _, p := range ef.Progs {
		if p.Type != elf.PT_LOAD {
			continue
		}
		for _, r := range sample(0, p.Filesz) {
			got, ok := mem.read(bias+p.Vaddr+r[0], int(r[1]))
			if !ok || !bytes.Equal(got, img[p.Off+r[0]:p.Off+r[0]+r[1]]) {
				t.Errorf("segment vaddr %#x: bytes at +%#x differ from the file", p.Vaddr, r[0])
			}
		}
		if p.Memsz > p.Filesz && p.Flags&elf.PF_W != 0 {
			for _, r := range sample(p.Filesz, p.Memsz-p.Filesz) {
				got, ok := mem.read(bias+p.Vaddr+r[0], int(r[1]))
				if !ok || !bytes.Equal(got, make([]byte, r[1])) {
					t.Errorf("bss of segment vaddr %#x at +%#x not zero", p.Vaddr, r[0])
				}
			}
		}
	}
	if !isMain {
		return
	}
	phoff := binaryLE(img[32:40])
	n := int(ef.FileHeader.ByteOrder.Uint16(img[56:58])) * 56
	got, ok := mem.read(res.Phdr, n)
	if !ok || !bytes.Equal(got, img[phoff:phoff+uint64(n)]) {
		t.Errorf("AT_PHDR %#x does not point at the program headers", res.Phdr)
	}
	if res.ProgEntry != bias+ef.Entry {
		t.Errorf("AT_ENTRY %#x, want %#x", res.ProgEntry, bias+ef.Entry)
	}
}

func binaryLE(b []byte) uint64 {
	var v uint64
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

func TestRealStaticMusl(t *testing.T) {
	cc, err := exec.LookPath("musl-gcc")
	if err != nil {
		t.Skip("musl-gcc not installed")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "hello.c")
	if err := os.WriteFile(src, []byte("#include <stdio.h>\nint x[5000];\nint main(){puts(\"hi\");return x[1];}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "hello")
	if out, err := exec.Command(cc, "-static", "-O1", "-o", bin, src).CombinedOutput(); err != nil {
		t.Skipf("musl-gcc -static failed: %v\n%s", err, out)
	}
	img, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	a := testArgs("/hello", "hello")
	res, mem := mustLoad(t, map[string][]byte{"/hello": img}, a)
	checkAgainstDebugELF(t, mem, img, 0, res, true)
	if res.Base != 0 || res.Entry != res.ProgEntry {
		t.Errorf("static binary: base %#x entry %#x progEntry %#x", res.Base, res.Entry, res.ProgEntry)
	}
}

// alpineFiles extracts the named regular files from the Alpine minirootfs.
func alpineFiles(t *testing.T, names ...string) map[string][]byte {
	t.Helper()
	f, err := os.Open(alpineTarball)
	if err != nil {
		t.Skipf("Alpine minirootfs not available: %v", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, n := range names {
		want["."+n] = true
	}
	out := map[string][]byte{}
	tr := tar.NewReader(zr)
	for len(out) < len(names) {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("tar: %v (found %d of %v)", err, len(out), names)
		}
		if want[h.Name] && h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			out[h.Name[1:]] = b
		}
	}
	return out
}

func TestRealAlpineBusybox(t *testing.T) {
	const ld = "/lib/ld-musl-x86_64.so.1"
	files := alpineFiles(t, "/bin/busybox", ld)
	files["/bin/sh-script"] = []byte("#!/bin/busybox sh\necho hi\n")
	a := testArgs("/bin/busybox", "sh", "-c", "true")
	res, mem := mustLoad(t, files, a)
	checkAgainstDebugELF(t, mem, files["/bin/busybox"], a.ExecBase, res, true)
	checkAgainstDebugELF(t, mem, files[ld], res.Base, res, false)
	ldELF, err := elf.NewFile(bytes.NewReader(files[ld]))
	if err != nil {
		t.Fatal(err)
	}
	if res.Base == 0 || res.Entry != res.Base+ldELF.Entry || res.Base >= a.MmapBase || res.Base+0x100000 < a.MmapBase {
		t.Errorf("base %#x entry %#x", res.Base, res.Entry)
	}
	if res.BrkStart <= a.ExecBase || res.BrkStart%pageSize != 0 {
		t.Errorf("brk %#x", res.BrkStart)
	}
	// musl's dynamic linker also runs as a program (static-PIE-like ET_DYN).
	res, mem = mustLoad(t, files, testArgs(ld, "ldd", "/bin/busybox"))
	checkAgainstDebugELF(t, mem, files[ld], a.ExecBase, res, true)
	if res.Base != 0 || res.Entry != a.ExecBase+ldELF.Entry {
		t.Errorf("ld.so as program: base %#x entry %#x", res.Base, res.Entry)
	}
	// And through a script.
	res, _ = mustLoad(t, files, testArgs("/bin/sh-script", "x"))
	if res.ExePath != "/root/bin/busybox" || len(res.Argv) != 3 || res.Argv[1] != "sh" {
		t.Errorf("script via busybox: exe %q argv %q", res.ExePath, res.Argv)
	}
}
