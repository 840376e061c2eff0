package vfs

import (
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// Extended attributes (xattr(7)): kept per inode in memory, in the user.,
// trusted. and security. namespaces; system. (POSIX ACLs) is not supported.

// Limits of fs/xattr.c.
const (
	xattrNameMax = 255
	xattrSizeMax = 65536
	// XattrCreate and XattrReplace are setxattr's flags.
	XattrCreate  = 1
	XattrReplace = 2
)

// xattrAllowed checks that attribute attr may be read (write false) or set
// on in by c (xattr_permission): user.* only on regular files and
// directories, trusted.* only for root.
func xattrAllowed(c *Ctx, in *inode, attr string, write bool) error {
	if attr == "" || len(attr) > xattrNameMax {
		return unix.ERANGE
	}
	switch {
	case strings.HasPrefix(attr, "user."):
		if !in.isReg() && !in.isDir() {
			if write {
				return unix.EPERM
			}
			return unix.ENODATA
		}
		want := uint32(mayRead)
		if write {
			want = mayWrite
		}
		return permits(&c.Creds, in, want)
	case strings.HasPrefix(attr, "trusted."):
		if c.Creds.UID != 0 {
			if write {
				return unix.EPERM
			}
			return unix.ENODATA
		}
	case strings.HasPrefix(attr, "security."):
		if write && c.Creds.UID != 0 && !isOwner(&c.Creds, in) {
			return unix.EPERM
		}
	default:
		return unix.EOPNOTSUPP
	}
	return nil
}

// GetXattr returns attribute attr of name (getxattr(2)); name "" is start.
func (v *VFS) GetXattr(c *Ctx, start Path, name, attr string, follow bool) ([]byte, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	w := &walker{v: v, c: c}
	p, err := w.resolveEmpty(start, name, follow)
	if err != nil {
		return nil, err
	}
	in := p.d.inode
	if err := xattrAllowed(c, in, attr, false); err != nil {
		return nil, err
	}
	val, ok := in.xattrs[attr]
	if !ok {
		return nil, unix.ENODATA
	}
	return append([]byte(nil), val...), nil
}

// SetXattr sets attribute attr of name (setxattr(2)) with XattrCreate or
// XattrReplace semantics.
func (v *VFS) SetXattr(c *Ctx, start Path, name, attr string, value []byte, flags int, follow bool) error {
	if flags&^(XattrCreate|XattrReplace) != 0 {
		return unix.EINVAL
	}
	if len(value) > xattrSizeMax {
		return unix.E2BIG
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
		return unix.EOPNOTSUPP
	}
	if p.mnt.readOnly() {
		return unix.EROFS
	}
	if err := xattrAllowed(c, in, attr, true); err != nil {
		return err
	}
	_, exists := in.xattrs[attr]
	if flags&XattrCreate != 0 && exists {
		return unix.EEXIST
	}
	if flags&XattrReplace != 0 && !exists {
		return unix.ENODATA
	}
	if in.xattrs == nil {
		in.xattrs = map[string][]byte{}
	}
	in.xattrs[attr] = append([]byte(nil), value...)
	in.ctime = now()
	notifyDentryLocked(p.d, in, unix.IN_ATTRIB, false) // fsnotify_xattr
	return nil
}

// ListXattr lists the attribute names of name the caller may see
// (listxattr(2)), sorted.
func (v *VFS) ListXattr(c *Ctx, start Path, name string, follow bool) ([]string, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	w := &walker{v: v, c: c}
	p, err := w.resolveEmpty(start, name, follow)
	if err != nil {
		return nil, err
	}
	in := p.d.inode
	var out []string
	for k := range in.xattrs {
		if strings.HasPrefix(k, "trusted.") && c.Creds.UID != 0 {
			continue
		}
		out = append(out, k)
	}
	sort.Strings(out)
	return out, nil
}

// RemoveXattr removes attribute attr of name (removexattr(2)).
func (v *VFS) RemoveXattr(c *Ctx, start Path, name, attr string, follow bool) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	w := &walker{v: v, c: c}
	p, err := w.resolveEmpty(start, name, follow)
	if err != nil {
		return err
	}
	in := p.d.inode
	if p.mnt.readOnly() {
		return unix.EROFS
	}
	if err := xattrAllowed(c, in, attr, true); err != nil {
		return err
	}
	if _, ok := in.xattrs[attr]; !ok {
		return unix.ENODATA
	}
	delete(in.xattrs, attr)
	in.ctime = now()
	notifyDentryLocked(p.d, in, unix.IN_ATTRIB, false) // fsnotify_xattr
	return nil
}
