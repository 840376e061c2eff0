package vfs

import (
	"kvsentry/mm"

	"io"

	"golang.org/x/sys/unix"
)

// maxFileSize bounds memory files (a stand-in for RLIMIT_FSIZE / s_maxbytes).
const maxFileSize = 1 << 40

// size is the current size of a regular or generated file.
func (f *File) size() int64 {
	if f.kind == fkGen {
		return int64(len(f.gen))
	}
	f.v.mu.RLock()
	defer f.v.mu.RUnlock()
	return f.in.fileSize()
}

// lowerFD returns the file's own O_RDONLY fd on its lower host file.
func (f *File) lowerFD(rel string) (int, error) {
	f.hostMu.Lock()
	defer f.hostMu.Unlock()
	if f.hostFD < 0 {
		fd, err := f.in.fs.hostOpenReg(rel)
		if err != nil {
			return -1, err
		}
		f.hostFD = fd
	}
	return f.hostFD, nil
}

// preadAt reads a regular or generated file at off (no offset update).
func (f *File) preadAt(dst []byte, off int64) (int, error) {
	if f.kind == fkGen {
		if off >= int64(len(f.gen)) {
			return 0, nil
		}
		return copy(dst, f.gen[off:]), nil
	}
	v := f.v
	v.mu.RLock()
	defer v.mu.RUnlock()
	in := f.in
	if in.hostPath != "" {
		if off >= in.size {
			return 0, nil
		}
		if int64(len(dst)) > in.size-off {
			dst = dst[:in.size-off]
		}
		fd, err := f.lowerFD(in.hostPath)
		if err != nil {
			return 0, err
		}
		return hostPread(fd, dst, off)
	}
	n, err := in.content.readAt(dst, off)
	if err != nil {
		return 0, err
	}
	in.overlayDirty(dst[:n], off)
	return n, nil
}

// pwriteAt writes a regular file at off (at the end if appending), copying
// it up first; it returns the offset just past the written bytes.
func (f *File) pwriteAt(src []byte, off int64, appending bool) (int, int64, error) {
	if f.kind == fkGen {
		if f.in.write == nil {
			return 0, off, unix.EACCES
		}
		if err := f.in.write(nil, src); err != nil {
			return 0, off, err
		}
		return len(src), off + int64(len(src)), nil
	}
	v := f.v
	v.mu.Lock()
	defer v.mu.Unlock()
	in := f.in
	if err := v.copyUp(in); err != nil {
		return 0, off, err
	}
	if appending {
		off = in.content.Size()
	}
	if len(src) == 0 {
		return 0, off, nil
	}
	end := off + int64(len(src))
	if end > maxFileSize || end < off {
		return 0, off, unix.EFBIG
	}
	n, err := v.contentOf(in).writeAt(src, off)
	if err != nil {
		return 0, off, err
	}
	src = src[:n]
	if s := storeOf(in); s != nil {
		s.write(in, off, n)
	}
	in.updateCache(uint64(off), src)
	in.touchMC()
	if in.mode&(unix.S_ISUID|unix.S_ISGID) != 0 && in.mode&unix.S_IXGRP != 0 {
		in.mode &^= unix.S_ISUID | unix.S_ISGID // file_remove_privs
	}
	return n, off + int64(n), nil
}

// regMappable reads an inode's current content for mmap: the lower host
// file until copy-up, memory afterwards.
type regMappable struct {
	v  *VFS
	in *inode
}

// ReadAt implements Mappable; a short read past the end returns io.EOF.
func (m *regMappable) ReadAt(p []byte, off int64) (int, error) {
	m.v.mu.RLock()
	defer m.v.mu.RUnlock()
	in := m.in
	var n int
	if in.hostPath != "" {
		in.hostMu.Lock()
		if in.hostFD < 0 {
			fd, err := in.fs.hostOpenReg(in.hostPath)
			if err != nil {
				in.hostMu.Unlock()
				return 0, err
			}
			in.hostFD = fd
		}
		fd := in.hostFD
		in.hostMu.Unlock()
		want := p
		if off >= in.size {
			want = nil
		} else if int64(len(want)) > in.size-off {
			want = want[:in.size-off]
		}
		for n < len(want) {
			k, err := hostPread(fd, want[n:], off+int64(n))
			if err != nil {
				return n, err
			}
			if k == 0 {
				break
			}
			n += k
		}
	} else {
		var err error
		if n, err = in.content.readAt(p, off); err != nil {
			return 0, err
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// FileCache implements mm.CachedMappable: the inode's page cache, or nil
// when the VFS has no pool.
func (m *regMappable) FileCache() *mm.FileCache {
	if m.v.pool == nil {
		return nil
	}
	in := m.in
	in.hostMu.Lock()
	defer in.hostMu.Unlock()
	if in.cache == nil {
		in.cache = mm.NewFileCache(m.v.pool)
		v := m.v
		in.cache.SetWriteback(func(off uint64, data []byte) { v.writebackPage(in, off, data) })
	}
	return in.cache
}

// pageCache returns the inode's page cache, or nil.
func (in *inode) pageCache() *mm.FileCache {
	in.hostMu.Lock()
	defer in.hostMu.Unlock()
	return in.cache
}

// updateCache copies bytes written at off into cached pages, so shared
// mappings and not yet copied private ones see write(2).
func (in *inode) updateCache(off uint64, src []byte) {
	if c := in.pageCache(); c != nil {
		c.Update(off, src)
	}
}

// overlayDirty puts bytes stored through shared mappings, not yet written
// back, over what a read took from the file's content.
func (in *inode) overlayDirty(dst []byte, off int64) {
	if c := in.pageCache(); c != nil {
		c.OverlayDirty(dst, uint64(off))
	}
}

// writebackPage stores a page written through a shared mapping into the
// file's content, within its current size (a page's tail past end of file
// is not part of the file).
func (v *VFS) writebackPage(in *inode, off uint64, data []byte) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if err := v.copyUp(in); err != nil {
		return
	}
	size := uint64(in.content.Size())
	if off >= size {
		return
	}
	n := min(uint64(len(data)), size-off)
	k, err := v.contentOf(in).writeAt(data[:n], int64(off))
	if err != nil {
		return
	}
	if s := storeOf(in); s != nil {
		s.write(in, int64(off), k)
	}
	in.touchMC()
}

// Fsync writes back what shared mappings of the file stored (fsync(2)).
func (f *File) Fsync() error {
	if f.kind == fkReg && f.in != nil && f.in.isReg() {
		if c := f.in.pageCache(); c != nil {
			c.Sync()
		}
	}
	return nil
}

// invalidateCache drops cached pages of [off, off+n) after the content
// changed (truncate_inode_pages_range).
func (in *inode) invalidateCache(off, n uint64) {
	in.hostMu.Lock()
	c := in.cache
	in.hostMu.Unlock()
	if c != nil {
		c.Invalidate(off, n)
	}
}

// zeroMappable is /dev/zero's mmap content.
type zeroMappable struct{}

// ReadAt implements Mappable with zeros.
func (zeroMappable) ReadAt(p []byte, off int64) (int, error) {
	clear(p)
	return len(p), nil
}
