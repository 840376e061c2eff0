package vfs

import (
	"golang.org/x/sys/unix"

	"kvsentry/mm"
)

// Creds are the credentials a path operation is checked against
// (fs/namei.c generic_permission). UID 0 bypasses rwx checks, except that
// exec needs at least one x bit.
type Creds struct {
	UID, GID uint32
	Groups   []uint32
}

// inGroup reports whether gid is the caller's fsgid or a supplementary group.
func (c *Creds) inGroup(gid uint32) bool {
	if c.GID == gid {
		return true
	}
	for _, g := range c.Groups {
		if g == gid {
			return true
		}
	}
	return false
}

// Stat is what stat(2)/statx(2) report.
type Stat struct {
	Dev, Ino, Nlink, Rdev uint64
	Mode                  uint32 // S_IFMT | permission bits
	UID, GID              uint32
	Size, Blksize, Blocks int64
	Atime, Mtime, Ctime   unix.Timespec
}

// Path names a dentry in a mount; it is comparable and its zero value is invalid.
type Path struct {
	mnt *mount
	d   *dentry
}

// Valid reports whether p names something.
func (p Path) Valid() bool { return p.mnt != nil && p.d != nil }

// ProcSource is implemented by the sentry to feed /proc.
type ProcSource interface {
	// PIDs returns the live thread-group ids, for listing /proc.
	PIDs() []int
	// Task returns the process with that id, or nil if there is none.
	Task(pid int) ProcTask
}

// ProcTask is one process as /proc/[pid] shows it (fs/proc/base.c).
type ProcTask interface {
	// Exe is the absolute guest path of the executable (/proc/PID/exe).
	Exe() string
	// Cwd is the absolute guest path of the working directory (/proc/PID/cwd).
	Cwd() string
	// Comm is the command name (/proc/PID/comm, without newline).
	Comm() string
	// FDs lists the open file descriptors in ascending order.
	FDs() []int
	// FDLink is the readlink text of /proc/PID/fd/N: a path, "pipe:[N]", ...
	FDLink(fd int) (string, bool)
	// Maps is the content of /proc/PID/maps.
	Maps() []byte
	// Cmdline is the content of /proc/PID/cmdline.
	Cmdline() []byte
	// Environ is the content of /proc/PID/environ.
	Environ() []byte
	// Stat is the content of /proc/PID/stat.
	Stat() []byte
	// Status is the content of /proc/PID/status.
	Status() []byte
}

// ProcTaskDetail may also be implemented by a ProcTask: the files of
// /proc/PID that need more of the sentry (fs/proc/base.c, array.c).
type ProcTaskDetail interface {
	// Limits is the content of /proc/PID/limits.
	Limits() []byte
	// Statm is the content of /proc/PID/statm.
	Statm() []byte
	// FDInfo is the content of /proc/PID/fdinfo/N.
	FDInfo(fd int) ([]byte, bool)
	// OOMScoreAdj is the value of /proc/PID/oom_score_adj.
	OOMScoreAdj() int
	// SetOOMScoreAdj stores a value written to /proc/PID/oom_score_adj.
	SetOOMScoreAdj(v int) error
}

// ProcFDOpener may also be implemented by a ProcTask: opening /proc/PID/fd/N
// whose link text is not an absolute path (a pipe, a host file) then returns
// a new reference to that open file, as Linux's proc_fd_link magic link does.
type ProcFDOpener interface {
	// OpenFD returns the file open at fd with an extra reference, or nil.
	OpenFD(fd int) *File
}

// ProcThreads may also be implemented by a ProcTask: the thread ids that
// /proc/PID/task lists (proc_task_readdir). Without it the task directory
// holds the process id alone.
type ProcThreads interface {
	// TIDs returns the live thread ids in ascending order.
	TIDs() []int
}

// Options configure New.
type Options struct {
	// RootDir is the host directory of the rootfs (the read-only lower layer).
	RootDir string
	// Proc feeds /proc; may be nil (then /proc has no process directories).
	Proc ProcSource
	// Hostname is what /proc/sys/kernel/hostname shows ("localhost" if empty).
	Hostname string
	// Pool, when set, backs a page cache per regular file, so private
	// mappings of one file (every exec of a binary) share its pages.
	Pool *mm.Pool
	// Overlay says where writes to the root go (default OverlayMemory).
	Overlay OverlayMode
	// UpperDir is the host directory keeping the writes of OverlayDir.
	UpperDir string
	// Mounts are host directories bind-mounted into the guest, in order.
	Mounts []BindMount
}

// OverlayMode selects where writes to the root filesystem go.
type OverlayMode int

const (
	// OverlayMemory keeps writes in memory; they vanish at exit.
	OverlayMemory OverlayMode = iota
	// OverlayDir keeps writes in Options.UpperDir, seen by later runs.
	OverlayDir
	// OverlayNone writes straight into the rootfs directory.
	OverlayNone
)

// BindMount is one --mount HOST:GUEST[:ro].
type BindMount struct {
	Source   string // host directory
	Target   string // absolute guest path (created in memory if missing)
	ReadOnly bool
}

// Ctx is the caller's view for a path operation.
type Ctx struct {
	Root, Cwd Path
	Creds     Creds
	PID       int // what /proc/self means
}

// Mappable is what mmap needs from a file: its content (mm.Mappable's shape).
// ReadAt behaves like io.ReaderAt: a short read past the end returns io.EOF.
type Mappable interface {
	ReadAt(p []byte, off int64) (int, error)
}
