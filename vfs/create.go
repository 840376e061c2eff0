package vfs

import "golang.org/x/sys/unix"

// prepareCreate resolves the parent of name for a creating operation and
// checks that the last component is free and may be created
// (filename_create + may_create). A trailing slash is allowed only if dirOK.
func (w *walker) prepareCreate(start Path, name string, dirOK bool) (Path, string, error) {
	dir, last, trailing, err := w.resolveParent(start, name)
	if err != nil {
		return Path{}, "", err
	}
	if isDot(last) {
		return Path{}, "", unix.EEXIST
	}
	if _, err := w.step(dir, last, false); err == nil {
		return Path{}, "", unix.EEXIST
	} else if err != unix.ENOENT {
		return Path{}, "", err
	}
	if trailing && !dirOK {
		return Path{}, "", unix.ENOENT
	}
	if err := mayCreate(w.c, dir); err != nil {
		return Path{}, "", err
	}
	return dir, last, nil
}

// newChild makes a memory inode of mode in dir under name, owned by the
// caller (inode_init_owner: a set-gid directory passes its group on).
func (w *walker) newChild(dir Path, name string, mode uint32, setup func(*inode)) *inode {
	pin := dir.d.inode
	in := newMemInode(dir.mnt.fs, mode, &w.c.Creds)
	if setup != nil {
		setup(in)
	}
	if pin.mode&unix.S_ISGID != 0 {
		in.gid = pin.gid
		if in.isDir() {
			in.mode |= unix.S_ISGID
		}
	}
	w.v.addChild(dir.d, name, &dentry{inode: in})
	if in.isDir() {
		pin.nlink++
	}
	pin.touchMC()
	if s := storeOf(in); s != nil {
		s.create(in)
	}
	notifyCreateLocked(pin, name, in)
	return in
}

// Mkdir creates a directory (mkdirat(2)); mode is already umask-applied.
func (v *VFS) Mkdir(c *Ctx, start Path, name string, mode uint32) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	w := &walker{v: v, c: c}
	dir, last, err := w.prepareCreate(start, name, true)
	if err != nil {
		return err
	}
	w.newChild(dir, last, unix.S_IFDIR|mode&0o7777, nil)
	return nil
}

// Mknod creates a regular file, FIFO, socket or (root only) device node
// (mknodat(2)).
func (v *VFS) Mknod(c *Ctx, start Path, name string, mode uint32, dev uint64) error {
	typ := mode & unix.S_IFMT
	switch typ {
	case 0:
		typ = unix.S_IFREG
	case unix.S_IFREG, unix.S_IFIFO, unix.S_IFSOCK:
	case unix.S_IFCHR, unix.S_IFBLK:
		if c.Creds.UID != 0 {
			return unix.EPERM
		}
	case unix.S_IFDIR:
		return unix.EPERM
	default:
		return unix.EINVAL
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	w := &walker{v: v, c: c}
	dir, last, err := w.prepareCreate(start, name, false)
	if err != nil {
		return err
	}
	w.newChild(dir, last, typ|mode&0o7777, func(in *inode) {
		if typ == unix.S_IFCHR || typ == unix.S_IFBLK {
			in.rdev = dev
		}
	})
	return nil
}

// Symlink creates name pointing at target (symlinkat(2)).
func (v *VFS) Symlink(c *Ctx, target string, start Path, name string) error {
	if target == "" {
		return unix.ENOENT
	}
	if len(target) >= pathMax {
		return unix.ENAMETOOLONG
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	w := &walker{v: v, c: c}
	dir, last, err := w.prepareCreate(start, name, false)
	if err != nil {
		return err
	}
	w.newChild(dir, last, unix.S_IFLNK|0o777, func(in *inode) { in.target = target })
	return nil
}

// Link makes newName another name of oldName's inode (linkat(2)); follow is
// AT_SYMLINK_FOLLOW and oldName "" is the AT_EMPTY_PATH form.
func (v *VFS) Link(c *Ctx, oldStart Path, oldName string, newStart Path, newName string, follow bool) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	w := &walker{v: v, c: c}
	old, err := w.resolveEmpty(oldStart, oldName, follow)
	if err != nil {
		return err
	}
	dir, last, err := w.prepareCreate(newStart, newName, false)
	if err != nil {
		return err
	}
	if dir.mnt != old.mnt {
		return unix.EXDEV
	}
	in := old.d.inode
	if in.isDir() {
		return unix.EPERM
	}
	tmp := in.tmpfile && in.nlink == 0
	if old.d.dead && in.nlink == 0 && !tmp {
		return unix.ENOENT
	}
	oldRel := relOf(old.d)
	s := storeOf(in)
	v.addChild(dir.d, last, &dentry{inode: in})
	if tmp {
		// An O_TMPFILE file gets its first name (I_LINKABLE).
		in.tmpfile = false
		if s != nil {
			s.create(in)
			s.write(in, 0, int(in.content.Size()))
		}
	} else if s != nil {
		s.link(oldRel, in)
	}
	in.nlink++
	in.ctime = now()
	dir.d.inode.touchMC()
	notifyLinkLocked(dir.d.inode, last, in)
	return nil
}
