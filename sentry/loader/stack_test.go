package loader

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// decodedStack is the initial stack as a program's _start sees it.
type decodedStack struct {
	argv, envv []string
	argvp      []uint64
	auxv       [][2]uint64
	end        uint64 // address after AT_NULL
}

func decodeStack(t *testing.T, mem *fakeMem, sp uint64) decodedStack {
	t.Helper()
	var d decodedStack
	argc := mem.u64(t, sp)
	p := sp + 8
	for i := uint64(0); i < argc; i++ {
		a := mem.u64(t, p)
		d.argvp = append(d.argvp, a)
		d.argv = append(d.argv, mem.cstring(t, a))
		p += 8
	}
	if v := mem.u64(t, p); v != 0 {
		t.Fatalf("argv[argc] = %#x, want NULL", v)
	}
	p += 8
	for {
		e := mem.u64(t, p)
		p += 8
		if e == 0 {
			break
		}
		d.envv = append(d.envv, mem.cstring(t, e))
	}
	for {
		k, v := mem.u64(t, p), mem.u64(t, p+8)
		p += 16
		d.auxv = append(d.auxv, [2]uint64{k, v})
		if k == atNull {
			break
		}
	}
	d.end = p
	return d
}

func TestInitialStack(t *testing.T) {
	img := buildELF(goodSpec())
	// Vary string lengths so every alignment path is taken.
	for pad := 0; pad < 17; pad++ {
		t.Run(fmt.Sprint(pad), func(t *testing.T) {
			a := testArgs("/bin/prog", "prog"+strings.Repeat("x", pad), "", "arg two")
			a.Envv = append(a.Envv, strings.Repeat("E", pad))
			a.MinSigStkSz = 3632
			res, mem := mustLoad(t, map[string][]byte{"/bin/prog": img}, a)
			if res.Stack%16 != 0 {
				t.Errorf("rsp %#x not 16-byte aligned", res.Stack)
			}
			if mem.copyOuts != 1 {
				t.Errorf("%d CopyOut calls", mem.copyOuts)
			}
			d := decodeStack(t, mem, res.Stack)
			if fmt.Sprint(d.argv) != fmt.Sprint(a.Argv) || fmt.Sprint(d.envv) != fmt.Sprint(a.Envv) {
				t.Errorf("argv %q envv %q", d.argv, d.envv)
			}
			// The top 8 bytes are zero and AT_EXECFN ends right below them.
			if top, ok := mem.read(a.StackTop-8, 8); !ok || !bytes.Equal(top, make([]byte, 8)) {
				t.Errorf("top 8 bytes %x", top)
			}
			execfn := a.StackTop - 8 - uint64(len(a.Path)+1)
			// argv strings lie contiguously below envp strings, argv[0] lowest.
			if d.argvp[0] != res.ArgStart || res.ArgEnd != res.EnvStart || res.EnvEnd != execfn {
				t.Errorf("arg [%#x,%#x) env [%#x,%#x) execfn %#x argv0 %#x",
					res.ArgStart, res.ArgEnd, res.EnvStart, res.EnvEnd, execfn, d.argvp[0])
			}
			if d.argvp[1] != d.argvp[0]+uint64(len(a.Argv[0])+1) {
				t.Errorf("argv strings not contiguous")
			}
			random := (res.ArgStart&^15 - 7) - 16
			want := map[uint64]uint64{
				atMinSigStkSz: 3632, atHWCap: a.HWCap, atPagesz: 4096, atClkTck: 100,
				atPhdr: 0x400040, atPhent: 56, atPhnum: 3, atBase: 0, atFlags: 0,
				atEntry: 0x401000, atUID: 1000, atEUID: 1001, atGID: 2000, atEGID: 2001,
				atSecure: 0, atRandom: random, atHWCap2: 2, atExecFn: execfn,
				atPlatform: random + 16, atNull: 0,
			}
			wantOrder := []uint64{atMinSigStkSz, atHWCap, atPagesz, atClkTck, atPhdr, atPhent,
				atPhnum, atBase, atFlags, atEntry, atUID, atEUID, atGID, atEGID, atSecure,
				atRandom, atHWCap2, atExecFn, atPlatform, atNull}
			if len(d.auxv) != len(wantOrder) {
				t.Fatalf("auxv %v", d.auxv)
			}
			for i, kv := range d.auxv {
				if kv[0] != wantOrder[i] || kv[1] != want[kv[0]] {
					t.Errorf("auxv[%d] = %d:%#x, want %d:%#x", i, kv[0], kv[1], wantOrder[i], want[wantOrder[i]])
				}
				if res.Auxv[2*i] != kv[0] || res.Auxv[2*i+1] != kv[1] {
					t.Errorf("Result.Auxv[%d] differs from the stack", i)
				}
			}
			if b, _ := mem.read(random, 16); !bytes.Equal(b, a.Random[:]) {
				t.Errorf("AT_RANDOM bytes %x", b)
			}
			if s := mem.cstring(t, random+16); s != "x86_64" {
				t.Errorf("AT_PLATFORM %q", s)
			}
			if s := mem.cstring(t, execfn); s != a.Path {
				t.Errorf("AT_EXECFN %q", s)
			}
			// The table ends at most 15 bytes below AT_RANDOM.
			if d.end > random || random-d.end > 15 {
				t.Errorf("auxv ends at %#x, random at %#x", d.end, random)
			}
		})
	}
}

func TestStackEmptyArgv(t *testing.T) {
	a := testArgs("/p")
	a.Envv = nil
	res, mem := mustLoad(t, map[string][]byte{"/p": buildELF(goodSpec())}, a)
	d := decodeStack(t, mem, res.Stack)
	if len(d.argv) != 1 || d.argv[0] != "" || len(d.envv) != 0 {
		t.Errorf("argv %q envv %q", d.argv, d.envv)
	}
	if len(res.Argv) != 1 || res.Argv[0] != "" {
		t.Errorf("Result.Argv %q", res.Argv)
	}
}

func TestArgLimit(t *testing.T) {
	if err := argLimit(8<<20, "/p", []string{"a"}, nil); err != nil {
		t.Error(err)
	}
	// A 16 KiB stack still allows ARG_MAX worth of strings by Linux's
	// rule, but they cannot fit in the mapping: buildStack says E2BIG.
	if err := argLimit(16<<10, "/p", []string{strings.Repeat("a", 20000)}, nil); err != nil {
		t.Error(err)
	}
	if _, err := buildStack(0x100000, 0x100000-16<<10, stackParams{execfn: "/p", argv: []string{strings.Repeat("a", 20000)}}); err == nil {
		t.Error("buildStack overflowed the stack mapping without error")
	}
	if _, err := buildStack(0x100000, 0x100000-16<<10, stackParams{execfn: "/p", argv: []string{strings.Repeat("a", 16000)}}); err == nil {
		t.Error("table below the stack bottom accepted")
	}
}
