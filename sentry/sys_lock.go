package sentry

import (
	"math"

	"golang.org/x/sys/unix"

	"kvsentry/vfs"
)

func init() {
	register(unix.SYS_FLOCK, "fx", Full, "", sysFlock)
}

// lockKeyOf names the inode behind f.
func lockKeyOf(f *vfs.File) (lockKey, error) {
	st, err := f.Stat()
	if err != nil {
		return lockKey{}, err
	}
	return lockKey{st.Dev, st.Ino}, nil
}

// releasePosixLocks is the FD table's close hook: the closing process drops
// its record locks on the inode (locks_remove_posix).
func (k *Kernel) releasePosixLocks(owner *ThreadGroup, f *vfs.File) {
	if !k.locks.any() {
		return
	}
	if key, err := lockKeyOf(f); err == nil {
		k.locks.releaseOwner(key, owner)
	}
}

// any reports whether any lock is held (a cheap test before close hooks).
func (lt *lockTable) any() bool {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	return len(lt.m) > 0
}

// watchRelease arranges for f's flock and OFD locks to go with its last
// reference (once per file description).
func (k *Kernel) watchRelease(f *vfs.File, key lockKey) {
	k.locks.mu.Lock()
	if k.locks.watched == nil {
		k.locks.watched = map[*vfs.File]bool{}
	}
	seen := k.locks.watched[f]
	k.locks.watched[f] = true
	k.locks.mu.Unlock()
	if !seen {
		f.OnRelease(func() {
			k.locks.releaseFile(key, f)
			k.locks.mu.Lock()
			delete(k.locks.watched, f)
			k.locks.mu.Unlock()
		})
	}
}

// sysFlock implements flock(2).
func sysFlock(t *Task, a *sysArgs) (uint64, error) {
	f, _, err := t.fds.Get(int32(a[0]))
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	if f.Flags()&unix.O_PATH != 0 {
		return 0, unix.EBADF
	}
	op := int(a[1])
	if op&lockMand != 0 {
		return 0, nil // LOCK_MAND is obsolete: accepted and ignored
	}
	switch op &^ unix.LOCK_NB {
	case unix.LOCK_SH, unix.LOCK_EX, unix.LOCK_UN:
	default:
		return 0, unix.EINVAL
	}
	key, err := lockKeyOf(f)
	if err != nil {
		return 0, err
	}
	t.k.watchRelease(f, key)
	return 0, t.k.locks.flock(t, key, f, op)
}

// lockMand is flock's obsolete LOCK_MAND bit.
const lockMand = 32

// flockStruct is struct flock (l_type, l_whence, l_start, l_len, l_pid).
type flockStruct struct {
	typ, whence int16
	start, len  int64
	pid         int32
}

// recordLockOp implements fcntl's F_GETLK/F_SETLK/F_SETLKW and the OFD
// forms (fcntl_getlk, fcntl_setlk).
func (t *Task) recordLockOp(f *vfs.File, cmd int, arg uint64) error {
	b := make([]byte, 32)
	if _, err := t.mm.CopyIn(arg, b); err != nil {
		return err
	}
	fl := flockStruct{
		typ: int16(uint16(b[0]) | uint16(b[1])<<8), whence: int16(uint16(b[2]) | uint16(b[3])<<8),
		start: int64(leUint64(b[8:])), len: int64(leUint64(b[16:])), pid: int32(leUint32(b[24:])),
	}
	ofd := cmd == unix.F_OFD_GETLK || cmd == unix.F_OFD_SETLK || cmd == unix.F_OFD_SETLKW
	if ofd && fl.pid != 0 {
		return unix.EINVAL
	}
	if fl.typ != unix.F_RDLCK && fl.typ != unix.F_WRLCK && fl.typ != unix.F_UNLCK {
		return unix.EINVAL
	}
	var base int64
	switch fl.whence {
	case unix.SEEK_SET:
	case unix.SEEK_CUR:
		off, err := f.Seek(0, unix.SEEK_CUR)
		if err != nil {
			return err
		}
		base = off
	case unix.SEEK_END:
		st, err := f.Stat()
		if err != nil {
			return err
		}
		base = st.Size
	default:
		return unix.EINVAL
	}
	start := base + fl.start
	var end uint64 = math.MaxUint64
	switch {
	case fl.len > 0:
		end = uint64(start + fl.len)
	case fl.len < 0:
		end = uint64(start)
		start += fl.len
	}
	if start < 0 {
		return unix.EINVAL
	}
	key, err := lockKeyOf(f)
	if err != nil {
		return err
	}
	var owner any = t.tg
	if ofd {
		owner = f
	}
	k := t.k
	if cmd == unix.F_GETLK || cmd == unix.F_OFD_GETLK {
		if fl.typ == unix.F_UNLCK {
			return unix.EINVAL
		}
		c := k.locks.getRecord(key, owner, fl.typ == unix.F_WRLCK, uint64(start), end)
		out := make([]byte, 32)
		copy(out, b)
		if c == nil {
			out[0], out[1] = unix.F_UNLCK, 0
		} else {
			typ := int16(unix.F_RDLCK)
			if c.write {
				typ = unix.F_WRLCK
			}
			out[0], out[1] = byte(typ), byte(typ>>8)
			out[2], out[3] = unix.SEEK_SET, 0
			putLE64(out[8:], c.start)
			length := uint64(0)
			if c.end != math.MaxUint64 {
				length = c.end - c.start
			}
			putLE64(out[16:], length)
			pid := c.pid
			if _, isOFD := c.owner.(*vfs.File); isOFD {
				pid = -1
			}
			putLE32(out[24:], uint32(pid))
		}
		_, err := t.mm.CopyOut(arg, out)
		return err
	}
	// A lock needs the matching access mode.
	acc := f.Flags() & unix.O_ACCMODE
	if fl.typ == unix.F_RDLCK && acc == unix.O_WRONLY || fl.typ == unix.F_WRLCK && acc == unix.O_RDONLY {
		return unix.EBADF
	}
	if ofd {
		k.watchRelease(f, key)
	}
	wait := cmd == unix.F_SETLKW || cmd == unix.F_OFD_SETLKW
	return k.locks.setRecord(t, key, owner, t.tg.pid, fl.typ, uint64(start), end, wait)
}
