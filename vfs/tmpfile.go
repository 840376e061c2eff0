package vfs

import (
	"strconv"

	"golang.org/x/sys/unix"
)

// openTmpfile implements open(O_TMPFILE): an unnamed regular file in the
// directory name's filesystem, which linkat(2) may later give a name unless
// O_EXCL was set (do_tmpfile, vfs_tmpfile with I_LINKABLE). Call with
// VFS.mu held.
func (v *VFS) openTmpfile(c *Ctx, start Path, name string, flags int, mode uint32) (*File, error) {
	acc := flags & unix.O_ACCMODE
	if acc != unix.O_WRONLY && acc != unix.O_RDWR {
		return nil, unix.EINVAL
	}
	w := &walker{v: v, c: c}
	dir, err := w.resolve(start, name, true)
	if err != nil {
		return nil, err
	}
	if !dir.d.inode.isDir() {
		return nil, unix.ENOTDIR
	}
	if dir.mnt.fs.kind == fsProc || dir.mnt.fs.kind == fsDev && dir.d.inode.children == nil {
		return nil, unix.EOPNOTSUPP
	}
	if dir.mnt.readOnly() {
		return nil, unix.EROFS
	}
	if err := permits(&c.Creds, dir.d.inode, mayWrite|mayExec); err != nil {
		return nil, err
	}
	in := newMemInode(dir.mnt.fs, unix.S_IFREG|mode&0o7777, &c.Creds)
	in.nlink = 0
	in.tmpfile = flags&unix.O_EXCL == 0
	d := &dentry{name: "#" + strconv.FormatUint(in.ino, 10), parent: dir.d, inode: in, dead: true}
	f := newFile(v, fkReg, Path{dir.mnt, d}, in, flags&^(unix.O_TMPFILE|unix.O_CREAT|unix.O_EXCL))
	return f.notifyOpened(), nil
}

// magicLink resolves a /proc/PID/fd/N link to the open file's own location
// (proc_fd_link): unlike its text, this reaches files that were deleted or
// never had a name. ok is false when the link is not such a link or the
// file has no location.
func (w *walker) magicLink(in *inode) (p Path, ok bool) {
	if in.fdOf == nil {
		return Path{}, false
	}
	task, fd := in.fdOf()
	op, isOpener := task.(ProcFDOpener)
	if !isOpener {
		return Path{}, false
	}
	var f *File
	w.v.unlocked(func() { f = op.OpenFD(fd) })
	if f == nil {
		return Path{}, false
	}
	defer w.v.unlocked(f.DecRef)
	if !f.path.Valid() {
		return Path{}, false
	}
	return f.path, true
}
