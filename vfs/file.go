package vfs

import (
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// fileKind says what an open file description refers to.
type fileKind int

const (
	fkPath    fileKind = iota // O_PATH: only a location
	fkReg                     // overlay/devfs regular file (memory or lower host file)
	fkDir                     // directory
	fkGen                     // procfs file: content generated at open
	fkDev                     // character device
	fkPipe                    // pipe end or FIFO
	fkHost                    // host fd pass-through
	fkEventFD                 // eventfd(2) counter
	fkTimerFD                 // timerfd_create(2) timer
	fkEpoll                   // epoll_create(2) instance
	fkImpl                    // implemented outside vfs (FileImpl)
)

// File is an open file description (struct file), shared by dup and fork.
type File struct {
	refs atomic.Int64
	v    *VFS
	kind fileKind
	path Path
	in   *inode

	mu    sync.Mutex // guards flags, off, dents
	flags int
	off   int64
	dents []dirEntry
	gen   []byte
	dev   *device
	pipe  *pipe
	// pipeWSeen is the pipe's writer-open count a FIFO reader saw at open
	// (f_pipe): POLLHUP needs a writer to have come and gone since.
	pipeWSeen int
	hfd       int    // fkHost: the host fd
	hname     string // fkHost: its name
	hostMu    sync.Mutex
	hostFD    int        // fkReg: lazily opened lower host fd, -1 = none
	hw        *hostWatch // fkHost: readiness from the host poller
	efd       *eventFD   // fkEventFD
	tfd       *timerFD   // fkTimerFD
	ep        *eventPoll // fkEpoll
	impl      FileImpl   // fkImpl

	// releaseMu guards onRelease, callbacks run when the last reference
	// goes (locks_remove_file, ...).
	releaseMu sync.Mutex
	onRelease []func()

	// epMu guards epItems, the epoll entries watching this file (f_ep),
	// dropped when the file is released (eventpoll_release).
	epMu    sync.Mutex
	epItems map[*epitem]struct{}
}

// newFile makes a File with one reference.
func newFile(v *VFS, kind fileKind, p Path, in *inode, flags int) *File {
	f := &File{v: v, kind: kind, path: p, in: in, flags: flags &^ (unix.O_CREAT | unix.O_EXCL | unix.O_TRUNC | unix.O_NOCTTY | unix.O_CLOEXEC), hfd: -1, hostFD: -1}
	f.refs.Store(1)
	if in != nil {
		in.notify.opens.Add(1)
	}
	return f
}

// IncRef takes a reference (dup, fork).
func (f *File) IncRef() { f.refs.Add(1) }

// DecRef drops a reference; the last one releases the file (__fput).
func (f *File) DecRef() {
	if f.refs.Add(-1) != 0 {
		return
	}
	f.releaseMu.Lock()
	hooks := f.onRelease
	f.onRelease = nil
	f.releaseMu.Unlock()
	for _, fn := range hooks {
		fn()
	}
	f.notifyRelease()
	if in := f.in; f.v != nil && in != nil && in.isReg() && (f.writable() || in.notify.opens.Load() == 0) {
		f.v.fileClosed(in, f.writable())
	}
	eventpollRelease(f)
	switch f.kind {
	case fkPipe:
		f.pipe.release(f.readable(), f.writable())
	case fkHost:
		f.hw.release()
		unix.Close(f.hfd)
	case fkTimerFD:
		f.tfd.release()
	case fkEpoll:
		f.ep.release()
	case fkImpl:
		f.impl.Release()
	case fkReg:
		f.hostMu.Lock()
		if f.hostFD >= 0 {
			unix.Close(f.hostFD)
			f.hostFD = -1
		}
		f.hostMu.Unlock()
	}
}

func (f *File) readable() bool {
	a := f.flags & unix.O_ACCMODE
	return f.kind != fkPath && (a == unix.O_RDONLY || a == unix.O_RDWR)
}

func (f *File) writable() bool {
	a := f.flags & unix.O_ACCMODE
	return f.kind != fkPath && (a == unix.O_WRONLY || a == unix.O_RDWR)
}

func (f *File) nonblock() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.flags&unix.O_NONBLOCK != 0
}

// Flags returns the status flags and access mode (F_GETFL).
func (f *File) Flags() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.flags
}

// SetFlags sets F_SETFL flags; only O_APPEND and O_NONBLOCK change.
func (f *File) SetFlags(flags int) {
	const settable = unix.O_APPEND | unix.O_NONBLOCK
	f.mu.Lock()
	f.flags = f.flags&^settable | flags&settable
	f.mu.Unlock()
}

// Path returns where the file was opened (invalid for pipes and host files).
func (f *File) Path() Path { return f.path }

// HostFD returns the host fd of a NewHostFile file, for ioctls the sentry
// forwards itself (terminal control).
func (f *File) HostFD() (int, bool) { return f.hfd, f.kind == fkHost }

// Name is the /proc/self/fd link text: a path, "pipe:[ino]", or the host name.
func (f *File) Name(c *Ctx) string {
	switch {
	case f.kind == fkHost:
		return f.hname
	case f.path.Valid():
		return f.v.PathString(c, f.path)
	case f.kind == fkPipe:
		return "pipe:[" + itoa(int64(f.pipe.ino)) + "]"
	case f.kind == fkEventFD:
		return "anon_inode:[eventfd]"
	case f.kind == fkTimerFD:
		return "anon_inode:[timerfd]"
	case f.kind == fkEpoll:
		return "anon_inode:[eventpoll]"
	case f.kind == fkImpl:
		return f.impl.Name()
	}
	return "anon_inode:[unknown]"
}

// Stat returns the file's attributes (fstat(2)).
func (f *File) Stat() (Stat, error) {
	switch {
	case f.kind == fkHost:
		var st unix.Stat_t
		if err := unix.Fstat(f.hfd, &st); err != nil {
			return Stat{}, err
		}
		return Stat{Dev: st.Dev, Ino: st.Ino, Nlink: uint64(st.Nlink), Rdev: st.Rdev, Mode: st.Mode,
			UID: st.Uid, GID: st.Gid, Size: st.Size, Blksize: int64(st.Blksize), Blocks: st.Blocks,
			Atime: st.Atim, Mtime: st.Mtim, Ctime: st.Ctim}, nil
	case f.in == nil && f.pipe != nil:
		return f.pipe.created, nil
	case f.kind == fkEventFD || f.kind == fkTimerFD || f.kind == fkEpoll:
		return anonInodeStat, nil
	case f.kind == fkImpl:
		return implStat(f), nil
	case f.in == nil:
		return Stat{}, unix.EBADF
	}
	f.v.mu.RLock()
	defer f.v.mu.RUnlock()
	return f.in.stat(), nil
}

// Read reads at the file offset and advances it (read(2)). 0 means EOF.
func (f *File) Read(dst []byte) (int, error) { return f.ReadCancel(dst, nil) }

// ReadCancel is Read whose blocking wait (pipes, FIFOs) ends with EINTR
// when cancel is closed (a signal arrived).
func (f *File) ReadCancel(dst []byte, cancel <-chan struct{}) (int, error) {
	n, err := f.readCancel(dst, cancel)
	if n > 0 {
		f.notifyFile(unix.IN_ACCESS) // vfs_read's fsnotify_access
	}
	return n, err
}

// readCancel is ReadCancel without the inotify event.
func (f *File) readCancel(dst []byte, cancel <-chan struct{}) (int, error) {
	if !f.readable() {
		return 0, unix.EBADF
	}
	switch f.kind {
	case fkDir:
		return 0, unix.EISDIR
	case fkPipe:
		return f.pipe.read(dst, f.nonblock(), cancel)
	case fkHost:
		return f.hostRead(dst, cancel)
	case fkDev:
		return f.dev.read(dst)
	case fkEventFD:
		return f.efd.read(dst, f.nonblock(), cancel)
	case fkTimerFD:
		return f.tfd.read(dst, f.nonblock(), cancel)
	case fkEpoll:
		return 0, unix.EINVAL
	case fkImpl:
		return f.impl.Read(dst, f.nonblock(), cancel)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.preadAt(dst, f.off)
	f.off += int64(n)
	return n, err
}

// Write writes at the file offset (at the end with O_APPEND) and advances it.
func (f *File) Write(src []byte) (int, error) { return f.WriteCancel(src, nil) }

// WriteCancel is Write whose blocking wait ends with EINTR when cancel is
// closed. On EPIPE the caller sends SIGPIPE.
func (f *File) WriteCancel(src []byte, cancel <-chan struct{}) (int, error) {
	n, err := f.writeCancel(src, cancel)
	if n > 0 {
		f.notifyFile(unix.IN_MODIFY) // vfs_write's fsnotify_modify
	}
	return n, err
}

// writeCancel is WriteCancel without the inotify event.
func (f *File) writeCancel(src []byte, cancel <-chan struct{}) (int, error) {
	if !f.writable() {
		return 0, unix.EBADF
	}
	switch f.kind {
	case fkPipe:
		return f.pipe.write(src, f.nonblock(), cancel)
	case fkHost:
		return f.hostWrite(src, cancel)
	case fkDev:
		return f.dev.write(src)
	case fkEventFD:
		return f.efd.write(src, f.nonblock(), cancel)
	case fkTimerFD, fkEpoll:
		return 0, unix.EINVAL
	case fkImpl:
		return f.impl.Write(src, f.nonblock(), cancel)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n, end, err := f.pwriteAt(src, f.off, f.flags&unix.O_APPEND != 0)
	if n > 0 {
		f.off = end
	}
	return n, err
}

// Pread reads at off without moving the file offset (pread64(2)).
func (f *File) Pread(dst []byte, off int64) (int, error) {
	n, err := f.pread(dst, off)
	if n > 0 {
		f.notifyFile(unix.IN_ACCESS)
	}
	return n, err
}

// pread is Pread without the inotify event.
func (f *File) pread(dst []byte, off int64) (int, error) {
	if !f.readable() {
		return 0, unix.EBADF
	}
	if off < 0 {
		return 0, unix.EINVAL
	}
	switch f.kind {
	case fkDir:
		return 0, unix.EISDIR
	case fkPipe, fkEventFD, fkTimerFD, fkEpoll:
		return 0, unix.ESPIPE
	case fkImpl:
		return 0, errImplSeek
	case fkHost:
		return retryEINTR(func() (int, error) { return unix.Pread(f.hfd, dst, off) })
	case fkDev:
		return f.dev.read(dst)
	}
	return f.preadAt(dst, off)
}

// Pwrite writes at off without moving the file offset (pwrite64(2));
// with O_APPEND it appends, as Linux does.
func (f *File) Pwrite(src []byte, off int64) (int, error) {
	n, err := f.pwrite(src, off)
	if n > 0 {
		f.notifyFile(unix.IN_MODIFY)
	}
	return n, err
}

// pwrite is Pwrite without the inotify event.
func (f *File) pwrite(src []byte, off int64) (int, error) {
	if !f.writable() {
		return 0, unix.EBADF
	}
	if off < 0 {
		return 0, unix.EINVAL
	}
	switch f.kind {
	case fkPipe, fkEventFD, fkTimerFD, fkEpoll:
		return 0, unix.ESPIPE
	case fkImpl:
		return 0, errImplSeek
	case fkHost:
		return retryEINTR(func() (int, error) { return unix.Pwrite(f.hfd, src, off) })
	case fkDev:
		return f.dev.write(src)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n, _, err := f.pwriteAt(src, off, f.flags&unix.O_APPEND != 0)
	return n, err
}

// Seek moves the file offset (lseek(2)).
func (f *File) Seek(off int64, whence int) (int64, error) {
	switch f.kind {
	case fkPath:
		return 0, unix.EBADF
	case fkPipe, fkImpl:
		return 0, unix.ESPIPE
	case fkHost:
		return unix.Seek(f.hfd, off, whence)
	case fkDev, fkEventFD, fkTimerFD, fkEpoll:
		return 0, nil // noop_llseek
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.kind == fkDir {
		switch {
		case whence == unix.SEEK_SET && off >= 0:
			f.off = off
			if off == 0 {
				f.dents = nil
			}
			return off, nil
		case whence == unix.SEEK_CUR && off == 0:
			return f.off, nil
		}
		return 0, unix.EINVAL
	}
	size := f.size()
	var n int64
	switch whence {
	case unix.SEEK_SET:
		n = off
	case unix.SEEK_CUR:
		n = f.off + off
	case unix.SEEK_END:
		n = size + off
	case unix.SEEK_DATA, unix.SEEK_HOLE:
		if off < 0 || off >= size {
			return 0, unix.ENXIO
		}
		n = off
		if whence == unix.SEEK_HOLE {
			n = size
		}
		if f.kind == fkReg && f.in.isReg() {
			f.v.mu.RLock()
			if f.in.hostPath == "" && f.in.gen == nil {
				var err error
				n, err = f.in.content.seekHoleData(off, whence == unix.SEEK_HOLE)
				if err != nil {
					f.v.mu.RUnlock()
					return 0, err
				}
			}
			f.v.mu.RUnlock()
		}
	default:
		return 0, unix.EINVAL
	}
	if n < 0 {
		return 0, unix.EINVAL
	}
	f.off = n
	return n, nil
}

// Truncate sets the size (ftruncate(2)): EINVAL unless open for writing.
func (f *File) Truncate(size int64) error {
	if f.kind == fkPath {
		return unix.EBADF
	}
	if !f.writable() || size < 0 {
		return unix.EINVAL
	}
	if f.kind != fkReg {
		return unix.EINVAL
	}
	f.v.mu.Lock()
	defer f.v.mu.Unlock()
	if err := f.v.truncateLocked(f.in, size); err != nil {
		return err
	}
	notifyChangeLocked(f.path.d, f.in, notifyAttrSize|notifyAttrMtime) // do_truncate
	return nil
}

// Mappable returns the file's content for mmap with its device and inode
// numbers; ENODEV for pipes, directories and devices other than /dev/zero.
func (f *File) Mappable() (m Mappable, dev, ino uint64, err error) {
	switch {
	case f.kind == fkPath:
		return nil, 0, 0, unix.EBADF
	case f.kind == fkReg && f.in.isReg():
		return f.v.newRegMappable(f.in), f.in.fs.dev, f.in.ino, nil
	case f.kind == fkDev && f.dev.zero:
		return zeroMappable{}, f.in.fs.dev, f.in.ino, nil
	}
	return nil, 0, 0, unix.ENODEV
}

// FIONREAD is ioctl(FIONREAD): Ioctl returns the count and the caller
// stores it as an int at arg.
const FIONREAD = 0x541b

// Ioctl handles file-type ioctls (ioctl(2)); ENOTTY otherwise. For
// FIONREAD the result is the byte count, which the caller copies out.
func (f *File) Ioctl(cmd uint32, arg uint64) (uint64, error) {
	if f.kind == fkPath {
		return 0, unix.EBADF
	}
	if f.kind == fkImpl {
		return f.impl.Ioctl(cmd, arg)
	}
	if cmd == FIONREAD {
		switch f.kind {
		case fkPipe:
			f.pipe.mu.Lock()
			n := len(f.pipe.buf)
			f.pipe.mu.Unlock()
			return uint64(n), nil
		case fkReg, fkGen:
			f.mu.Lock()
			defer f.mu.Unlock()
			return uint64(max(0, f.size()-f.off)), nil
		}
	}
	return 0, unix.ENOTTY
}

// retryEINTR repeats a host call interrupted by a host signal.
func retryEINTR(fn func() (int, error)) (int, error) {
	for {
		n, err := fn()
		if err != unix.EINTR {
			if n < 0 {
				n = 0
			}
			return n, err
		}
	}
}

// itoa formats a decimal number.
func itoa(n int64) string {
	if n == 0 {
		return "0"
	}
	neg := n < 0
	if neg {
		n = -n
	}
	var b [24]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

// OnRelease registers fn to run when the last reference to f goes (file
// locks held through the description are dropped then).
func (f *File) OnRelease(fn func()) {
	f.releaseMu.Lock()
	f.onRelease = append(f.onRelease, fn)
	f.releaseMu.Unlock()
}
