package vfs

import (
	"strings"

	"golang.org/x/sys/unix"
)

// Open opens name (openat(2); do_filp_open). mode is already umask-applied;
// O_CLOEXEC is left to the fd table. A blocking FIFO open waits for its
// peer without holding the tree lock.
func (v *VFS) Open(c *Ctx, start Path, name string, flags int, mode uint32) (*File, error) {
	return v.OpenCancel(c, start, name, flags, mode, nil)
}

// OpenCancel is Open whose wait for a FIFO peer ends with EINTR when cancel
// is closed.
func (v *VFS) OpenCancel(c *Ctx, start Path, name string, flags int, mode uint32, cancel <-chan struct{}) (*File, error) {
	if flags&unix.O_TMPFILE == unix.O_TMPFILE {
		v.mu.Lock()
		defer v.mu.Unlock()
		return v.openTmpfile(c, start, name, flags, mode)
	}
	v.mu.Lock()
	f, fifo, err := v.openLocked(c, start, name, flags, mode)
	v.mu.Unlock()
	if err != nil || fifo == nil {
		return f, err
	}
	f, err = v.openFIFO(f, fifo, cancel)
	if err == nil {
		f.notifyFile(unix.IN_OPEN)
	}
	return f, err
}

// openLocked does everything of Open but waiting for a FIFO peer.
func (v *VFS) openLocked(c *Ctx, start Path, name string, flags int, mode uint32) (*File, *pipe, error) {
	w := &walker{v: v, c: c}
	acc := flags & unix.O_ACCMODE
	if acc == unix.O_ACCMODE && flags&unix.O_PATH == 0 ||
		flags&(unix.O_CREAT|unix.O_DIRECTORY) == unix.O_CREAT|unix.O_DIRECTORY {
		return nil, nil, unix.EINVAL
	}
	nofollow := flags&unix.O_NOFOLLOW != 0
	if flags&unix.O_PATH != 0 {
		p, err := w.resolve(start, name, !nofollow)
		if err != nil {
			return nil, nil, err
		}
		if flags&unix.O_DIRECTORY != 0 && !p.d.inode.isDir() {
			return nil, nil, unix.ENOTDIR
		}
		return newFile(v, fkPath, p, p.d.inode, flags&(unix.O_PATH|unix.O_NOFOLLOW|unix.O_DIRECTORY|unix.O_CLOEXEC)), nil, nil
	}
	var p Path
	created := false
	var err error
	if flags&unix.O_CREAT != 0 {
		p, created, err = w.openCreate(start, name, flags, mode)
	} else {
		if !nofollow {
			if f, ok, err := w.openMagicFD(start, name); ok || err != nil {
				return f, nil, err
			}
		}
		p, err = w.resolve(start, name, !nofollow)
	}
	if err != nil {
		return nil, nil, err
	}
	in := p.d.inode
	if in.isSymlink() {
		return nil, nil, unix.ELOOP
	}
	if flags&unix.O_DIRECTORY != 0 && !in.isDir() {
		return nil, nil, unix.ENOTDIR
	}
	trunc := flags&unix.O_TRUNC != 0
	if in.isDir() && (acc != unix.O_RDONLY || trunc || flags&unix.O_CREAT != 0) {
		return nil, nil, unix.EISDIR
	}
	if !created {
		var want uint32
		if acc != unix.O_WRONLY {
			want |= mayRead
		}
		if acc != unix.O_RDONLY || trunc {
			want |= mayWrite
		}
		if err := permits(&c.Creds, in, want); err != nil {
			return nil, nil, err
		}
		if p.mnt.fs.kind == fsProc && want&mayWrite != 0 && in.write == nil {
			return nil, nil, unix.EACCES
		}
		if want&mayWrite != 0 && p.mnt.readOnly() && (in.isReg() || in.isDir()) {
			return nil, nil, unix.EROFS
		}
	}
	switch in.mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return newFile(v, fkDir, p, in, flags).notifyOpened(), nil, nil
	case unix.S_IFREG:
		if in.gen != nil {
			var data []byte
			var err error
			v.unlocked(func() { data, err = in.gen(c) })
			if err != nil {
				return nil, nil, err
			}
			f := newFile(v, fkGen, p, in, flags)
			f.gen = data
			return f.notifyOpened(), nil, nil
		}
		if trunc && !created && in.fileSize() > 0 {
			if err := v.truncateLocked(in, 0); err != nil {
				return nil, nil, err
			}
		}
		f := newFile(v, fkReg, p, in, flags).notifyOpened()
		if trunc && !created {
			// do_open truncates after the open reported IN_OPEN.
			notifyChangeLocked(p.d, in, notifyAttrSize|notifyAttrMtime)
		}
		return f, nil, nil
	case unix.S_IFCHR:
		if f, ok, err := v.openTerminal(c, p, in, flags); ok {
			return f, nil, err
		}
		d, err := openDevice(in.rdev)
		if err != nil {
			return nil, nil, err
		}
		f := newFile(v, fkDev, p, in, flags)
		f.dev = d
		return f.notifyOpened(), nil, nil
	case unix.S_IFIFO:
		if in.fifo == nil {
			in.fifo = newPipeState()
		}
		f := newFile(v, fkPipe, p, in, flags)
		f.pipe = in.fifo
		return f, in.fifo, nil
	}
	return nil, nil, unix.ENXIO
}

// openCreate resolves name for O_CREAT, creating a regular file if it is
// missing, also at the end of a dangling symlink (open_last_lookups).
func (w *walker) openCreate(start Path, name string, flags int, mode uint32) (Path, bool, error) {
	dir, last, trailing, err := w.resolveParent(start, name)
	if err != nil {
		return Path{}, false, err
	}
	for {
		if isDot(last) {
			return Path{}, false, unix.EISDIR
		}
		p, err := w.step(dir, last, false)
		if err == unix.ENOENT {
			if trailing {
				return Path{}, false, unix.EISDIR
			}
			if err := mayCreate(w.c, dir); err != nil {
				return Path{}, false, err
			}
			w.newChild(dir, last, unix.S_IFREG|mode&0o7777, nil)
			return Path{dir.mnt, dir.d.inode.children[last]}, true, nil
		}
		if err != nil {
			return Path{}, false, err
		}
		if flags&unix.O_EXCL != 0 {
			return Path{}, false, unix.EEXIST
		}
		if !p.d.inode.isSymlink() {
			if trailing && !p.d.inode.isDir() {
				return Path{}, false, unix.ENOTDIR
			}
			return p, false, nil
		}
		if flags&unix.O_NOFOLLOW != 0 {
			return Path{}, false, unix.ELOOP
		}
		// Follow the link; a dangling one is created at its target.
		w.links++
		if w.links > maxSymlinks {
			return Path{}, false, unix.ELOOP
		}
		target, err := w.readlink(p.d.inode)
		if err != nil {
			return Path{}, false, err
		}
		if target == "" {
			return Path{}, false, unix.ENOENT
		}
		comps, tr, err := splitPath(target)
		if err != nil {
			return Path{}, false, err
		}
		base := dir
		if strings.HasPrefix(target, "/") {
			base = w.root()
		}
		if len(comps) == 0 {
			return base, false, nil
		}
		dir, err = w.walk(base, comps[:len(comps)-1], false, true)
		if err != nil {
			return Path{}, false, err
		}
		if !dir.d.inode.isDir() {
			return Path{}, false, unix.ENOTDIR
		}
		last, trailing = comps[len(comps)-1], tr
	}
}

// openMagicFD opens /proc/PID/fd/N whose link text is not a path (a pipe,
// a host file) through ProcFDOpener, as proc_fd_link's magic link does.
func (w *walker) openMagicFD(start Path, name string) (*File, bool, error) {
	if !strings.Contains(name, "fd/") {
		return nil, false, nil
	}
	p, err := w.resolve(start, name, false)
	if err != nil || p.d.inode.fdOf == nil {
		return nil, false, nil
	}
	task, fd := p.d.inode.fdOf()
	var text string
	var ok bool
	w.v.unlocked(func() { text, ok = task.FDLink(fd) })
	if !ok {
		return nil, true, unix.ENOENT
	}
	if strings.HasPrefix(text, "/") {
		return nil, false, nil
	}
	op, ok := task.(ProcFDOpener)
	if !ok {
		return nil, true, unix.ENXIO
	}
	var f *File
	w.v.unlocked(func() { f = op.OpenFD(fd) })
	if f == nil {
		return nil, true, unix.ENOENT
	}
	return f, true, nil
}

// openFIFO finishes opening a FIFO (fifo_open): a reader waits for a
// writer, a writer for a reader (ENXIO if non-blocking), O_RDWR never waits.
func (v *VFS) openFIFO(f *File, p *pipe, cancel <-chan struct{}) (*File, error) {
	r, wr := f.readable(), f.writable()
	nonblock := f.flags&unix.O_NONBLOCK != 0
	if wr && !r && nonblock {
		p.mu.Lock()
		n := p.readers
		p.mu.Unlock()
		if n == 0 {
			return nil, unix.ENXIO
		}
	}
	p.open(r, wr)
	if r && !wr && nonblock {
		// A non-blocking reader that has seen no writer yet must not see
		// POLLHUP until one has come and gone (pipe_poll's w_counter).
		p.mu.Lock()
		if p.writers == 0 {
			f.pipeWSeen = p.wOpens
		}
		p.mu.Unlock()
	}
	if r && wr || nonblock {
		return f, nil
	}
	if err := p.waitPeer(r, cancel); err != nil {
		f.DecRef()
		return nil, err
	}
	return f, nil
}
