package vfs

import (
	"runtime"

	"kvsentry/mm"

	"github.com/sirupsen/logrus"
)

// Memory files' content (memdata.go): where its pages come from and when
// they go back. A regular memory file's pages return to the pool when its
// last link, last open file and last mapping are gone (iput of an unlinked
// shmem inode: shmem_evict_inode). Links and open files are counted
// exactly; mappings hold no File, so live regMappable handles are counted
// and dropped by a GC cleanup. A cleanup on the inode itself is the
// backstop for inodes dropped otherwise (an unmounted tmpfs, lower files
// whose host link count never reaches zero here).

// privatePoolSize is the size of the pool a VFS made without one creates
// for file content (a sparse memfd: only written pages cost memory).
const privatePoolSize = 4 << 30

// contentPool is the pool memory files take pages from: the VFS's, or a
// private one made on first use.
func (v *VFS) contentPool() *mm.Pool {
	if v.pool != nil {
		return v.pool
	}
	v.privOnce.Do(func() {
		p, err := mm.NewPool(privatePoolSize)
		if err != nil {
			logrus.WithError(err).Error("vfs: no pool for file content")
			return
		}
		v.privPool = p
	})
	return v.privPool
}

// newContent makes empty content for in, replacing (and releasing) any it
// had. VFS.mu held for writing.
func (v *VFS) newContent(in *inode) *memData {
	in.content.release()
	md := newMemData(v.contentPool())
	in.content = md
	runtime.AddCleanup(in, (*memData).release, md)
	return md
}

// contentOf returns in's content, making it when the file has none yet.
// VFS.mu held for writing.
func (v *VFS) contentOf(in *inode) *memData {
	if in.content != nil && !in.content.released {
		return in.content
	}
	return v.newContent(in)
}

// loadContent makes in's content a copy of the host file fd (copy-up, the
// upper layer's files). VFS.mu held for writing.
func (v *VFS) loadContent(in *inode, fd int) error {
	md := v.newContent(in)
	if err := md.loadFromFD(fd); err != nil {
		md.release()
		return err
	}
	return nil
}

// putContentLocked releases in's content and page cache once nothing can
// reach them any more: no link, no open file, no mapping. VFS.mu held for
// writing.
func (v *VFS) putContentLocked(in *inode) {
	if !in.isReg() || in.nlink != 0 || in.notify.opens.Load() != 0 || in.maps.Load() != 0 {
		return
	}
	if in.content != nil {
		in.content.release()
		in.content = nil
	}
	in.hostMu.Lock()
	c := in.cache
	in.cache = nil
	in.hostMu.Unlock()
	if c != nil {
		c.Release()
	}
}

// fileClosed runs when the last reference to a file on in goes: a writer's
// unused block rest goes back to the pool, and the content too if that was
// the last use of an unlinked file.
func (v *VFS) fileClosed(in *inode, wrote bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if wrote && in.content != nil {
		in.content.trimReserve()
	}
	v.putContentLocked(in)
}

// newRegMappable returns an mmap handle on in whose life keeps the
// content alive (a mapping's vm_file reference).
func (v *VFS) newRegMappable(in *inode) *regMappable {
	m := &regMappable{v: v, in: in}
	in.maps.Add(1)
	runtime.AddCleanup(m, func(in *inode) {
		in.maps.Add(-1)
		v.mu.Lock()
		v.putContentLocked(in)
		v.mu.Unlock()
	}, in)
	return m
}
