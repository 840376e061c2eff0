package sentry

import (
	"golang.org/x/sys/unix"
)

func init() {
	register(unix.SYS_SPLICE, "fpfpdx", Partial, "moves data through a sentry buffer (no page sharing); SPLICE_F_NONBLOCK applies to the pipe ends", sysSplice)
	register(unix.SYS_TEE, "ffdx", Full, "", sysTee)
}

// splice(2) flags (include/linux/splice.h).
const (
	spliceMove     = 1
	spliceNonblock = 2
	spliceMore     = 4
	spliceGift     = 8
)

// sysSplice implements splice(2): one end must be a pipe; a pipe end takes
// no offset (ESPIPE), the other end may.
func sysSplice(t *Task, a *sysArgs) (uint64, error) {
	if a[5]&^uint64(spliceMove|spliceNonblock|spliceMore|spliceGift) != 0 {
		return 0, unix.EINVAL
	}
	in, out, err := t.filePair(int32(a[0]), int32(a[2]))
	if err != nil {
		return 0, err
	}
	defer in.DecRef()
	defer out.DecRef()
	if !in.IsPipe() && !out.IsPipe() {
		return 0, unix.EINVAL
	}
	if out.Flags()&unix.O_APPEND != 0 && !out.IsPipe() {
		return 0, unix.EINVAL
	}
	var inOff, outOff *int64
	for _, x := range []struct {
		addr uint64
		pipe bool
		dst  **int64
	}{{a[1], in.IsPipe(), &inOff}, {a[3], out.IsPipe(), &outOff}} {
		if x.addr == 0 {
			continue
		}
		if x.pipe {
			return 0, unix.ESPIPE
		}
		v, err := t.copyInUint64(x.addr)
		if err != nil {
			return 0, err
		}
		o := int64(v)
		if o < 0 {
			return 0, unix.EINVAL
		}
		*x.dst = &o
	}
	if a[4] == 0 {
		return 0, nil
	}
	n, err := t.copyBetween(out, in, a[4], inOff, outOff)
	if err != nil {
		return 0, err
	}
	if a[1] != 0 {
		t.copyOutUint64(a[1], uint64(*inOff))
	}
	if a[3] != 0 {
		t.copyOutUint64(a[3], uint64(*outOff))
	}
	return n, nil
}

// sysTee implements tee(2): it duplicates up to len bytes from one pipe into
// another without consuming them.
func sysTee(t *Task, a *sysArgs) (uint64, error) {
	if a[3]&^uint64(spliceMove|spliceNonblock|spliceMore|spliceGift) != 0 {
		return 0, unix.EINVAL
	}
	in, out, err := t.filePair(int32(a[0]), int32(a[1]))
	if err != nil {
		return 0, err
	}
	defer in.DecRef()
	defer out.DecRef()
	if !in.IsPipe() || !out.IsPipe() || in.SamePipe(out) {
		return 0, unix.EINVAL
	}
	n := min(a[2], 65536)
	if n == 0 {
		return 0, nil
	}
	buf := t.scratchBuf(int(n))
	got, err := in.PeekPipe(buf, a[3]&spliceNonblock != 0, t.intr)
	if err == unix.EINTR {
		return 0, errRestartSys
	}
	if err != nil || got == 0 {
		return 0, err
	}
	w, err := out.WriteCancel(buf[:got], t.intr)
	if err == unix.EPIPE {
		t.sendSelf(int(unix.SIGPIPE))
	}
	if w > 0 {
		return uint64(w), nil
	}
	if err == unix.EINTR {
		return 0, errRestartSys
	}
	return 0, err
}
