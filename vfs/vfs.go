package vfs

import (
	"kvsentry/mm"

	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// VFS is the guest's file tree: the overlay root with devfs and procfs mounted.
type VFS struct {
	mu       sync.RWMutex // the tree lock; see the package doc's lock order
	rootDir  string
	rootFD   int // O_PATH fd of the rootfs directory
	proc     ProcSource
	hostname string
	boot     time.Time
	pool     *mm.Pool // page-cache memory (nil: no page cache)

	rootMnt *mount
	mounts  map[mountKey]*mount // mounted-on dentries
	mntList []*mount            // in mount order, for /proc/mounts
}

type mountKey struct {
	parent *mount
	d      *dentry
}

// New builds the VFS over the rootfs directory o.RootDir.
func New(o Options) (*VFS, error) {
	if o.RootDir == "" {
		return nil, fmt.Errorf("vfs: no rootfs directory given")
	}
	var st unix.Stat_t
	if err := unix.Stat(o.RootDir, &st); err != nil {
		return nil, fmt.Errorf("vfs: rootfs %q: %w", o.RootDir, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return nil, fmt.Errorf("vfs: rootfs %q is not a directory", o.RootDir)
	}
	fd, err := unix.Open(o.RootDir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("vfs: open rootfs %q: %w", o.RootDir, err)
	}
	v := &VFS{rootDir: o.RootDir, rootFD: fd, proc: o.Proc, hostname: o.Hostname, pool: o.Pool,
		boot: time.Now(), mounts: map[mountKey]*mount{}}
	if v.hostname == "" {
		v.hostname = "localhost"
	}
	ofs := &filesystem{kind: fsOverlay, dev: overlayDev, name: "overlay"}
	rootIn := inodeFromHost(ofs, &st, ".")
	root := &dentry{name: "/", inode: rootIn}
	v.rootMnt = &mount{fs: ofs, root: root, point: "/"}
	v.mntList = append(v.mntList, v.rootMnt)

	v.mu.Lock()
	defer v.mu.Unlock()
	for _, m := range []struct {
		name string
		d    *dentry
		fs   *filesystem
	}{
		{"dev", newDevfs(), nil},
		{"proc", v.newProcfs(), nil},
	} {
		mp, err := v.ensureMountpoint(root, m.name)
		if err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("vfs: mountpoint /%s: %w", m.name, err)
		}
		mnt := &mount{fs: m.d.inode.fs, root: m.d, parent: v.rootMnt, mountpoint: mp, point: "/" + m.name}
		v.mounts[mountKey{v.rootMnt, mp}] = mnt
		v.mntList = append(v.mntList, mnt)
	}
	return v, nil
}

// ensureMountpoint returns the directory root/name, creating it in memory
// when the rootfs lacks it.
func (v *VFS) ensureMountpoint(root *dentry, name string) (*dentry, error) {
	d, err := v.lookupChild(nil, root, name)
	if err == nil && d.inode.isDir() {
		return d, nil
	}
	if err != nil && err != unix.ENOENT {
		return nil, err
	}
	if d != nil {
		v.removeChild(root, name)
	}
	in := newMemInode(root.inode.fs, unix.S_IFDIR|0o755, &Creds{})
	d = &dentry{name: name, parent: root, inode: in}
	root.inode.children[name] = d
	root.inode.nlink++
	return d, nil
}

// unlocked runs fn, which calls into the sentry (ProcSource, ProcTask),
// with v.mu released: the sentry may call back into the VFS (File.Name,
// PathString). Called with v.mu held for writing.
func (v *VFS) unlocked(fn func()) {
	v.mu.Unlock()
	defer v.mu.Lock()
	fn()
}

// Root returns the path of the sandbox root directory.
func (v *VFS) Root() Path { return Path{v.rootMnt, v.rootMnt.root} }

// inodeFromHost makes an inode from a lower-layer lstat.
func inodeFromHost(fs *filesystem, st *unix.Stat_t, rel string) *inode {
	in := &inode{fs: fs, ino: st.Ino, mode: st.Mode, uid: st.Uid, gid: st.Gid,
		nlink: uint64(st.Nlink), rdev: st.Rdev, size: st.Size, blocks: st.Blocks,
		atime: st.Atim, mtime: st.Mtim, ctime: st.Ctim, hostFD: -1}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		in.hostPath = rel
		in.children = map[string]*dentry{}
	case unix.S_IFREG:
		in.hostPath = rel
	}
	return in
}

// hostChild is the lower path of name in directory rel.
func hostChild(rel, name string) string {
	if rel == "." {
		return name
	}
	return rel + "/" + name
}

// lookupChild finds name (a plain component) in directory d, consulting the
// upper layer, whiteouts, then the lower layer (ovl_lookup); procfs entries
// come from their generators. Called with v.mu held for writing.
func (v *VFS) lookupChild(c *Ctx, d *dentry, name string) (*dentry, error) {
	in := d.inode
	if !in.isDir() {
		return nil, unix.ENOTDIR
	}
	if in.list != nil {
		var ents []procEntry
		v.unlocked(func() { ents = in.list(c) })
		for _, e := range ents {
			if e.name == name {
				return &dentry{name: name, parent: d, inode: e.make()}, nil
			}
		}
		return nil, unix.ENOENT
	}
	if ch, ok := in.children[name]; ok {
		return ch, nil
	}
	if d.dead || in.hostPath == "" || in.whiteouts[name] {
		return nil, unix.ENOENT
	}
	rel := hostChild(in.hostPath, name)
	st, err := v.hostLstat(rel)
	if err != nil {
		if err == unix.ENOTDIR || err == unix.ENOENT || err == unix.ELOOP || err == unix.EXDEV {
			return nil, unix.ENOENT
		}
		return nil, err
	}
	cin := inodeFromHost(in.fs, &st, rel)
	if cin.isSymlink() {
		t, err := v.hostReadlink(rel)
		if err != nil {
			return nil, err
		}
		cin.target = t
	}
	ch := &dentry{name: name, parent: d, inode: cin}
	in.children[name] = ch
	return ch, nil
}

// removeChild drops name from directory d, leaving a whiteout if a lower
// directory sits below (ovl_do_whiteout).
func (v *VFS) removeChild(d *dentry, name string) {
	in := d.inode
	if ch, ok := in.children[name]; ok {
		ch.dead = true
		delete(in.children, name)
	}
	if in.hostPath != "" {
		if in.whiteouts == nil {
			in.whiteouts = map[string]bool{}
		}
		in.whiteouts[name] = true
	}
}

// addChild links ch as name into directory d.
func (v *VFS) addChild(d *dentry, name string, ch *dentry) {
	ch.name, ch.parent, ch.dead = name, d, false
	d.inode.children[name] = ch
}

// mountAt returns the mount covering p, if any.
func (v *VFS) mountAt(p Path) *mount { return v.mounts[mountKey{p.mnt, p.d}] }

// isMountpointOrRoot reports whether p is busy: a filesystem root or covered.
func (v *VFS) isBusy(p Path) bool {
	return p.d.parent == nil || v.mountAt(p) != nil
}

// parentOf returns the ".." of p, staying at root (follow_dotdot).
func (v *VFS) parentOf(root, p Path) Path {
	for {
		if p == root {
			return p
		}
		if p.d != p.mnt.root {
			if p.d.parent == nil {
				return p
			}
			return Path{p.mnt, p.d.parent}
		}
		if p.mnt.parent == nil {
			return p
		}
		p = Path{p.mnt.parent, p.mnt.mountpoint}
	}
}

// PathString returns the absolute guest path of p as seen from c.Root
// (d_path); an unlinked target gets " (deleted)" appended.
func (v *VFS) PathString(c *Ctx, p Path) string {
	if !p.Valid() {
		return ""
	}
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.pathLocked(c, p)
}

func (v *VFS) pathLocked(c *Ctx, p Path) string {
	root := v.Root()
	if c != nil && c.Root.Valid() {
		root = c.Root
	}
	dead := p.d.dead
	var parts []string
	for p != root {
		if p.d == p.mnt.root {
			if p.mnt.parent == nil {
				break
			}
			p = Path{p.mnt.parent, p.mnt.mountpoint}
			continue
		}
		if p.d.parent == nil {
			break
		}
		parts = append(parts, p.d.name)
		p = Path{p.mnt, p.d.parent}
	}
	var b strings.Builder
	for i := len(parts) - 1; i >= 0; i-- {
		b.WriteByte('/')
		b.WriteString(parts[i])
	}
	s := b.String()
	if s == "" {
		s = "/"
	}
	if dead {
		s += " (deleted)"
	}
	return s
}

// Statfs reports the filesystem holding p (statfs(2)).
func (v *VFS) Statfs(c *Ctx, p Path) (unix.Statfs_t, error) {
	if !p.Valid() {
		return unix.Statfs_t{}, unix.EBADF
	}
	var s unix.Statfs_t
	s.Bsize, s.Frsize, s.Namelen = 4096, 4096, 255
	s.Fsid.Val[0] = int32(p.mnt.fs.dev)
	switch p.mnt.fs.kind {
	case fsOverlay:
		s.Type = 0x794c7630 // OVERLAYFS_SUPER_MAGIC
		s.Blocks, s.Bfree, s.Bavail = 1<<21, 1<<20, 1<<20
		s.Files, s.Ffree = 1<<20, 1<<19
	case fsDev:
		s.Type = 0x01021994 // TMPFS_MAGIC
		s.Blocks, s.Bfree, s.Bavail = 1<<16, 1<<16, 1<<16
		s.Files, s.Ffree = 1<<16, 1<<16
		s.Flags = unix.ST_NOSUID
	case fsProc:
		s.Type = 0x9fa0 // PROC_SUPER_MAGIC
		s.Flags = unix.ST_NOSUID | unix.ST_NODEV | unix.ST_NOEXEC
	}
	return s, nil
}
