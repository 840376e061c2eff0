package vfs

import "golang.org/x/sys/unix"

// Unlink removes a non-directory name (unlinkat(2) without AT_REMOVEDIR).
func (v *VFS) Unlink(c *Ctx, start Path, name string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	w := &walker{v: v, c: c}
	dir, last, trailing, err := w.resolveParent(start, name)
	if err != nil {
		return err
	}
	if isDot(last) {
		return unix.EISDIR
	}
	victim, err := w.step(dir, last, false)
	if err != nil {
		return err
	}
	if victim.d.inode.isDir() {
		return unix.EISDIR
	}
	if trailing {
		return unix.ENOTDIR
	}
	if err := v.mayDelete(c, dir, victim); err != nil {
		return err
	}
	in := victim.d.inode
	if s := storeOf(in); s != nil {
		s.remove(dir.d, last, false, lowerHas(dir.d, last))
	}
	v.removeChild(dir.d, last)
	if in.nlink > 0 {
		in.nlink--
	}
	in.ctime = now()
	dir.d.inode.touchMC()
	notifyRemoveLocked(dir.d.inode, last, in)
	v.putContentLocked(in)
	return nil
}

// Rmdir removes an empty directory (rmdir(2)).
func (v *VFS) Rmdir(c *Ctx, start Path, name string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	w := &walker{v: v, c: c}
	dir, last, _, err := w.resolveParent(start, name)
	if err != nil {
		return err
	}
	switch last {
	case ".":
		if p := dir; p == w.root() || v.isBusy(p) {
			return unix.EBUSY
		}
		return unix.EINVAL
	case "..":
		return unix.ENOTEMPTY
	}
	victim, err := w.step(dir, last, false)
	if err != nil {
		return err
	}
	if !victim.d.inode.isDir() {
		return unix.ENOTDIR
	}
	if victim == w.root() || victim.mnt != dir.mnt {
		return unix.EBUSY
	}
	if err := v.mayDelete(c, dir, victim); err != nil {
		return err
	}
	ents, err := v.listDir(c, victim)
	if err != nil {
		return err
	}
	if len(ents) > 0 {
		return unix.ENOTEMPTY
	}
	if s := storeOf(victim.d.inode); s != nil {
		s.remove(dir.d, last, true, lowerHas(dir.d, last))
	}
	v.removeChild(dir.d, last)
	victim.d.inode.nlink = 0
	victim.d.inode.ctime = now()
	if dir.d.inode.nlink > 2 {
		dir.d.inode.nlink--
	}
	dir.d.inode.touchMC()
	notifyRemoveLocked(dir.d.inode, last, victim.d.inode)
	return nil
}
