package vfs

import "golang.org/x/sys/unix"

// fallocate(2) modes (include/uapi/linux/falloc.h).
const (
	fallocKeepSize  = 0x01
	fallocPunchHole = 0x02
	fallocZeroRange = 0x10
)

// Fallocate implements fallocate(2) on a regular file: mode 0 extends the
// file to off+length, FALLOC_FL_ZERO_RANGE zeroes a range (extending unless
// FALLOC_FL_KEEP_SIZE), FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE zeroes a
// range inside the file. Allocation gives the range pool pages, as tmpfs
// does (shmem_fallocate); zeroing returns whole pages to the pool.
func (f *File) Fallocate(mode uint32, off, length int64) error {
	if off < 0 || length <= 0 {
		return unix.EINVAL
	}
	if off+length < off || off+length > maxFileSize {
		return unix.EFBIG
	}
	if !f.writable() {
		return unix.EBADF
	}
	switch f.kind {
	case fkPipe, fkImpl:
		return unix.ESPIPE
	case fkReg:
	default:
		return unix.ENODEV
	}
	if !f.in.isReg() {
		return unix.ENODEV
	}
	switch mode {
	case 0, fallocKeepSize, fallocZeroRange, fallocZeroRange | fallocKeepSize, fallocPunchHole | fallocKeepSize:
	case fallocPunchHole:
		return unix.EOPNOTSUPP // a hole punch must keep the size
	default:
		return unix.EOPNOTSUPP
	}
	v := f.v
	v.mu.Lock()
	defer v.mu.Unlock()
	in := f.in
	if f.path.mnt != nil && f.path.mnt.readOnly() {
		return unix.EROFS
	}
	if err := v.copyUp(in); err != nil {
		return err
	}
	end := off + length
	md := v.contentOf(in)
	size := md.Size()
	if mode&(fallocZeroRange|fallocPunchHole) != 0 {
		zeroEnd := min(end, size)
		if off < zeroEnd {
			md.zeroRange(off, zeroEnd)
			if c := in.pageCache(); c != nil {
				c.ZeroRange(uint64(off), uint64(zeroEnd-off))
			}
			if s := storeOf(in); s != nil {
				s.write(in, off, int(zeroEnd-off))
			}
		}
	} else if err := md.allocRange(off, end); err != nil {
		return err
	}
	if mode&fallocKeepSize == 0 && end > size {
		if err := v.truncateLocked(in, end); err != nil {
			return err
		}
	}
	in.touchMC()
	return nil
}
