package vfs

import (
	"kvsentry/mm"

	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// fsKind tells the filesystems apart.
type fsKind int

const (
	fsOverlay fsKind = iota
	fsDev
	fsProc
)

// filesystem is one mounted filesystem instance (struct super_block's role).
type filesystem struct {
	kind fsKind
	dev  uint64
	name string // type as /proc/mounts shows it
}

// Device numbers of our filesystems (anonymous block devices, major 0, as
// Linux's get_anon_bdev hands out).
var (
	overlayDev = unix.Mkdev(0, 0x2a)
	devfsDev   = unix.Mkdev(0, 0x05)
	procfsDev  = unix.Mkdev(0, 0x16)
	pipefsDev  = unix.Mkdev(0, 0x0d)
)

// mount is one mount (struct vfsmount/struct mount).
type mount struct {
	fs         *filesystem
	root       *dentry
	parent     *mount  // nil for the root mount
	mountpoint *dentry // dentry in parent covered by this mount
	point      string  // absolute path, for /proc/mounts
}

// dentry is a name in a directory (struct dentry). Dentries of the overlay
// and devfs are cached in their parent's inode; procfs dentries are made on
// every lookup so their content is always live.
type dentry struct {
	name   string
	parent *dentry // nil at a filesystem root
	inode  *inode
	dead   bool // unlinked or rmdir'ed while still referenced
}

// inode holds attributes and content (struct inode). All fields are guarded
// by VFS.mu unless noted.
type inode struct {
	fs                  *filesystem
	ino                 uint64
	mode                uint32 // S_IFMT | perm
	uid                 uint32
	gid                 uint32
	nlink               uint64
	rdev                uint64
	size                int64 // for host-backed files; memory files use len(data)
	blocks              int64 // host-backed only
	atime, mtime, ctime unix.Timespec

	// Overlay lower layer: host path relative to RootDir ("" = none, i.e.
	// the content lives in memory). For regular files, content is read from
	// the host until copied up; for directories, the host directory is merged
	// below children (unless removed: a memory-only dir is opaque).
	hostPath string

	data []byte // regular memory file content
	// cache is the regular file's page cache, made on its first mmap
	// fault (under hostMu); writes and truncation invalidate it.
	cache  *mm.FileCache
	target string // symlink target (static links)

	// Directories.
	children  map[string]*dentry // names present in the upper layer
	whiteouts map[string]bool    // lower names deleted

	// FIFO created with mknod: its pipe (made on first open).
	fifo *pipe

	// procfs generators.
	gen   func(c *Ctx) ([]byte, error)    // regular file content
	link  func(c *Ctx) (string, error)    // symlink text
	list  func(c *Ctx) []procEntry        // directory entries
	fdOf  func() (ProcTask, int)          // /proc/PID/fd/N: task and fd
	write func(c *Ctx, data []byte) error // writable proc file (none yet)

	hostMu sync.Mutex // guards hostFD
	hostFD int        // cached O_RDONLY host fd for mmap reads; -1 = none
}

var nextIno atomic.Uint64

func init() { nextIno.Store(1 << 40) } // far above any host inode number we pass through

// newIno hands out a fresh inode number for memory-only inodes.
func newIno() uint64 { return nextIno.Add(1) }

// now returns the current time as a Timespec.
func now() unix.Timespec {
	return unix.NsecToTimespec(time.Now().UnixNano())
}

// newMemInode makes a memory-only inode with the caller's ownership.
func newMemInode(fs *filesystem, mode uint32, c *Creds) *inode {
	t := now()
	in := &inode{fs: fs, ino: newIno(), mode: mode, nlink: 1, atime: t, mtime: t, ctime: t, hostFD: -1}
	if c != nil {
		in.uid, in.gid = c.UID, c.GID
	}
	if mode&unix.S_IFMT == unix.S_IFDIR {
		in.nlink = 2
		in.children = map[string]*dentry{}
	}
	return in
}

func (in *inode) isDir() bool     { return in.mode&unix.S_IFMT == unix.S_IFDIR }
func (in *inode) isSymlink() bool { return in.mode&unix.S_IFMT == unix.S_IFLNK }
func (in *inode) isReg() bool     { return in.mode&unix.S_IFMT == unix.S_IFREG }

// fileSize is the current size of the inode's content.
func (in *inode) fileSize() int64 {
	switch {
	case in.isReg() && in.hostPath == "" && in.gen == nil:
		return int64(len(in.data))
	case in.isSymlink() && in.link == nil:
		return int64(len(in.target))
	case in.isDir() && in.hostPath == "" && in.fs.kind != fsProc:
		return 4096
	}
	return in.size
}

// stat fills a Stat (fs/stat.c generic_fillattr).
func (in *inode) stat() Stat {
	s := Stat{
		Dev: in.fs.dev, Ino: in.ino, Nlink: in.nlink, Rdev: in.rdev,
		Mode: in.mode, UID: in.uid, GID: in.gid,
		Size: in.fileSize(), Blksize: 4096,
		Atime: in.atime, Mtime: in.mtime, Ctime: in.ctime,
	}
	if in.hostPath != "" && (in.isReg() || in.isDir()) {
		s.Blocks = in.blocks
	} else if in.fs.kind == fsOverlay && !in.isSymlink() {
		s.Blocks = (s.Size + 4095) / 4096 * 8
	}
	return s
}

// touchMC updates mtime and ctime to now (a content change).
func (in *inode) touchMC() {
	t := now()
	in.mtime, in.ctime = t, t
}

// dtype is the d_type of a mode (fs/readdir: S_DT).
func dtype(mode uint32) uint8 { return uint8((mode & unix.S_IFMT) >> 12) }
