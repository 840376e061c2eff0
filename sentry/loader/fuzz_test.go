package loader

import (
	"testing"

	"golang.org/x/sys/unix"
)

// FuzzParseELF feeds arbitrary bytes to ParseELF: it must return an errno or
// a consistent ELFInfo, never panic. Run with
// go test -run=^$ -fuzz=FuzzParseELF -fuzztime=20s -fuzzminimizetime=50x ./sentry/loader
// (the default minimisation of the 9 KB seeds stalls the fuzzer for minutes).
func FuzzParseELF(f *testing.F) {
	f.Add(buildELF(goodSpec()))
	s := goodSpec()
	interp := []byte("/lib/ld.so\x00")
	s.segs = append(s.segs, seg{typ: 3, off: 0x200, filesz: uint64(len(interp)), memsz: uint64(len(interp)), data: interp},
		seg{typ: 6, off: 64, vaddr: 0x400040, filesz: 4 * 56, memsz: 4 * 56})
	f.Add(buildELF(s))
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	f.Add([]byte("#!/bin/sh\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := ParseELF(&memFile{data: data})
		if err != nil {
			if _, ok := err.(unix.Errno); !ok {
				t.Fatalf("non-errno error %T %v", err, err)
			}
			return
		}
		if len(info.Loads) == 0 || info.Start >= info.End || info.End > taskSize {
			t.Fatalf("inconsistent info %+v", info)
		}
		for _, p := range info.Loads {
			if p.Filesz > p.Memsz || p.Vaddr+p.Memsz > taskSize {
				t.Fatalf("bad load accepted %+v", p)
			}
			if p.Filesz > 0 && (p.Off+p.Filesz > uint64(len(data)) || p.Off%pageSize != p.Vaddr%pageSize) {
				t.Fatalf("bad load accepted %+v", p)
			}
		}
		// Loading what parsed must not panic either.
		mem := newFakeMem()
		op := &fakeOpener{files: map[string]*memFile{"/x": {data: data}, info.Interp: {data: data}}}
		_, _ = Load(mem, op, testArgs("/x", "x"))
	})
}
