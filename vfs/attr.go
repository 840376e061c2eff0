package vfs

import (
	"golang.org/x/sys/unix"

	"kvsentry/mm"
)

// Special tv_nsec values of utimensat(2).
const (
	utimeNow  = (1 << 30) - 1 // UTIME_NOW
	utimeOmit = (1 << 30) - 2 // UTIME_OMIT
)

// Stat returns the attributes of name (fstatat(2)); name "" is start itself
// (AT_EMPTY_PATH); follow is the absence of AT_SYMLINK_NOFOLLOW.
func (v *VFS) Stat(c *Ctx, start Path, name string, follow bool) (Stat, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	w := &walker{v: v, c: c}
	p, err := w.resolveEmpty(start, name, follow)
	if err != nil {
		return Stat{}, err
	}
	return p.d.inode.stat(), nil
}

// Readlink returns a symlink's text (readlinkat(2)); EINVAL if not a symlink.
func (v *VFS) Readlink(c *Ctx, start Path, name string) (string, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	w := &walker{v: v, c: c}
	p, err := w.resolveEmpty(start, name, false)
	if err != nil {
		return "", err
	}
	if !p.d.inode.isSymlink() {
		return "", unix.EINVAL
	}
	return w.readlink(p.d.inode)
}

// Access checks F_OK/R_OK/W_OK/X_OK for c.Creds (faccessat2(2)); the
// caller passes the real ids in c.Creds unless AT_EACCESS.
func (v *VFS) Access(c *Ctx, start Path, name string, mode uint32, follow bool) error {
	if mode&^uint32(7) != 0 {
		return unix.EINVAL
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	w := &walker{v: v, c: c}
	p, err := w.resolveEmpty(start, name, follow)
	if err != nil {
		return err
	}
	if mode == 0 {
		return nil
	}
	return permits(&c.Creds, p.d.inode, mode)
}

// Chmod changes permission bits (fchmodat2(2); chmod_common).
func (v *VFS) Chmod(c *Ctx, start Path, name string, mode uint32, follow bool) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	w := &walker{v: v, c: c}
	p, err := w.resolveEmpty(start, name, follow)
	if err != nil {
		return err
	}
	in := p.d.inode
	if p.mnt.fs.kind == fsProc {
		return unix.EPERM
	}
	if p.mnt.readOnly() {
		return unix.EROFS
	}
	if in.isSymlink() {
		return unix.EOPNOTSUPP
	}
	if !isOwner(&c.Creds, in) {
		return unix.EPERM
	}
	mode &= 0o7777
	if c.Creds.UID != 0 && !c.Creds.inGroup(in.gid) {
		mode &^= unix.S_ISGID
	}
	in.mode = in.mode&unix.S_IFMT | mode
	in.ctime = now()
	if s := storeOf(in); s != nil {
		s.setattr(in)
	}
	notifyChangeLocked(p.d, in, notifyAttrMode)
	return nil
}

// Chown changes owner and group; -1 leaves one unchanged
// (fchownat(2); chown_common, setattr_prepare's chown_ok/chgrp_ok).
func (v *VFS) Chown(c *Ctx, start Path, name string, uid, gid int64, follow bool) error {
	if uid < -1 || uid > 0xfffffffe || gid < -1 || gid > 0xfffffffe {
		return unix.EINVAL
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	w := &walker{v: v, c: c}
	p, err := w.resolveEmpty(start, name, follow)
	if err != nil {
		return err
	}
	in := p.d.inode
	if p.mnt.fs.kind == fsProc {
		return unix.EPERM
	}
	if p.mnt.readOnly() {
		return unix.EROFS
	}
	cr := &c.Creds
	if cr.UID != 0 {
		if uid != -1 && uint32(uid) != in.uid {
			return unix.EPERM
		}
		if gid != -1 && uint32(gid) != in.gid && !(cr.UID == in.uid && cr.inGroup(uint32(gid))) {
			return unix.EPERM
		}
		if (uid != -1 || gid != -1) && cr.UID != in.uid {
			return unix.EPERM
		}
	}
	if uid != -1 {
		in.uid = uint32(uid)
	}
	if gid != -1 {
		in.gid = uint32(gid)
	}
	if (uid != -1 || gid != -1) && !in.isDir() && !in.isSymlink() {
		in.mode &^= unix.S_ISUID
		if in.mode&unix.S_IXGRP != 0 {
			in.mode &^= unix.S_ISGID
		}
	}
	in.ctime = now()
	if s := storeOf(in); s != nil {
		s.setattr(in)
	}
	var ia uint32
	if uid != -1 {
		ia |= notifyAttrUID
	}
	if gid != -1 {
		ia |= notifyAttrGID
	}
	notifyChangeLocked(p.d, in, ia)
	return nil
}

// Utimes sets access and modification times (utimensat(2)); UTIME_NOW and
// UTIME_OMIT in Nsec are honoured. utimes(path, NULL) is both UTIME_NOW.
func (v *VFS) Utimes(c *Ctx, start Path, name string, atime, mtime unix.Timespec, follow bool) error {
	for _, t := range []unix.Timespec{atime, mtime} {
		if t.Nsec != utimeNow && t.Nsec != utimeOmit && (t.Nsec < 0 || t.Nsec >= 1e9) {
			return unix.EINVAL
		}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	w := &walker{v: v, c: c}
	p, err := w.resolveEmpty(start, name, follow)
	if err != nil {
		return err
	}
	in := p.d.inode
	if atime.Nsec == utimeOmit && mtime.Nsec == utimeOmit {
		return nil
	}
	if p.mnt.fs.kind == fsProc {
		return unix.EACCES
	}
	if p.mnt.readOnly() {
		return unix.EROFS
	}
	if !isOwner(&c.Creds, in) {
		onlyNow := (atime.Nsec == utimeNow || atime.Nsec == utimeOmit) &&
			(mtime.Nsec == utimeNow || mtime.Nsec == utimeOmit)
		if !onlyNow {
			return unix.EPERM
		}
		if err := permits(&c.Creds, in, mayWrite); err != nil {
			return err
		}
	}
	t := now()
	if atime.Nsec == utimeNow {
		atime = t
	}
	if mtime.Nsec == utimeNow {
		mtime = t
	}
	if atime.Nsec != utimeOmit {
		in.atime = atime
	}
	if mtime.Nsec != utimeOmit {
		in.mtime = mtime
	}
	in.ctime = t
	if s := storeOf(in); s != nil {
		s.setattr(in)
	}
	var ia uint32
	if atime.Nsec != utimeOmit {
		ia |= notifyAttrAtime
	}
	if mtime.Nsec != utimeOmit {
		ia |= notifyAttrMtime
	}
	notifyChangeLocked(p.d, in, ia)
	return nil
}

// Truncate sets the size of a regular file by name (truncate(2)).
func (v *VFS) Truncate(c *Ctx, start Path, name string, size int64) error {
	if size < 0 {
		return unix.EINVAL
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	w := &walker{v: v, c: c}
	p, err := w.resolve(start, name, true)
	if err != nil {
		return err
	}
	in := p.d.inode
	if in.isDir() {
		return unix.EISDIR
	}
	if !in.isReg() {
		return unix.EINVAL
	}
	if p.mnt.fs.kind == fsProc {
		return unix.EACCES
	}
	if err := permits(&c.Creds, in, mayWrite); err != nil {
		return err
	}
	if p.mnt.readOnly() {
		return unix.EROFS
	}
	if err := v.truncateLocked(in, size); err != nil {
		return err
	}
	notifyChangeLocked(p.d, in, notifyAttrSize|notifyAttrMtime) // do_truncate
	return nil
}

// copyUp moves a lower regular file's content into memory (ovl_copy_up).
func (v *VFS) copyUp(in *inode) error {
	if !in.isReg() || in.hostPath == "" || in.fs.kind != fsOverlay {
		return nil
	}
	fd, err := in.fs.hostOpenReg(in.hostPath)
	if err != nil {
		return err
	}
	err = v.loadContent(in, fd)
	unix.Close(fd)
	if err != nil {
		return err
	}
	in.hostPath = ""
	in.hostMu.Lock()
	if in.hostFD >= 0 {
		unix.Close(in.hostFD)
		in.hostFD = -1
	}
	in.hostMu.Unlock()
	return nil
}

// truncateLocked resizes a regular memory file (after copy-up; truncating
// a lower file to 0 needs no copy).
func (v *VFS) truncateLocked(in *inode, size int64) error {
	if in.gen != nil {
		return unix.EACCES
	}
	if size == 0 && in.hostPath != "" && in.isReg() {
		v.newContent(in)
		in.hostPath = ""
		in.hostMu.Lock()
		if in.hostFD >= 0 {
			unix.Close(in.hostFD)
			in.hostFD = -1
		}
		in.hostMu.Unlock()
	}
	if err := v.copyUp(in); err != nil {
		return err
	}
	if size > 1<<40 {
		return unix.EFBIG
	}
	if size <= in.content.Size() {
		// Pages past the new end go; the tail of the last one reads zero.
		pageEnd := (size + mm.PageSize - 1) / mm.PageSize * mm.PageSize
		in.invalidateCache(uint64(pageEnd), ^uint64(0)-uint64(pageEnd))
		in.updateCache(uint64(size), make([]byte, pageEnd-size))
	}
	if in.content != nil || size != 0 {
		v.contentOf(in).truncate(size)
	}
	in.touchMC()
	if s := storeOf(in); s != nil {
		s.truncate(in)
	}
	return nil
}
