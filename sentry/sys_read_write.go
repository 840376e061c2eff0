package sentry

import (
	"golang.org/x/sys/unix"

	"kvsentry/kernel/signal"
	"kvsentry/vfs"
)

func init() {
	register(unix.SYS_READ, "fod", Full, "", sysRead)
	register(unix.SYS_WRITE, "fbd", Full, "", sysWrite)
	register(unix.SYS_PREAD64, "fodd", Full, "", sysPread64)
	register(unix.SYS_PWRITE64, "fbdd", Full, "", sysPwrite64)
	register(unix.SYS_READV, "fpd", Full, "", sysReadv)
	register(unix.SYS_WRITEV, "fpd", Full, "", sysWritev)
	register(unix.SYS_PREADV, "fpdd", Full, "", sysPreadv)
	register(unix.SYS_PWRITEV, "fpdd", Full, "", sysPwritev)
	register(unix.SYS_LSEEK, "fdd", Full, "", sysLseek)
}

// maxRW is Linux's MAX_RW_COUNT: one read or write moves at most this much.
const maxRW = 0x7ffff000

// ioChunk bounds the sentry buffer used per step of a large read or write.
const ioChunk = 1 << 20

// scratchBuf returns a reusable buffer of n bytes owned by the task.
func (t *Task) scratchBuf(n int) []byte {
	if cap(t.scratch) < n {
		t.scratch = make([]byte, n)
	}
	return t.scratch[:n]
}

// checkRange fails with EFAULT when [addr, addr+n) is not a valid user range.
func checkRange(addr, n uint64) error {
	if addr+n < addr || addr+n > 1<<47 {
		return unix.EFAULT
	}
	return nil
}

// readInto reads up to n bytes from f into guest memory at addr. pread
// selects positional reads at off.
func (t *Task) readInto(f *vfs.File, addr, n uint64, pread bool, off int64) (uint64, error) {
	if err := t.ttyAccessCheck(f, false); err != nil { // job control (sys_tty.go)
		return 0, err
	}
	if n > maxRW {
		n = maxRW
	}
	if err := checkRange(addr, n); err != nil {
		return 0, err
	}
	var done uint64
	for done < n {
		chunk := n - done
		if chunk > ioChunk {
			chunk = ioChunk
		}
		buf := t.scratchBuf(int(chunk))
		var c int
		var err error
		if pread {
			c, err = f.Pread(buf, off+int64(done))
		} else {
			c, err = f.ReadCancel(buf, t.intr)
		}
		if c > 0 {
			w, cerr := t.mm.CopyOut(addr+done, buf[:c])
			done += uint64(w)
			if cerr != nil && !pread && w < c {
				// Linux never consumes what it could not copy: give the
				// bytes back to a seekable file (pipes keep the loss).
				f.Seek(int64(w-c), unix.SEEK_CUR)
			}
			if cerr != nil {
				if done == 0 {
					return 0, cerr
				}
				return done, nil
			}
		}
		if err != nil {
			if done > 0 {
				return done, nil
			}
			if err == unix.EINTR {
				return 0, errRestartSys
			}
			return 0, err
		}
		// A short read (pipe, terminal, end of file) ends the call.
		if c < int(chunk) {
			break
		}
	}
	return done, nil
}

// writeFrom writes n bytes of guest memory at addr to f.
func (t *Task) writeFrom(f *vfs.File, addr, n uint64, pwrite bool, off int64) (uint64, error) {
	if err := t.ttyAccessCheck(f, true); err != nil { // job control (sys_tty.go)
		return 0, err
	}
	if n > maxRW {
		n = maxRW
	}
	if err := checkRange(addr, n); err != nil {
		return 0, err
	}
	var done uint64
	for done < n || n == 0 {
		chunk := n - done
		if chunk > ioChunk {
			chunk = ioChunk
		}
		buf := t.scratchBuf(int(chunk))
		got, cerr := t.mm.CopyIn(addr+done, buf)
		if cerr != nil && got == 0 {
			if done == 0 {
				return 0, cerr
			}
			return done, nil
		}
		var c int
		var err error
		if pwrite {
			c, err = f.Pwrite(buf[:got], off+int64(done))
		} else {
			c, err = f.WriteCancel(buf[:got], t.intr)
		}
		done += uint64(c)
		if err != nil {
			if err == unix.EPIPE {
				t.sendSelf(int(unix.SIGPIPE))
			}
			if done > 0 {
				return done, nil
			}
			if err == unix.EINTR {
				return 0, errRestartSys
			}
			return 0, err
		}
		if c < got || cerr != nil || n == 0 {
			break
		}
	}
	return done, nil
}

// sendSelf sends sig to the task's own process.
func (t *Task) sendSelf(sig int) {
	t.k.mu.Lock()
	t.k.sendSignalLocked(t.tg, t.senderInfo(sig, signal.SIUser))
	t.k.mu.Unlock()
}

// fileFor returns the file at fd (with a reference) checking its access mode.
func (t *Task) fileFor(fd int32, write bool) (*vfs.File, error) {
	f, _, err := t.fds.Get(fd)
	if err != nil {
		return nil, err
	}
	acc := f.Flags() & unix.O_ACCMODE
	if f.Flags()&unix.O_PATH != 0 || (write && acc == unix.O_RDONLY) || (!write && acc == unix.O_WRONLY) {
		f.DecRef()
		return nil, unix.EBADF
	}
	return f, nil
}

// sysRead implements read(2).
func sysRead(t *Task, a *sysArgs) (uint64, error) {
	f, err := t.fileFor(int32(a[0]), false)
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	return t.readInto(f, a[1], a[2], false, 0)
}

// sysWrite implements write(2).
func sysWrite(t *Task, a *sysArgs) (uint64, error) {
	f, err := t.fileFor(int32(a[0]), true)
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	return t.writeFrom(f, a[1], a[2], false, 0)
}

// sysPread64 implements pread64(2).
func sysPread64(t *Task, a *sysArgs) (uint64, error) {
	if int64(a[3]) < 0 {
		return 0, unix.EINVAL
	}
	f, err := t.fileFor(int32(a[0]), false)
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	return t.readInto(f, a[1], a[2], true, int64(a[3]))
}

// sysPwrite64 implements pwrite64(2).
func sysPwrite64(t *Task, a *sysArgs) (uint64, error) {
	if int64(a[3]) < 0 {
		return 0, unix.EINVAL
	}
	f, err := t.fileFor(int32(a[0]), true)
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	return t.writeFrom(f, a[1], a[2], true, int64(a[3]))
}

// iovec is one struct iovec.
type iovec struct{ base, len uint64 }

// copyInIovecs reads an iovec array (UIO_MAXIOV = 1024 entries at most).
func (t *Task) copyInIovecs(addr uint64, cnt int32) ([]iovec, error) {
	if cnt < 0 || cnt > 1024 {
		return nil, unix.EINVAL
	}
	b := make([]byte, 16*int(cnt))
	if _, err := t.mm.CopyIn(addr, b); err != nil {
		return nil, err
	}
	out := make([]iovec, cnt)
	var total uint64
	for i := range out {
		out[i] = iovec{leUint64(b[16*i:]), leUint64(b[16*i+8:])}
		if int64(out[i].len) < 0 {
			return nil, unix.EINVAL
		}
		total += out[i].len
		if total > 1<<63-1 {
			return nil, unix.EINVAL
		}
	}
	return out, nil
}

// vectorIO runs readv/writev-style I/O over iovecs.
func (t *Task) vectorIO(a *sysArgs, write, positional bool) (uint64, error) {
	off := int64(0)
	if positional {
		off = int64(a[3])
		if off < 0 {
			return 0, unix.EINVAL
		}
	}
	f, err := t.fileFor(int32(a[0]), write)
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	iovs, err := t.copyInIovecs(a[1], int32(a[2]))
	if err != nil {
		return 0, err
	}
	var total uint64
	for _, iov := range iovs {
		if iov.len == 0 {
			continue
		}
		var n uint64
		if write {
			n, err = t.writeFrom(f, iov.base, iov.len, positional, off+int64(total))
		} else {
			n, err = t.readInto(f, iov.base, iov.len, positional, off+int64(total))
		}
		total += n
		if err != nil {
			if total > 0 {
				return total, nil
			}
			return 0, err
		}
		if n < iov.len {
			break
		}
	}
	return total, nil
}

// sysReadv implements readv(2).
func sysReadv(t *Task, a *sysArgs) (uint64, error) { return t.vectorIO(a, false, false) }

// sysWritev implements writev(2).
func sysWritev(t *Task, a *sysArgs) (uint64, error) { return t.vectorIO(a, true, false) }

// sysPreadv implements preadv(2).
func sysPreadv(t *Task, a *sysArgs) (uint64, error) { return t.vectorIO(a, false, true) }

// sysPwritev implements pwritev(2).
func sysPwritev(t *Task, a *sysArgs) (uint64, error) { return t.vectorIO(a, true, true) }

// sysLseek implements lseek(2).
func sysLseek(t *Task, a *sysArgs) (uint64, error) {
	f, _, err := t.fds.Get(int32(a[0]))
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	if f.Flags()&unix.O_PATH != 0 {
		return 0, unix.EBADF
	}
	off, err := f.Seek(int64(a[1]), int(a[2]))
	return uint64(off), err
}
