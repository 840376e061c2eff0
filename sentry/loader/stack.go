package loader

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// Auxiliary vector keys (include/uapi/linux/auxvec.h, arch/x86/include/uapi/asm/auxvec.h).
const (
	atNull        = 0
	atPhdr        = 3
	atPhent       = 4
	atPhnum       = 5
	atPagesz      = 6
	atBase        = 7
	atFlags       = 8
	atEntry       = 9
	atUID         = 11
	atEUID        = 12
	atGID         = 13
	atEGID        = 14
	atPlatform    = 15
	atHWCap       = 16
	atClkTck      = 17
	atSecure      = 23
	atRandom      = 25
	atHWCap2      = 26
	atExecFn      = 31
	atMinSigStkSz = 51
)

const (
	// platformName is ELF_PLATFORM on x86-64 (utsname machine).
	platformName = "x86_64"
	// maxArgStrlen is MAX_ARG_STRLEN (32 pages): the longest single string.
	maxArgStrlen = 32 * pageSize
	// argMax is ARG_MAX, the floor of the argument space limit.
	argMax = 131072
	// stkLim is _STK_LIM (8 MiB), whose 3/4 caps the argument space.
	stkLim = 8 << 20
	// defaultMinSigStkSz is used when Args.MinSigStkSz is 0.
	defaultMinSigStkSz = 2048
)

// argLimit checks the strings against the limits of bprm_stack_limits and
// copy_strings (fs/exec.c): each string at most MAX_ARG_STRLEN, and all of
// them plus one pointer per string within max(min(6 MiB, stack/4), ARG_MAX).
func argLimit(stackSize uint64, execfn string, argv, envv []string) error {
	limit := uint64(stkLim / 4 * 3)
	if q := stackSize / 4; q < limit {
		limit = q
	}
	if limit < argMax {
		limit = argMax
	}
	ptrs := uint64(max(len(argv), 1)+len(envv)) * 8
	if limit <= ptrs {
		return unix.E2BIG
	}
	limit -= ptrs
	total := uint64(0)
	for _, list := range [][]string{{execfn}, envv, argv} {
		for _, s := range list {
			n := uint64(len(s)) + 1
			if n > maxArgStrlen {
				return unix.E2BIG
			}
			total += n
			if total > limit {
				return unix.E2BIG
			}
		}
	}
	return nil
}

// stackParams is what create_elf_tables needs besides the strings.
type stackParams struct {
	execfn     string
	argv, envv []string
	random     [16]byte
	// auxv are the entries before AT_RANDOM's position is known; the
	// string/byte addresses are filled in by buildStack.
	hwcap, hwcap2, minSigStkSz uint64
	phdr, phnum, base, entry   uint64
	uid, euid, gid, egid       uint32
}

// stackImage is the initial stack content [sp, top).
type stackImage struct {
	sp                                 uint64
	bytes                              []byte
	auxv                               []uint64
	argStart, argEnd, envStart, envEnd uint64
}

// buildStack lays out the initial stack below top exactly as Linux does:
// copy_strings puts a pointer-sized zero at the very top, below it the
// execfn string (AT_EXECFN), the envp strings and the argv strings (argv[0]
// lowest); create_elf_tables then aligns down to 16, adds the platform
// string and the 16 AT_RANDOM bytes, and rounds the table area (argc,
// argv[], NULL, envp[], NULL, auxv) so that argc sits 16-byte aligned. low
// is the lowest usable address (the bottom of the stack mapping).
func buildStack(top, low uint64, sp stackParams) (*stackImage, error) {
	// The string area is filled downward from top; cur is the offset in
	// area of the lowest byte written so far.
	size := uint64(8 + len(sp.execfn) + 1 + 15 + len(platformName) + 1 + 16)
	for _, list := range [][]string{sp.argv, sp.envv} {
		for _, s := range list {
			size += uint64(len(s)) + 1
		}
	}
	if size > top-low {
		return nil, unix.E2BIG
	}
	area := make([]byte, size)
	cur := size
	push := func(b []byte) uint64 {
		cur -= uint64(len(b))
		copy(area[cur:], b)
		return top - (size - cur)
	}
	pushStr := func(s string) uint64 {
		cur--
		area[cur] = 0
		return push([]byte(s))
	}
	img := &stackImage{}

	push(make([]byte, 8))
	execfnAddr := pushStr(sp.execfn)
	img.envEnd = execfnAddr
	envp := make([]uint64, len(sp.envv))
	for i := len(sp.envv) - 1; i >= 0; i-- {
		envp[i] = pushStr(sp.envv[i])
	}
	img.envStart = top - (size - cur)
	img.argEnd = img.envStart
	argvp := make([]uint64, len(sp.argv))
	for i := len(sp.argv) - 1; i >= 0; i-- {
		argvp[i] = pushStr(sp.argv[i])
	}
	img.argStart = top - (size - cur)

	p := img.argStart &^ 15 // arch_align_stack without randomization
	if pad := img.argStart - p; pad > 0 {
		push(make([]byte, pad))
	}
	platformAddr := pushStr(platformName)
	randomAddr := push(sp.random[:])

	minSig := sp.minSigStkSz
	if minSig == 0 {
		minSig = defaultMinSigStkSz
	}
	// The order of create_elf_tables (ARCH_DLINFO first; no vDSO, so no
	// AT_SYSINFO_EHDR).
	img.auxv = []uint64{
		atMinSigStkSz, minSig,
		atHWCap, sp.hwcap,
		atPagesz, pageSize,
		atClkTck, 100,
		atPhdr, sp.phdr,
		atPhent, phdrSize,
		atPhnum, sp.phnum,
		atBase, sp.base,
		atFlags, 0,
		atEntry, sp.entry,
		atUID, uint64(sp.uid),
		atEUID, uint64(sp.euid),
		atGID, uint64(sp.gid),
		atEGID, uint64(sp.egid),
		atSecure, 0,
		atRandom, randomAddr,
		atHWCap2, sp.hwcap2,
		atExecFn, execfnAddr,
		atPlatform, platformAddr,
		atNull, 0,
	}
	items := uint64(len(sp.argv)+1+len(sp.envv)+1+1) + uint64(len(img.auxv))
	strBottom := randomAddr
	if strBottom-low < items*8+16 {
		return nil, unix.E2BIG
	}
	rsp := (strBottom - items*8) &^ 15
	table := make([]byte, strBottom-rsp)
	le := binary.LittleEndian
	w := 0
	put := func(v uint64) { le.PutUint64(table[w:], v); w += 8 }
	put(uint64(len(sp.argv)))
	for _, a := range argvp {
		put(a)
	}
	put(0)
	for _, e := range envp {
		put(e)
	}
	put(0)
	for _, v := range img.auxv {
		put(v)
	}
	img.sp = rsp
	img.bytes = append(table, area[cur:]...)
	return img, nil
}
