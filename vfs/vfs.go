package vfs

import (
	"kvsentry/mm"

	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// VFS is the guest's file tree: the overlay root with devfs, procfs, sysfs
// and tmpfs mounted, and any bind mounts.
type VFS struct {
	mu       sync.RWMutex // the tree lock; see the package doc's lock order
	rootDir  string
	rootFD   int // O_PATH fd of the rootfs directory
	proc     ProcSource
	hostname string
	boot     time.Time
	bootID   string
	pool     *mm.Pool // page-cache memory (nil: no page cache)
	// privPool holds memory files' content when pool is nil (made on
	// first use, see contentPool).
	privOnce sync.Once
	privPool *mm.Pool

	rootMnt   *mount
	mounts    map[mountKey]*mount // mounted-on dentries
	mntList   []*mount            // in mount order, for /proc/mounts
	nextMntID int

	// terms is the terminal driver (terminal.go); nil: ENXIO.
	terms Terminals
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
		boot: time.Now(), bootID: newUUID(), mounts: map[mountKey]*mount{}, nextMntID: 20}
	if v.hostname == "" {
		v.hostname = "localhost"
	}
	ofs := &filesystem{kind: fsOverlay, dev: overlayDev, name: "overlay", magic: overlayfsMagic, hostFD: fd}
	if st.Uid != 0 {
		// Extracted without root: what the tarball made root's is the
		// extracting user's on the host; show it as root's again.
		ofs.mapOwner, ofs.hostUID, ofs.hostGID = true, st.Uid, st.Gid
	}
	rootIn := inodeFromHost(ofs, &st, ".")
	root := &dentry{name: "/", inode: rootIn}
	rootIn.d = root
	v.nextMntID++
	v.rootMnt = &mount{id: v.nextMntID, fs: ofs, root: root, point: "/", source: "overlay"}
	v.mntList = append(v.mntList, v.rootMnt)

	v.mu.Lock()
	defer v.mu.Unlock()
	fail := func(err error) (*VFS, error) {
		unix.Close(fd)
		return nil, err
	}
	switch o.Overlay {
	case OverlayNone:
		ofs.store = &hostStore{fs: ofs}
	case OverlayDir:
		us, err := openUpperStore(o.UpperDir, ofs)
		if err != nil {
			return fail(err)
		}
		ofs.store = us
		if err := v.loadUpper(us); err != nil {
			return fail(fmt.Errorf("vfs: overlay %s: %w", o.UpperDir, err))
		}
	}
	for _, m := range []struct {
		path   string
		d      *dentry
		flags  uint64
		source string
		opts   string
	}{
		{"/proc", v.newProcfs(), mntNoSuid | mntNoDev | mntNoExec, "proc", ""},
		{"/dev", newDevfs(), mntNoSuid, "devtmpfs", "mode=755"},
		{"/dev/pts", newDevpts(), mntNoSuid | mntNoExec, "devpts", "gid=5,mode=620,ptmxmode=666"},
		{"/dev/shm", newTmpfs(0o1777, 0, 0, 0), mntNoSuid | mntNoDev, "shm", ""},
		{"/sys", v.newSysfs(), mntReadOnly | mntNoSuid | mntNoDev | mntNoExec, "sysfs", ""},
		{"/tmp", newTmpfs(0o1777, 0, 0, 0), mntNoSuid | mntNoDev, "tmpfs", ""},
		{"/run", newTmpfs(0o755, 0, 0, 0), mntNoSuid | mntNoDev, "tmpfs", "mode=755"},
	} {
		mp, err := v.ensureMountpointPath(m.path)
		if err != nil {
			return fail(fmt.Errorf("vfs: mountpoint %s: %w", m.path, err))
		}
		v.attach(mp, m.d, m.flags, m.source, m.opts)
	}
	for _, b := range o.Mounts {
		if err := v.bindMount(b); err != nil {
			return fail(err)
		}
	}
	return v, nil
}

// bindMount mounts the host directory b.Source on b.Target (mount --bind);
// a read-write bind mount writes through to the host directory.
func (v *VFS) bindMount(b BindMount) error {
	var st unix.Stat_t
	if err := unix.Stat(b.Source, &st); err != nil {
		return fmt.Errorf("vfs: mount %s: %w", b.Source, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return fmt.Errorf("vfs: mount %s: not a directory", b.Source)
	}
	if !strings.HasPrefix(b.Target, "/") {
		return fmt.Errorf("vfs: mount target %s: not an absolute path", b.Target)
	}
	hfd, err := unix.Open(b.Source, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("vfs: mount %s: %w", b.Source, err)
	}
	fs := &filesystem{kind: fsBind, dev: newAnonDev(), name: "bind", magic: ext4Magic, hostFD: hfd}
	if !b.ReadOnly {
		fs.store = &hostStore{fs: fs}
	}
	root := &dentry{name: "/", inode: inodeFromHost(fs, &st, ".")}
	root.inode.d = root
	mp, err := v.ensureMountpointPath(b.Target)
	if err != nil {
		unix.Close(hfd)
		return fmt.Errorf("vfs: mountpoint %s: %w", b.Target, err)
	}
	var flags uint64
	if b.ReadOnly {
		flags = mntReadOnly
	}
	fs.name = fsTypeName(b.Source)
	v.attach(mp, root, flags, "none", "")
	return nil
}

// fsTypeName is the host filesystem type of dir for /proc/mounts, or "none".
func fsTypeName(dir string) string {
	var s unix.Statfs_t
	if unix.Statfs(dir, &s) != nil {
		return "none"
	}
	switch s.Type {
	case tmpfsMagic:
		return "tmpfs"
	case ext4Magic:
		return "ext4"
	case overlayfsMagic:
		return "overlay"
	case 0x58465342:
		return "xfs"
	case 0x9123683e:
		return "btrfs"
	}
	return "none"
}

// ensureMountpointPath walks the absolute guest path p from the root with
// root's rights, creating missing directories in memory, and returns it.
func (v *VFS) ensureMountpointPath(p string) (Path, error) {
	comps, _, err := splitPath(p)
	if err != nil {
		return Path{}, err
	}
	w := &walker{v: v, c: &Ctx{}}
	cur := v.Root()
	for _, name := range comps {
		cur = w.cross(cur)
		d, err := v.ensureMountpoint(cur.d, name)
		if err != nil {
			return Path{}, err
		}
		cur = Path{cur.mnt, d}
	}
	return w.cross(cur), nil
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
	in.d = d
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
	uid, gid := st.Uid, st.Gid
	if fs.mapOwner && uid == fs.hostUID {
		uid = 0
	}
	if fs.mapOwner && gid == fs.hostGID {
		gid = 0
	}
	in := &inode{fs: fs, ino: st.Ino, mode: st.Mode, uid: uid, gid: gid,
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
	st, err := in.fs.hostLstat(rel)
	if err != nil {
		if err == unix.ENOTDIR || err == unix.ENOENT || err == unix.ELOOP || err == unix.EXDEV {
			return nil, unix.ENOENT
		}
		return nil, err
	}
	cin := inodeFromHost(in.fs, &st, rel)
	if cin.isSymlink() {
		t, err := in.fs.hostReadlink(rel)
		if err != nil {
			return nil, err
		}
		cin.target = t
	}
	ch := &dentry{name: name, parent: d, inode: cin}
	cin.d = ch
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
	ch.inode.d = ch
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
