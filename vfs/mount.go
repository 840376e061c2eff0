package vfs

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// Mount flags kept per mount (include/uapi/linux/mount.h MS_*).
const (
	mntReadOnly = unix.MS_RDONLY
	mntNoSuid   = unix.MS_NOSUID
	mntNoDev    = unix.MS_NODEV
	mntNoExec   = unix.MS_NOEXEC
)

// mount is one mount (struct vfsmount/struct mount).
type mount struct {
	id         int
	fs         *filesystem
	root       *dentry
	parent     *mount  // nil for the root mount
	mountpoint *dentry // dentry in parent covered by this mount
	point      string  // absolute path, for /proc/mounts
	flags      uint64  // mntReadOnly|mntNoSuid|...
	source     string  // first field of /proc/mounts
	opts       string  // filesystem options shown after the mount flags ("mode=755")
}

// readOnly reports whether writes through this mount fail with EROFS.
func (m *mount) readOnly() bool { return m.flags&mntReadOnly != 0 }

// optString is the options field of /proc/mounts (show_mnt_opts + show_options).
func (m *mount) optString() string {
	if m.opts != "" {
		return m.mntOpts() + "," + m.opts
	}
	return m.mntOpts()
}

// mntOpts are the per-mount options (show_mnt_opts), without the filesystem's.
func (m *mount) mntOpts() string {
	s := "rw"
	if m.readOnly() {
		s = "ro"
	}
	for _, f := range []struct {
		bit  uint64
		name string
	}{{mntNoSuid, "nosuid"}, {mntNoDev, "nodev"}, {mntNoExec, "noexec"}} {
		if m.flags&f.bit != 0 {
			s += "," + f.name
		}
	}
	return s + ",relatime"
}

// attach mounts the filesystem rooted at root on directory at (do_add_mount).
// Called with v.mu held for writing.
func (v *VFS) attach(at Path, root *dentry, flags uint64, source, opts string) *mount {
	v.nextMntID++
	m := &mount{id: v.nextMntID, fs: root.inode.fs, root: root, parent: at.mnt, mountpoint: at.d,
		flags: flags, source: source, opts: opts}
	// Mount on top of whatever is already there (mount stacking).
	top := at
	for {
		c := v.mountAt(top)
		if c == nil {
			break
		}
		top = Path{c, c.root}
	}
	m.parent, m.mountpoint = top.mnt, top.d
	m.point = v.pathLocked(nil, top)
	v.mounts[mountKey{top.mnt, top.d}] = m
	v.mntList = append(v.mntList, m)
	return m
}

// detachMount removes m and every mount below it (umount_tree).
func (v *VFS) detachMount(m *mount) {
	var keep []*mount
	gone := map[*mount]bool{m: true}
	for _, x := range v.mntList {
		for p := x; p != nil; p = p.parent {
			if gone[p] {
				gone[x] = true
				break
			}
		}
	}
	for _, x := range v.mntList {
		if gone[x] {
			delete(v.mounts, mountKey{x.parent, x.mountpoint})
			continue
		}
		keep = append(keep, x)
	}
	v.mntList = keep
}

// MountTmpfs mounts a new tmpfs on target (mount(2) with type "tmpfs");
// data is the comma-separated option string (mode=, size=, uid=, gid=).
// Only root may mount (EPERM otherwise).
func (v *VFS) MountTmpfs(c *Ctx, target string, flags uint64, data string) error {
	if c.Creds.UID != 0 {
		return unix.EPERM
	}
	mode, uid, gid, size, err := parseTmpfsOpts(data)
	if err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	w := &walker{v: v, c: c}
	p, err := w.resolve(Path{}, target, true)
	if err != nil {
		return err
	}
	if !p.d.inode.isDir() {
		return unix.ENOTDIR
	}
	root := newTmpfs(mode, uid, gid, size)
	opts := ""
	if mode != 0o1777 {
		opts = fmt.Sprintf("mode=%o", mode)
	}
	if size > 0 {
		opts = strings.TrimPrefix(opts+fmt.Sprintf(",size=%dk", size/1024), ",")
	}
	v.attach(p, root, flags&(mntReadOnly|mntNoSuid|mntNoDev|mntNoExec), "tmpfs", opts)
	return nil
}

// Remount changes the flags of the mount at target (MS_REMOUNT).
func (v *VFS) Remount(c *Ctx, target string, flags uint64) error {
	if c.Creds.UID != 0 {
		return unix.EPERM
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	w := &walker{v: v, c: c}
	p, err := w.resolve(Path{}, target, true)
	if err != nil {
		return err
	}
	if p.d != p.mnt.root {
		return unix.EINVAL
	}
	p.mnt.flags = flags & (mntReadOnly | mntNoSuid | mntNoDev | mntNoExec)
	return nil
}

// Umount detaches the mount whose root is target (umount2(2)); EINVAL if
// target is not a mount root, EBUSY for the sandbox root. MNT_DETACH is
// accepted: nothing keeps mounts busy here.
func (v *VFS) Umount(c *Ctx, target string, follow bool) error {
	if c.Creds.UID != 0 {
		return unix.EPERM
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	w := &walker{v: v, c: c}
	p, err := w.resolve(Path{}, target, follow)
	if err != nil {
		return err
	}
	if p.d != p.mnt.root {
		return unix.EINVAL
	}
	if p.mnt.parent == nil {
		return unix.EBUSY
	}
	v.detachMount(p.mnt)
	return nil
}

// parseTmpfsOpts reads the tmpfs options kvsentry honours (mm/shmem.c
// shmem_parse_one); unknown options are EINVAL as there.
func parseTmpfsOpts(data string) (mode, uid, gid uint32, size int64, err error) {
	mode = 0o1777
	for _, o := range strings.Split(data, ",") {
		k, val, _ := strings.Cut(o, "=")
		var n uint64
		switch k {
		case "", "rw", "ro", "nosuid", "nodev", "noexec", "relatime", "noatime", "nr_inodes", "inode64":
			continue
		case "mode":
			if _, e := fmt.Sscanf(val, "%o", &n); e != nil || n > 0o7777 {
				return 0, 0, 0, 0, unix.EINVAL
			}
			mode = uint32(n)
		case "uid", "gid":
			if _, e := fmt.Sscanf(val, "%d", &n); e != nil || n > 0xfffffffe {
				return 0, 0, 0, 0, unix.EINVAL
			}
			if k == "uid" {
				uid = uint32(n)
			} else {
				gid = uint32(n)
			}
		case "size":
			size, err = parseSize(val)
			if err != nil {
				return 0, 0, 0, 0, err
			}
		default:
			return 0, 0, 0, 0, unix.EINVAL
		}
	}
	return mode, uid, gid, size, nil
}

// parseSize reads a memparse-style size: a number with an optional k/m/g suffix.
func parseSize(s string) (int64, error) {
	mul := int64(1)
	if s != "" {
		switch s[len(s)-1] {
		case 'k', 'K':
			mul = 1 << 10
		case 'm', 'M':
			mul = 1 << 20
		case 'g', 'G':
			mul = 1 << 30
		}
		if mul != 1 {
			s = s[:len(s)-1]
		}
	}
	var n int64
	if _, err := fmt.Sscanf(s, "%d", &n); err != nil || n < 0 {
		return 0, unix.EINVAL
	}
	return n * mul, nil
}

// mountsText is /proc/mounts (fs/proc_namespace.c show_vfsmnt).
func (v *VFS) mountsText() []byte {
	v.mu.RLock()
	defer v.mu.RUnlock()
	var b strings.Builder
	for _, m := range v.mntList {
		fmt.Fprintf(&b, "%s %s %s %s 0 0\n", m.source, escapeMount(m.point), m.fs.name, m.optString())
	}
	return []byte(b.String())
}

// mountinfoText is /proc/PID/mountinfo (show_mountinfo).
func (v *VFS) mountinfoText() []byte {
	v.mu.RLock()
	defer v.mu.RUnlock()
	var b strings.Builder
	for _, m := range v.mntList {
		pid := m.id
		if m.parent != nil {
			pid = m.parent.id
		}
		super := "rw"
		if m.fs.kind == fsSys {
			super = "ro"
		}
		if m.opts != "" {
			super += "," + m.opts
		}
		fmt.Fprintf(&b, "%d %d %d:%d / %s %s - %s %s %s\n", m.id, pid, unix.Major(m.fs.dev), unix.Minor(m.fs.dev),
			escapeMount(m.point), m.mntOpts(),
			m.fs.name, m.source, super)
	}
	return []byte(b.String())
}

// escapeMount octal-escapes space, tab, newline and backslash (mangle()).
func escapeMount(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ' ', '\t', '\n', '\\':
			fmt.Fprintf(&b, "\\%03o", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Statfs reports the filesystem holding p (statfs(2)): f_type is the
// filesystem's magic, f_flags its mount flags (ST_RDONLY ...).
func (v *VFS) Statfs(c *Ctx, p Path) (unix.Statfs_t, error) {
	if !p.Valid() {
		return unix.Statfs_t{}, unix.EBADF
	}
	v.mu.RLock()
	defer v.mu.RUnlock()
	var s unix.Statfs_t
	s.Bsize, s.Frsize, s.Namelen = 4096, 4096, 255
	s.Fsid.Val[0] = int32(p.mnt.fs.dev)
	s.Type = p.mnt.fs.magic
	fs := p.mnt.fs
	switch fs.kind {
	case fsOverlay, fsBind:
		var hs unix.Statfs_t
		if fs.hostFD >= 0 && unix.Fstatfs(fs.hostFD, &hs) == nil {
			s.Blocks, s.Bfree, s.Bavail = hs.Blocks*uint64(hs.Bsize)/4096, hs.Bfree*uint64(hs.Bsize)/4096, hs.Bavail*uint64(hs.Bsize)/4096
			s.Files, s.Ffree = hs.Files, hs.Ffree
			if fs.kind == fsBind {
				s.Type = hs.Type
			}
		} else {
			s.Blocks, s.Bfree, s.Bavail = 1<<21, 1<<20, 1<<20
			s.Files, s.Ffree = 1<<20, 1<<19
		}
	case fsTmpfs, fsDev:
		total := int64(1 << 30)
		if fs.maxBytes > 0 {
			total = fs.maxBytes
		}
		used := v.usedBytes(p.mnt.root)
		s.Blocks = uint64(total / 4096)
		s.Bfree = uint64(max(0, total-used) / 4096)
		s.Bavail = s.Bfree
		s.Files, s.Ffree = 1<<20, 1<<20-1
	}
	for _, f := range []struct {
		mnt uint64
		st  int64
	}{{mntReadOnly, unix.ST_RDONLY}, {mntNoSuid, unix.ST_NOSUID}, {mntNoDev, unix.ST_NODEV}, {mntNoExec, unix.ST_NOEXEC}} {
		if p.mnt.flags&f.mnt != 0 {
			s.Flags |= f.st
		}
	}
	s.Flags |= unix.ST_RELATIME
	return s, nil
}

// usedBytes sums the memory held by the regular files below d (a tmpfs's
// used space). Called with v.mu held.
func (v *VFS) usedBytes(d *dentry) int64 {
	var n int64
	seen := map[*inode]bool{}
	var walk func(d *dentry)
	walk = func(d *dentry) {
		for _, ch := range d.inode.children {
			in := ch.inode
			if seen[in] {
				continue
			}
			seen[in] = true
			if in.isDir() {
				walk(ch)
			} else if in.isReg() {
				n += in.content.pagesHeld() * pageSize
			}
		}
	}
	walk(d)
	return n
}
