package sentry

import (
	"encoding/binary"
	"time"

	"golang.org/x/sys/unix"

	"kvsentry/vfs"
)

func init() {
	register(unix.SYS_SELECT, "dpppp", Full, "", sysSelect)
	register(unix.SYS_PSELECT6, "dppppp", Full, "", sysPselect6)
}

// The readiness each fd_set of select(2) stands for (fs/select.c).
const (
	pollInSet  = vfs.EventRdNorm | vfs.EventRdBand | vfs.EventIn | vfs.EventHup | vfs.EventErr
	pollOutSet = vfs.EventWrBand | vfs.EventWrNorm | vfs.EventOut | vfs.EventErr
	pollExSet  = vfs.EventPri
)

// fdSet is an fd_set as 64-bit words; nil stands for a NULL pointer.
type fdSet []uint64

// has reports whether fd is in the set.
func (s fdSet) has(fd int) bool { return s != nil && s[fd/64]&(1<<(fd%64)) != 0 }

// set adds fd to the set.
func (s fdSet) set(fd int) { s[fd/64] |= 1 << (fd % 64) }

// copyInFdSet reads the words covering n descriptors (get_fd_set).
func (t *Task) copyInFdSet(addr uint64, n int) (fdSet, error) {
	if addr == 0 {
		return nil, nil
	}
	words := (n + 63) / 64
	b := make([]byte, 8*words)
	if _, err := t.mm.CopyIn(addr, b); err != nil {
		return nil, err
	}
	s := make(fdSet, words)
	for i := range s {
		s[i] = binary.LittleEndian.Uint64(b[8*i:])
	}
	return s, nil
}

// copyOutFdSet writes a result set back (set_fd_set).
func (t *Task) copyOutFdSet(addr uint64, s fdSet) error {
	if addr == 0 {
		return nil
	}
	b := make([]byte, 8*len(s))
	for i, w := range s {
		binary.LittleEndian.PutUint64(b[8*i:], w)
	}
	_, err := t.mm.CopyOut(addr, b)
	return err
}

// selectFDs is core_sys_select: n is clamped to the descriptor table's
// size, every fd named in a set must be open (EBADF), and the call
// returns the number of bits set in the result sets, which replace the
// given ones. O_PATH descriptors are never ready, as in Linux.
func (t *Task) selectFDs(n int64, inp, outp, exp uint64, end *time.Time) (uint64, error) {
	if n < 0 {
		return 0, unix.EINVAL
	}
	if max := int64(t.fds.MaxFDs()); n > max {
		n = max
	}
	nfd := int(n)
	var sets [3]fdSet
	for i, addr := range []uint64{inp, outp, exp} {
		s, err := t.copyInFdSet(addr, nfd)
		if err != nil {
			return 0, err
		}
		sets[i] = s
	}
	in, out, ex := sets[0], sets[1], sets[2]
	type selEntry struct {
		fd   int
		f    *vfs.File
		mask uint32
	}
	var ents []selEntry
	defer func() {
		for _, e := range ents {
			if e.f != nil {
				e.f.DecRef()
			}
		}
	}()
	for fd := 0; fd < nfd; fd++ {
		if !in.has(fd) && !out.has(fd) && !ex.has(fd) {
			continue
		}
		f, _, err := t.fds.Get(int32(fd))
		if err != nil {
			return 0, unix.EBADF
		}
		if f.Flags()&unix.O_PATH != 0 {
			f.DecRef()
			f = nil
		}
		mask := pollExSet
		if in.has(fd) {
			mask |= pollInSet
		}
		if out.has(fd) {
			mask |= pollOutSet
		}
		ents = append(ents, selEntry{fd, f, mask})
	}
	words := (nfd + 63) / 64
	var res [3]fdSet
	s := newPollWaitSet()
	defer s.release()
	count, err := t.pollLoop(s, end, func(register bool) int {
		for i := range res {
			res[i] = make(fdSet, words)
		}
		ready := 0
		for _, e := range ents {
			if e.f == nil {
				continue
			}
			if register {
				s.add(e.f, e.mask)
			}
			m := e.f.Poll()
			if in.has(e.fd) && m&pollInSet != 0 {
				res[0].set(e.fd)
				ready++
			}
			if out.has(e.fd) && m&pollOutSet != 0 {
				res[1].set(e.fd)
				ready++
			}
			if ex.has(e.fd) && m&pollExSet != 0 {
				res[2].set(e.fd)
				ready++
			}
		}
		return ready
	})
	if err != nil {
		return 0, err
	}
	for i, addr := range []uint64{inp, outp, exp} {
		if err := t.copyOutFdSet(addr, res[i]); err != nil {
			return 0, err
		}
	}
	return uint64(count), nil
}

// sysSelect implements select(2): the timeout is a timeval (tv_usec of a
// million or more carries into seconds; negative values are EINVAL), and
// the time left is written back to it.
func sysSelect(t *Task, a *sysArgs) (uint64, error) {
	var end *time.Time
	var zero bool
	if a[4] != 0 {
		b := make([]byte, 16)
		if _, err := t.mm.CopyIn(a[4], b); err != nil {
			return 0, err
		}
		sec, usec := int64(binary.LittleEndian.Uint64(b)), int64(binary.LittleEndian.Uint64(b[8:]))
		sec += usec / 1e6
		nsec := usec % 1e6 * 1000
		if sec < 0 || nsec < 0 {
			return 0, unix.EINVAL
		}
		if zero = sec == 0 && nsec == 0; zero {
			now := time.Now()
			end = &now
		} else {
			end = deadlineAfter(sec, nsec)
		}
	}
	n, err := t.selectFDs(int64(int32(a[0])), a[1], a[2], a[3], end)
	return n, t.putTimeLeft(a[4], end, zero, true, err)
}

// sysPselect6 implements pselect6(2): a timespec timeout (written back)
// and a {sigset pointer, size} pair whose mask applies during the wait.
func sysPselect6(t *Task, a *sysArgs) (uint64, error) {
	var maskAddr, maskSize uint64
	if a[5] != 0 {
		b := make([]byte, 16)
		if _, err := t.mm.CopyIn(a[5], b); err != nil {
			return 0, err
		}
		maskAddr, maskSize = binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[8:])
	}
	var end *time.Time
	var zero bool
	if a[4] != 0 {
		var err error
		if end, zero, err = t.timeoutFromTimespec(a[4]); err != nil {
			return 0, err
		}
	}
	if err := t.setWaitMask(maskAddr, maskSize); err != nil {
		return 0, err
	}
	n, err := t.selectFDs(int64(int32(a[0])), a[1], a[2], a[3], end)
	t.finishWaitMask(err == errRestartNoHand)
	return n, t.putTimeLeft(a[4], end, zero, false, err)
}
