package vfs

import (
	"encoding/binary"
	"sort"

	"golang.org/x/sys/unix"
)

// dirEntry is one name of a directory listing.
type dirEntry struct {
	name string
	ino  uint64
	typ  uint8
}

// listDir lists directory p without "." and "..": the lower directory's
// entries minus whiteouts and shadowed names, then upper-only names
// (ovl_iterate's merged readdir). Called with v.mu held for writing.
func (v *VFS) listDir(c *Ctx, p Path) ([]dirEntry, error) {
	in := p.d.inode
	if !in.isDir() {
		return nil, unix.ENOTDIR
	}
	var out []dirEntry
	if in.list != nil {
		var ents []procEntry
		v.unlocked(func() { ents = in.list(c) })
		for _, e := range ents {
			out = append(out, dirEntry{e.name, e.ino, dtype(e.mode)})
		}
		return out, nil
	}
	seen := map[string]bool{}
	if in.hostPath != "" && !p.d.dead {
		ents, err := in.fs.hostReaddir(in.hostPath)
		if err != nil && err != unix.ENOENT && err != unix.ENOTDIR {
			return nil, err
		}
		for _, e := range ents {
			if in.whiteouts[e.name] {
				continue
			}
			seen[e.name] = true
			if ch, ok := in.children[e.name]; ok {
				out = append(out, dirEntry{e.name, ch.inode.ino, dtype(ch.inode.mode)})
			} else {
				out = append(out, dirEntry{e.name, e.ino, e.dtype})
			}
		}
	}
	var upper []string
	for name := range in.children {
		if !seen[name] {
			upper = append(upper, name)
		}
	}
	sort.Strings(upper)
	for _, name := range upper {
		ch := in.children[name]
		out = append(out, dirEntry{name, ch.inode.ino, dtype(ch.inode.mode)})
	}
	return out, nil
}

// direntSize is the 8-aligned length of a linux_dirent64 record for name.
func direntSize(name string) int { return (19 + len(name) + 1 + 7) &^ 7 }

// appendDirent encodes one linux_dirent64 record (fs/readdir.c filldir64).
func appendDirent(b []byte, ino uint64, off int64, typ uint8, name string) []byte {
	n := direntSize(name)
	rec := make([]byte, n)
	binary.LittleEndian.PutUint64(rec[0:], ino)
	binary.LittleEndian.PutUint64(rec[8:], uint64(off))
	binary.LittleEndian.PutUint16(rec[16:], uint16(n))
	rec[18] = typ
	copy(rec[19:], name)
	return append(b, rec...)
}

// Getdents64 returns linux_dirent64 records filling at most size bytes
// (getdents64(2)). "." and ".." come first; the listing is a snapshot taken
// at the first call after open or a rewind, so it is stable across
// unlinks done meanwhile; d_off is the cookie Seek(SEEK_SET) accepts.
func (f *File) Getdents64(size int) ([]byte, error) {
	if f.kind == fkPath {
		return nil, unix.EBADF
	}
	if f.kind != fkDir {
		return nil, unix.ENOTDIR
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.dents == nil {
		f.v.mu.Lock()
		ents, err := f.v.listDir(nil, f.path)
		if err == nil {
			pp := f.v.parentOf(f.v.Root(), f.path)
			ents = append([]dirEntry{
				{".", f.path.d.inode.ino, unix.DT_DIR},
				{"..", pp.d.inode.ino, unix.DT_DIR},
			}, ents...)
		}
		f.v.mu.Unlock()
		if err != nil {
			return nil, err
		}
		f.dents = ents
	}
	defer f.notifyFile(unix.IN_ACCESS) // iterate_dir's fsnotify_access
	var out []byte
	for f.off < int64(len(f.dents)) {
		e := f.dents[f.off]
		if len(out)+direntSize(e.name) > size {
			if len(out) == 0 {
				return nil, unix.EINVAL
			}
			break
		}
		out = appendDirent(out, e.ino, f.off+1, e.typ, e.name)
		f.off++
	}
	return out, nil
}
