package sentry

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// straceCall is a syscall being traced: what was decoded at entry.
type straceCall struct {
	nr   int
	args []string
	// outArg is the index of an output buffer argument decoded at exit, or -1.
	outArg int
	outPtr uint64
}

// straceMaxString is how many bytes of a buffer --strace shows (as strace -s 32).
const straceMaxString = 32

// straceEnter decodes the arguments of a syscall as it starts.
func (t *Task) straceEnter(nr int, e *sysEntry, a *sysArgs) *straceCall {
	st := &straceCall{nr: nr, outArg: -1}
	kinds := "xxxxxx"
	if e != nil && e.args != "" {
		kinds = e.args
	}
	for i, k := range kinds {
		v := a[i]
		switch k {
		case 'd':
			st.args = append(st.args, strconv.FormatInt(int64(v), 10))
		case 'i':
			st.args = append(st.args, strconv.FormatInt(int64(int32(v)), 10))
		case 'f':
			fd := int32(v)
			if fd == unix.AT_FDCWD {
				st.args = append(st.args, "AT_FDCWD")
			} else {
				st.args = append(st.args, strconv.Itoa(int(fd)))
			}
		case 'm':
			st.args = append(st.args, "0"+strconv.FormatUint(v, 8))
		case 's':
			s, err := t.mm.CopyInString(v, 4096)
			if err != nil {
				st.args = append(st.args, fmt.Sprintf("%#x", v))
			} else {
				st.args = append(st.args, quoteBytes([]byte(s), len(s)))
			}
		case 'b':
			n := int(a[i+1])
			st.args = append(st.args, t.straceBuf(v, n))
		case 'o':
			st.outArg, st.outPtr = len(st.args), v
			st.args = append(st.args, "")
		case 'v':
			st.args = append(st.args, t.straceStrings(v))
		case 'p':
			if v == 0 {
				st.args = append(st.args, "NULL")
			} else {
				st.args = append(st.args, fmt.Sprintf("%#x", v))
			}
		default:
			st.args = append(st.args, fmt.Sprintf("%#x", v))
		}
	}
	return st
}

// straceBuf renders up to straceMaxString bytes of guest memory at addr.
func (t *Task) straceBuf(addr uint64, n int) string {
	if n < 0 {
		n = 0
	}
	show := n
	if show > straceMaxString {
		show = straceMaxString
	}
	buf := make([]byte, show)
	if _, err := t.mm.CopyIn(addr, buf); err != nil {
		return fmt.Sprintf("%#x", addr)
	}
	return quoteBytes(buf, n)
}

// straceStrings renders a NULL-terminated array of strings (argv, envp).
func (t *Task) straceStrings(addr uint64) string {
	if addr == 0 {
		return "NULL"
	}
	var parts []string
	for i := 0; i < 32; i++ {
		var p [8]byte
		if _, err := t.mm.CopyIn(addr+uint64(8*i), p[:]); err != nil {
			return fmt.Sprintf("%#x", addr)
		}
		ptr := leUint64(p[:])
		if ptr == 0 {
			return "[" + strings.Join(parts, ", ") + "]"
		}
		s, err := t.mm.CopyInString(ptr, 4096)
		if err != nil {
			s = "?"
		}
		parts = append(parts, quoteBytes([]byte(s), len(s)))
	}
	return "[" + strings.Join(parts, ", ") + ", ...]"
}

// quoteBytes renders b as strace does: a C string literal, with "..." when
// the full length n was longer than what is shown.
func quoteBytes(b []byte, n int) string {
	var sb strings.Builder
	sb.WriteByte('"')
	for _, c := range b {
		switch {
		case c == '"' || c == '\\':
			sb.WriteByte('\\')
			sb.WriteByte(c)
		case c == '\n':
			sb.WriteString(`\n`)
		case c == '\t':
			sb.WriteString(`\t`)
		case c >= 0x20 && c < 0x7f:
			sb.WriteByte(c)
		default:
			fmt.Fprintf(&sb, `\%o`, c)
		}
	}
	sb.WriteByte('"')
	if n > len(b) {
		sb.WriteString("...")
	}
	return sb.String()
}

// straceExit prints the traced call with its result.
func (t *Task) straceExit(st *straceCall, ret uint64, err error, noReturn bool) {
	if st.outArg >= 0 {
		if err == nil && !noReturn && int64(ret) >= 0 {
			st.args[st.outArg] = t.straceBuf(st.outPtr, int(ret))
		} else {
			st.args[st.outArg] = fmt.Sprintf("%#x", st.outPtr)
		}
	}
	var res string
	switch {
	case noReturn:
		res = "?"
	case err != nil:
		errno, _ := err.(unix.Errno)
		res = fmt.Sprintf("-1 %s (%s)", errnoName(errno), errno.Error())
	case st.nr == int(unix.SYS_MMAP) || st.nr == int(unix.SYS_BRK) || st.nr == int(unix.SYS_MREMAP):
		res = fmt.Sprintf("%#x", ret)
	default:
		res = strconv.FormatInt(int64(ret), 10)
	}
	line := fmt.Sprintf("[pid %d] %s(%s) = %s\n", t.tid, syscallName(st.nr), strings.Join(st.args, ", "), res)
	t.k.straceMu.Lock()
	t.k.strace.Write([]byte(line))
	t.k.straceMu.Unlock()
}

// errnoName returns the symbolic name of an errno (ENOENT), as strace prints it.
func errnoName(e unix.Errno) string {
	if n := unix.ErrnoName(e); n != "" {
		return n
	}
	return "E" + strconv.Itoa(int(e))
}

// leUint64 decodes a little-endian 64-bit value.
func leUint64(b []byte) uint64 {
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}
