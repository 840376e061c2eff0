package vfs

import (
	"path"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// loadUpper merges a persisted upper directory into the memory tree at
// start (ovl_lookup done once, eagerly): whiteouts hide lower names, upper
// objects replace lower ones, upper directories merge with lower ones
// unless recorded opaque. Called with v.mu held for writing.
func (v *VFS) loadUpper(u *upperStore) error {
	root := v.rootMnt.root
	whs := make([]string, 0, len(u.wh))
	for rel := range u.wh {
		whs = append(whs, rel)
	}
	sort.Strings(whs)
	for _, rel := range whs {
		dir, name := path.Split(rel)
		if d := v.loadLookup(root, strings.TrimSuffix(dir, "/")); d != nil && d.inode.isDir() {
			v.removeChild(d, name)
		}
	}
	if m, ok := u.metas[""]; ok {
		applyMeta(root.inode, m)
	}
	root.inode.inUpper = true
	byIno := map[uint64]*inode{}
	err := v.loadDir(u, root, "", byIno)
	u.metas, u.wh = nil, nil
	return err
}

// loadLookup finds rel below d in the memory tree (lower names included).
func (v *VFS) loadLookup(d *dentry, rel string) *dentry {
	if rel == "" {
		return d
	}
	for _, name := range strings.Split(rel, "/") {
		ch, err := v.lookupChild(nil, d, name)
		if err != nil {
			return nil
		}
		d = ch
	}
	return d
}

// loadDir merges upper directory rel into memory directory d.
func (v *VFS) loadDir(u *upperStore, d *dentry, rel string, byIno map[uint64]*inode) error {
	ents, err := u.ufs.hostReaddir(rel)
	if err != nil {
		return err
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].name < ents[j].name })
	for _, e := range ents {
		crel := hostChild(rel, e.name)
		if rel == "" {
			crel = e.name
		}
		if strings.HasPrefix(e.name, tmpPrefix) {
			u.removeUpper(crel) // a copy-up a crash interrupted
			continue
		}
		st, err := u.ufs.hostLstat(crel)
		if err != nil {
			return err
		}
		m, hasMeta := u.metas[crel]
		fs := d.inode.fs
		var in *inode
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			ex, err := v.lookupChild(nil, d, e.name)
			if err == nil && ex.inode.isDir() && ex.inode.hostPath != "" && !(hasMeta && m.opaque) {
				in = ex.inode // merged with the lower directory
			} else {
				in = newMemInode(fs, unix.S_IFDIR|st.Mode&0o7777, nil)
			}
		case unix.S_IFLNK:
			t, err := u.ufs.hostReadlink(crel)
			if err != nil {
				return err
			}
			in = newMemInode(fs, unix.S_IFLNK|0o777, nil)
			in.target = t
		case unix.S_IFIFO, unix.S_IFCHR, unix.S_IFBLK, unix.S_IFSOCK:
			in = newMemInode(fs, st.Mode, nil)
			in.rdev = st.Rdev
		default:
			if prev := byIno[st.Ino]; prev != nil && st.Nlink > 1 {
				in = prev
				in.nlink++
				break
			}
			fd, err := u.ufs.hostOpenReg(crel)
			if err != nil {
				return err
			}
			in = newMemInode(fs, unix.S_IFREG|st.Mode&0o7777, nil)
			err = v.loadContent(in, fd)
			unix.Close(fd)
			if err != nil {
				return err
			}
			byIno[st.Ino] = in
		}
		if in.d == nil || in.d.parent != d || in.d.name != e.name {
			if in.hostPath == "" || !in.isDir() {
				in.uid, in.gid = st.Uid, st.Gid
				if fs.mapOwner && in.uid == fs.hostUID {
					in.uid = 0
				}
				if fs.mapOwner && in.gid == fs.hostGID {
					in.gid = 0
				}
			}
			ch := &dentry{name: e.name, parent: d, inode: in}
			if old, ok := d.inode.children[e.name]; !ok || old.inode != in {
				d.inode.children[e.name] = ch
				in.d = ch
			}
		}
		if hasMeta {
			applyMeta(in, m)
		}
		if in.isReg() {
			in.atime, in.mtime = st.Atim, st.Mtim // the content's own times
		}
		in.inUpper = true
		if in.isDir() {
			if err := v.loadDir(u, in.d, crel, byIno); err != nil {
				return err
			}
		}
	}
	return nil
}

// applyMeta sets recorded attributes (the type too: nodes are kept as
// empty files when the host refuses mknod).
func applyMeta(in *inode, m upperMeta) {
	if m.mode&unix.S_IFMT == in.mode&unix.S_IFMT || !in.isDir() && !in.isSymlink() && m.mode&unix.S_IFMT != unix.S_IFDIR && m.mode&unix.S_IFMT != unix.S_IFLNK {
		in.mode = m.mode
	}
	in.uid, in.gid, in.rdev = m.uid, m.gid, m.rdev
	in.atime, in.mtime = m.atime, m.mtime
	if !in.isReg() && in.content != nil {
		in.content.release()
		in.content = nil
	}
}
