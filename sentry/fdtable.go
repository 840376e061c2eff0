package sentry

import (
	"sort"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"kvsentry/vfs"
)

// fdEntry is one slot of a file descriptor table.
type fdEntry struct {
	file    *vfs.File
	cloexec bool
}

// FDTable maps descriptors to open file descriptions (Linux's files_struct).
type FDTable struct {
	// users counts the tasks sharing the table (CLONE_FILES).
	users atomic.Int32

	mu    sync.Mutex
	files map[int32]fdEntry
	// limit is RLIMIT_NOFILE's soft value, checked on allocation.
	limit int32
	// capacity is Linux's fdt->max_fds: the size the table has grown to
	// (it never shrinks), which select(2) clamps its nfds argument to.
	capacity int32
	// owner is the process the table belongs to, and onClose runs for each
	// descriptor it closes (a process loses its POSIX record locks on an
	// inode when it closes any fd of it).
	owner   *ThreadGroup
	onClose func(owner *ThreadGroup, f *vfs.File)
}

// closed runs the close hook and drops the table's reference to f.
func (t *FDTable) closed(f *vfs.File) {
	if t.onClose != nil && t.owner != nil {
		t.onClose(t.owner, f)
	}
	f.DecRef()
}

// newFDTable returns an empty table.
func newFDTable() *FDTable {
	t := &FDTable{files: map[int32]fdEntry{}, limit: 1024, capacity: fdTableDefault}
	t.users.Store(1)
	return t
}

// fdTableDefault is NR_OPEN_DEFAULT (BITS_PER_LONG): the size of a new
// table, embedded in Linux's files_struct.
const fdTableDefault = 64

// fdTableNrOpen is fs.nr_open's default, the largest table Linux allocates.
const fdTableNrOpen = 1 << 20

// fdTableSize is alloc_fdtable's size for a table that must hold fd nr:
// whole kilobytes of pointers (128 slots), a power of two of them.
func fdTableSize(nr int32) int32 {
	const perKB = 1024 / 8
	k := int32(1)
	for k < nr/perKB+1 {
		k <<= 1
	}
	if n := k * perKB; n < fdTableNrOpen {
		return n
	}
	return fdTableNrOpen
}

// growLocked is expand_files: the table grows to hold fd.
func (t *FDTable) growLocked(fd int32) {
	if fd >= t.capacity {
		t.capacity = fdTableSize(fd)
	}
}

// MaxFDs returns the table's current size (fdt->max_fds).
func (t *FDTable) MaxFDs() int32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.capacity
}

// get adds a sharing task (clone with CLONE_FILES).
func (t *FDTable) get() *FDTable {
	t.users.Add(1)
	return t
}

// put drops a sharing task; the last one closes every descriptor.
func (t *FDTable) put() {
	if t.users.Add(-1) == 0 {
		t.CloseAll()
	}
}

// Get returns the file at fd with a reference the caller must DecRef.
func (t *FDTable) Get(fd int32) (*vfs.File, bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.files[fd]
	if !ok {
		return nil, false, unix.EBADF
	}
	e.file.IncRef()
	return e.file, e.cloexec, nil
}

// lowestFreeLocked returns the lowest free descriptor >= min.
func (t *FDTable) lowestFreeLocked(min int32) (int32, error) {
	for fd := min; fd < t.limit; fd++ {
		if _, used := t.files[fd]; !used {
			return fd, nil
		}
	}
	return -1, unix.EMFILE
}

// Add installs f at the lowest free descriptor >= min, taking a new reference.
func (t *FDTable) Add(f *vfs.File, cloexec bool, min int32) (int32, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if min < 0 {
		return -1, unix.EINVAL
	}
	if min >= t.limit {
		return -1, unix.EINVAL
	}
	fd, err := t.lowestFreeLocked(min)
	if err != nil {
		return -1, err
	}
	f.IncRef()
	t.growLocked(fd)
	t.files[fd] = fdEntry{file: f, cloexec: cloexec}
	return fd, nil
}

// Set installs f at fd (dup2 semantics), taking a new reference and
// releasing whatever was there.
func (t *FDTable) Set(fd int32, f *vfs.File, cloexec bool) error {
	if fd < 0 {
		return unix.EBADF
	}
	t.mu.Lock()
	if fd >= t.limit {
		t.mu.Unlock()
		return unix.EBADF
	}
	old, had := t.files[fd]
	f.IncRef()
	t.growLocked(fd)
	t.files[fd] = fdEntry{file: f, cloexec: cloexec}
	t.mu.Unlock()
	if had {
		t.closed(old.file)
	}
	return nil
}

// Remove closes fd.
func (t *FDTable) Remove(fd int32) error {
	t.mu.Lock()
	e, ok := t.files[fd]
	delete(t.files, fd)
	t.mu.Unlock()
	if !ok {
		return unix.EBADF
	}
	t.closed(e.file)
	return nil
}

// SetCloexec changes fd's close-on-exec flag.
func (t *FDTable) SetCloexec(fd int32, on bool) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.files[fd]
	if !ok {
		return unix.EBADF
	}
	e.cloexec = on
	t.files[fd] = e
	return nil
}

// Fork returns a copy sharing every open file description (fork(2)). Like
// dup_fd, the copy is sized for the highest open descriptor (rounded up to
// a word of bits), not for the parent's table.
func (t *FDTable) Fork() *FDTable {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := &FDTable{files: make(map[int32]fdEntry, len(t.files)), limit: t.limit, capacity: fdTableDefault, onClose: t.onClose}
	n.users.Store(1)
	open := int32(0)
	for fd, e := range t.files {
		e.file.IncRef()
		n.files[fd] = e
		if fd+1 > open {
			open = fd + 1
		}
	}
	if open = (open + 63) &^ 63; open > n.capacity {
		n.capacity = fdTableSize(open - 1)
	}
	return n
}

// CloseOnExec closes every descriptor marked close-on-exec (execve(2)).
func (t *FDTable) CloseOnExec() {
	t.mu.Lock()
	var drop []*vfs.File
	for fd, e := range t.files {
		if e.cloexec {
			drop = append(drop, e.file)
			delete(t.files, fd)
		}
	}
	t.mu.Unlock()
	for _, f := range drop {
		t.closed(f)
	}
}

// CloseRange closes descriptors in [first, last] (close_range(2)); with
// cloexecOnly it marks them close-on-exec instead.
func (t *FDTable) CloseRange(first, last uint32, cloexecOnly bool) {
	t.mu.Lock()
	var drop []*vfs.File
	for fd, e := range t.files {
		if uint32(fd) < first || uint32(fd) > last {
			continue
		}
		if cloexecOnly {
			e.cloexec = true
			t.files[fd] = e
			continue
		}
		drop = append(drop, e.file)
		delete(t.files, fd)
	}
	t.mu.Unlock()
	for _, f := range drop {
		t.closed(f)
	}
}

// CloseAll releases every descriptor (process exit).
func (t *FDTable) CloseAll() { t.CloseRange(0, ^uint32(0), false) }

// FDs lists the open descriptors in ascending order.
func (t *FDTable) FDs() []int {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]int, 0, len(t.files))
	for fd := range t.files {
		out = append(out, int(fd))
	}
	sort.Ints(out)
	return out
}
