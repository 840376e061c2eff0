package loader

import (
	"bytes"

	"golang.org/x/sys/unix"
)

// binprmBufSize is BINPRM_BUF_SIZE: how much of the file binfmt handlers see.
const binprmBufSize = 256

// maxBinfmtDepth bounds interpreter rewrites as exec_binprm does
// ("if (depth > 5) return -ELOOP"): five nested scripts still run, a sixth
// is ELOOP.
const maxBinfmtDepth = 5

func spacetab(c byte) bool { return c == ' ' || c == '\t' }

// nextNonSpacetab returns the index of the first byte in buf[i:end] that is
// not a space or tab, or -1.
func nextNonSpacetab(buf []byte, i, end int) int {
	for ; i < end; i++ {
		if !spacetab(buf[i]) {
			return i
		}
	}
	return -1
}

// nextTerminator returns the index of the first space, tab or NUL in
// buf[i:end], or -1.
func nextTerminator(buf []byte, i, end int) int {
	for ; i < end; i++ {
		if spacetab(buf[i]) || buf[i] == 0 {
			return i
		}
	}
	return -1
}

// cstr returns buf[i:end] up to the first NUL.
func cstr(buf []byte, i, end int) string {
	s := buf[i:end]
	if j := bytes.IndexByte(s, 0); j >= 0 {
		s = s[:j]
	}
	return string(s)
}

// parseShebang parses a "#!" line the way load_script (fs/binfmt_script.c)
// does. head is the start of the file (at most binprmBufSize bytes are
// considered, the rest of the buffer reads as NUL like the zeroed
// bprm->buf). It returns the interpreter, its optional single argument and
// whether there is one; ENOEXEC if the line names no interpreter or the
// interpreter name is cut off by the buffer's end.
func parseShebang(head []byte) (name, arg string, hasArg bool, err error) {
	buf := make([]byte, binprmBufSize)
	copy(buf, head)
	if buf[0] != '#' || buf[1] != '!' {
		return "", "", false, unix.ENOEXEC
	}
	bufEnd := binprmBufSize - 1
	iEnd := bytes.IndexByte(buf, '\n')
	if iEnd < 0 {
		i := nextNonSpacetab(buf, 2, bufEnd)
		if i < 0 {
			return "", "", false, unix.ENOEXEC // entire buffer is spaces/tabs
		}
		if nextTerminator(buf, i, bufEnd) < 0 {
			return "", "", false, unix.ENOEXEC // interpreter path truncated
		}
		iEnd = bufEnd
	}
	for iEnd > 2 && spacetab(buf[iEnd-1]) {
		iEnd--
	}
	iName := nextNonSpacetab(buf, 2, iEnd)
	if iName < 0 || iName == iEnd {
		return "", "", false, unix.ENOEXEC
	}
	iSep := nextTerminator(buf, iName, iEnd)
	nameEnd := iEnd
	if iSep >= 0 {
		nameEnd = iSep
		if buf[iSep] != 0 {
			if iArg := nextNonSpacetab(buf, iSep, iEnd); iArg >= 0 {
				arg, hasArg = cstr(buf, iArg, iEnd), true
			}
		}
	}
	return cstr(buf, iName, nameEnd), arg, hasArg, nil
}

// scriptArgv rewrites argv for an interpreter as load_script does:
// [interp, (arg), filename, argv[1:]...]; remove_arg_zero drops argv[0].
func scriptArgv(argv []string, name, arg string, hasArg bool, filename string) []string {
	out := make([]string, 0, len(argv)+2)
	out = append(out, name)
	if hasArg {
		out = append(out, arg)
	}
	out = append(out, filename)
	if len(argv) > 1 {
		out = append(out, argv[1:]...)
	}
	return out
}
