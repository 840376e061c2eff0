package vfs

import "golang.org/x/sys/unix"

// renameat2(2) flags.
const (
	// RenameNoReplace fails with EEXIST if the new name exists.
	RenameNoReplace = unix.RENAME_NOREPLACE
	// RenameExchange atomically swaps the two names.
	RenameExchange = unix.RENAME_EXCHANGE
	renameWhiteout = unix.RENAME_WHITEOUT
)

// Rename moves oldName to newName (renameat2(2); do_renameat2 and
// vfs_rename). Lower directories move with their merged lower content;
// the old name is whited out.
func (v *VFS) Rename(c *Ctx, oldStart Path, oldName string, newStart Path, newName string, flags uint32) error {
	if flags&^uint32(RenameNoReplace|RenameExchange|renameWhiteout) != 0 ||
		flags&RenameNoReplace != 0 && flags&RenameExchange != 0 || flags&renameWhiteout != 0 {
		return unix.EINVAL
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	w := &walker{v: v, c: c}
	odir, olast, otrail, err := w.resolveParent(oldStart, oldName)
	if err != nil {
		return err
	}
	ndir, nlast, ntrail, err := w.resolveParent(newStart, newName)
	if err != nil {
		return err
	}
	if isDot(olast) || isDot(nlast) {
		return unix.EBUSY
	}
	if odir.mnt != ndir.mnt {
		return unix.EXDEV
	}
	old, err := w.step(odir, olast, false)
	if err != nil {
		return err
	}
	nw, err := w.step(ndir, nlast, false)
	exists := err == nil
	if err != nil && err != unix.ENOENT {
		return err
	}
	exchange := flags&RenameExchange != 0
	if exchange && !exists {
		return unix.ENOENT
	}
	if flags&RenameNoReplace != 0 && exists {
		return unix.EEXIST
	}
	oin := old.d.inode
	if old.mnt != odir.mnt || exists && nw.mnt != ndir.mnt {
		return unix.EBUSY
	}
	if !oin.isDir() && (otrail || ntrail && !exchange) {
		return unix.ENOTDIR
	}
	if exchange && ntrail && !nw.d.inode.isDir() {
		return unix.ENOTDIR
	}
	if err := v.mayDelete(c, odir, old); err != nil {
		return err
	}
	if exists {
		if err := v.mayDelete(c, ndir, nw); err != nil {
			return err
		}
	} else if err := mayCreate(c, ndir); err != nil {
		return err
	}
	if odir.d != ndir.d {
		if oin.isDir() {
			if err := permits(&c.Creds, oin, mayWrite); err != nil {
				return err
			}
		}
		if exchange && nw.d.inode.isDir() {
			if err := permits(&c.Creds, nw.d.inode, mayWrite); err != nil {
				return err
			}
		}
	}
	if exists && nw.d.inode == oin {
		return nil
	}
	if oin.isDir() && v.isAncestor(old, ndir) {
		return unix.EINVAL
	}
	if exchange && nw.d.inode.isDir() && v.isAncestor(nw, odir) {
		return unix.EINVAL
	}
	s := storeOf(oin)
	if s != nil {
		op := "rename"
		if exchange {
			op = "exchange"
		}
		if err := s.check(op, oin); err != nil {
			return err
		}
	}
	if exchange {
		v.exchange(odir, olast, old.d, ndir, nlast, nw.d)
		notifyMoveLocked(odir.d.inode, olast, ndir.d.inode, nlast, old.d.inode, nil)
		notifyMoveLocked(ndir.d.inode, nlast, odir.d.inode, olast, nw.d.inode, nil)
		return nil
	}
	oldRel, oldLower := relOf(old.d), s != nil && lowerHas(odir.d, olast)
	var target *inode
	if exists {
		target = nw.d.inode
		nin := nw.d.inode
		switch {
		case oin.isDir() && !nin.isDir():
			return unix.ENOTDIR
		case !oin.isDir() && nin.isDir():
			return unix.EISDIR
		case nin.isDir():
			ents, err := v.listDir(c, nw)
			if err != nil {
				return err
			}
			if len(ents) > 0 {
				return unix.ENOTEMPTY
			}
			nin.nlink = 0
			ndir.d.inode.nlink--
		default:
			if nin.nlink > 0 {
				nin.nlink--
			}
		}
		nin.ctime = now()
		v.removeChild(ndir.d, nlast)
	}
	v.detach(odir.d, olast)
	v.addChild(ndir.d, nlast, old.d)
	if oin.isDir() && odir.d != ndir.d {
		odir.d.inode.nlink--
		ndir.d.inode.nlink++
	}
	oin.ctime = now()
	odir.d.inode.touchMC()
	ndir.d.inode.touchMC()
	if s != nil {
		s.rename(oldRel, oldLower, oin)
	}
	notifyMoveLocked(odir.d.inode, olast, ndir.d.inode, nlast, oin, target)
	if target != nil {
		notifyGoneLocked(target)
		v.putContentLocked(target)
	}
	return nil
}

// detach unlinks name from d without killing its dentry (it is moving),
// whiting out a lower entry of that name.
func (v *VFS) detach(d *dentry, name string) {
	delete(d.inode.children, name)
	if d.inode.hostPath != "" {
		if d.inode.whiteouts == nil {
			d.inode.whiteouts = map[string]bool{}
		}
		d.inode.whiteouts[name] = true
	}
}

// exchange swaps two names (RENAME_EXCHANGE).
func (v *VFS) exchange(odir Path, olast string, od *dentry, ndir Path, nlast string, nd *dentry) {
	delete(odir.d.inode.children, olast)
	delete(ndir.d.inode.children, nlast)
	v.addChild(odir.d, olast, nd)
	v.addChild(ndir.d, nlast, od)
	if odir.d != ndir.d {
		if od.inode.isDir() {
			odir.d.inode.nlink--
			ndir.d.inode.nlink++
		}
		if nd.inode.isDir() {
			ndir.d.inode.nlink--
			odir.d.inode.nlink++
		}
	}
	t := now()
	od.inode.ctime, nd.inode.ctime = t, t
	odir.d.inode.touchMC()
	ndir.d.inode.touchMC()
}

// isAncestor reports whether a is p or one of p's ancestors in p's mount.
func (v *VFS) isAncestor(a, p Path) bool {
	if a.mnt != p.mnt {
		return false
	}
	for d := p.d; d != nil; d = d.parent {
		if d == a.d {
			return true
		}
	}
	return false
}
