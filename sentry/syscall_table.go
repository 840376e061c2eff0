package sentry

import (
	"errors"
	"sort"
	"sync"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// Support says how completely the sentry implements a syscall.
type Support string

const (
	// Full: Linux's behaviour for every flag and argument real programs use.
	Full Support = "full"
	// Partial: implemented, with the gaps its note lists.
	Partial Support = "partial"
	// Unsupported: returns ENOSYS (or the errno its note says).
	Unsupported Support = "unsupported"
)

// sysArgs are the six raw syscall arguments (rdi, rsi, rdx, r10, r8, r9).
type sysArgs [6]uint64

// sysFunc implements one syscall; it returns the value for rax or an errno.
type sysFunc func(t *Task, a *sysArgs) (uint64, error)

// sysEntry is one row of the syscall table.
type sysEntry struct {
	fn      sysFunc
	support Support
	note    string
	// args says how --strace decodes each argument, one letter per argument:
	// d decimal, x hex, f fd, s path string, b buffer in (length in the next
	// argument), o buffer out (length is the result), p pointer, o octal mode 'm'.
	args string
}

// errNoReturn tells the dispatcher that the handler already set the task's
// registers (execve, rt_sigreturn) or that the task has exited.
var errNoReturn = errors.New("no syscall return")

var (
	sysTable   = map[int]*sysEntry{}
	sysTableMu sync.Mutex
	// unknownLogged remembers which unimplemented syscalls were logged.
	unknownLogged = map[int]bool{}
)

// register adds syscall nr to the table; called from each family's init.
func register(nr uintptr, args string, support Support, note string, fn sysFunc) {
	n := int(nr)
	if _, dup := sysTable[n]; dup {
		panic("sentry: syscall registered twice: " + syscallNames[n])
	}
	sysTable[n] = &sysEntry{fn: fn, support: support, note: note, args: args}
}

// unsupported registers nr as deliberately returning errno.
func unsupported(nr uintptr, errno unix.Errno, note string) {
	register(nr, "", Unsupported, note, func(*Task, *sysArgs) (uint64, error) { return 0, errno })
}

// SyscallInfo is one row of the syscall table as `kvsentry syscalls` prints it.
type SyscallInfo struct {
	Nr      int
	Name    string
	Support string
	Note    string
}

// SyscallTable lists every x86-64 syscall with its support level.
func SyscallTable() []SyscallInfo {
	var out []SyscallInfo
	for nr, name := range syscallNames {
		info := SyscallInfo{Nr: nr, Name: name, Support: string(Unsupported), Note: "not implemented: ENOSYS"}
		if e, ok := sysTable[nr]; ok {
			info.Support, info.Note = string(e.support), e.note
		}
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Nr < out[j].Nr })
	return out
}

// syscallName names nr, or "syscall_N".
func syscallName(nr int) string {
	if n, ok := syscallNames[nr]; ok {
		return n
	}
	return "syscall_" + itoa(int64(nr))
}

// doSyscall runs the syscall the task stopped at and stores its result.
func (t *Task) doSyscall() {
	nr := int(t.regs.Orig_rax)
	a := sysArgs{t.regs.Rdi, t.regs.Rsi, t.regs.Rdx, t.regs.R10, t.regs.R8, t.regs.R9}
	e := sysTable[nr]
	var st *straceCall
	if t.k.strace != nil {
		st = t.straceEnter(nr, e, &a)
	}
	var ret uint64
	var err error
	if e == nil {
		sysTableMu.Lock()
		if !unknownLogged[nr] {
			unknownLogged[nr] = true
			logrus.Warnf("unimplemented syscall %s (%d): ENOSYS", syscallName(nr), nr)
		}
		sysTableMu.Unlock()
		err = unix.ENOSYS
	} else {
		ret, err = e.fn(t, &a)
	}
	if err == errNoReturn {
		if st != nil {
			t.straceExit(st, t.regs.Rax, nil, true)
		}
		return
	}
	if err != nil {
		errno, ok := err.(unix.Errno)
		if !ok {
			logrus.Errorf("syscall %s returned a non-errno error: %v", syscallName(nr), err)
			errno = unix.EIO
		}
		if isRestart(errno) {
			t.restartErr = errno
			errno = unix.EINTR
		}
		ret = negErrno(errno)
	}
	t.regs.Rax = ret
	if st != nil {
		t.straceExit(st, ret, err, false)
	}
}

// itoa formats n in decimal without fmt (used on hot paths).
func itoa(n int64) string {
	if n == 0 {
		return "0"
	}
	var b [24]byte
	i := len(b)
	neg := n < 0
	u := uint64(n)
	if neg {
		u = uint64(-n)
	}
	for u > 0 {
		i--
		b[i] = byte('0' + u%10)
		u /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}
