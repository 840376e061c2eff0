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
	fsOverlay fsKind = iota // the root: rootfs lower layer, memory or DIR upper
	fsDev                   // devtmpfs at /dev
	fsProc                  // procfs at /proc
	fsTmpfs                 // tmpfs (/tmp, /run, /dev/shm, mount -t tmpfs)
	fsSys                   // sysfs at /sys
	fsDevpts                // devpts at /dev/pts
	fsBind                  // a bind-mounted host directory (--mount)
)

// filesystem is one mounted filesystem instance (struct super_block's role).
type filesystem struct {
	kind  fsKind
	dev   uint64
	name  string // type as /proc/mounts shows it
	magic int64  // statfs f_type

	// hostFD is the O_PATH fd of the host directory under the lower layer
	// (the rootfs, a bind source); -1 for filesystems without one.
	hostFD int
	// store, when set, receives every change so that it persists on the
	// host (--overlay DIR, --overlay none, read-write bind mounts).
	store store
	// mapOwner shows lower files owned by hostUID:hostGID (the user who
	// extracted the rootfs without root) as owned by root.
	mapOwner         bool
	hostUID, hostGID uint32
	// maxBytes bounds a tmpfs (size=); 0 = unbounded.
	maxBytes int64
}

// Statfs magic numbers (include/uapi/linux/magic.h).
const (
	overlayfsMagic = 0x794c7630 // OVERLAYFS_SUPER_MAGIC
	tmpfsMagic     = 0x01021994 // TMPFS_MAGIC
	procMagic      = 0x9fa0     // PROC_SUPER_MAGIC
	sysfsMagic     = 0x62656572 // SYSFS_MAGIC
	devptsMagic    = 0x1cd1     // DEVPTS_SUPER_MAGIC
	ext4Magic      = 0xef53     // EXT4_SUPER_MAGIC (bind mounts report the host's)
)

// Device numbers of our filesystems (anonymous block devices, major 0, as
// Linux's get_anon_bdev hands out).
var (
	overlayDev = unix.Mkdev(0, 0x2a)
	devfsDev   = unix.Mkdev(0, 0x05)
	procfsDev  = unix.Mkdev(0, 0x16)
	pipefsDev  = unix.Mkdev(0, 0x0d)
	sysfsDev   = unix.Mkdev(0, 0x15)
	devptsDev  = unix.Mkdev(0, 0x18)
)

var nextAnonDev atomic.Uint32

func init() { nextAnonDev.Store(0x30) }

// newAnonDev hands out a fresh anonymous device number (get_anon_bdev).
func newAnonDev() uint64 { return unix.Mkdev(0, nextAnonDev.Add(1)) }

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
	size                int64 // for host-backed files; memory files use content.Size()
	blocks              int64 // host-backed only
	atime, mtime, ctime unix.Timespec

	// Overlay lower layer: host path relative to RootDir ("" = none, i.e.
	// the content lives in memory). For regular files, content is read from
	// the host until copied up; for directories, the host directory is merged
	// below children (unless removed: a memory-only dir is opaque).
	hostPath string

	// content is a regular memory file's content (memdata.go); nil reads
	// as empty. Released when the last link, open file and mapping go.
	content *memData
	// maps counts the live mmap handles of the file (regMappable), which
	// keep its content alive; dropped by a GC cleanup (memfile.go).
	maps atomic.Int64
	// tmpfile is set for an unnamed O_TMPFILE file that linkat may name.
	tmpfile bool
	// xattrs are the extended attributes (xattr.go).
	xattrs map[string][]byte
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

	// d is a dentry naming the inode (the latest one linked), for
	// persisting changes made through an open file; inUpper says the
	// store already holds a copy of it.
	d       *dentry
	inUpper bool

	hostMu sync.Mutex // guards hostFD
	hostFD int        // cached O_RDONLY host fd for mmap reads; -1 = none

	// notify holds the inotify watches and the open-file count (fsnotify.go).
	notify inodeNotify
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
		return in.content.Size()
	case in.isSymlink() && in.link == nil:
		return int64(len(in.target))
	case in.isDir() && in.fs.kind == fsTmpfs:
		return int64(20 * (2 + len(in.children))) // shmem's BOGO_DIRENT_SIZE per entry
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
	} else if in.isReg() && in.gen == nil {
		s.Blocks = in.content.pagesHeld() * 8 // pages held, as tmpfs counts
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
