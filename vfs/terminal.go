package vfs

import (
	"strconv"

	"golang.org/x/sys/unix"
)

// Terminals is the terminal driver behind /dev/tty, /dev/console,
// /dev/ptmx and /dev/pts/N; the sentry provides it (SetTerminals), since
// controlling terminals belong to sessions. Each method returns the
// FileImpl of the opened end; stat describes the opened node for fstat.
// vfs calls them without VFS.mu held.
type Terminals interface {
	// NewPTY makes pseudo-terminal pair number index for an open of a
	// ptmx node (ptmx_open) and returns its master end; onClose must run
	// once that master is released (it removes /dev/pts/index).
	NewPTY(c *Ctx, index, flags int, stat func() Stat, onClose func()) (FileImpl, error)
	// OpenPTS opens the replica /dev/pts/index (pts_unix98_lookup).
	OpenPTS(c *Ctx, index, flags int, stat func() Stat) (FileImpl, error)
	// OpenTTY opens /dev/tty, the caller's controlling terminal
	// (tty_open_current_tty): ENXIO without one.
	OpenTTY(c *Ctx, flags int, stat func() Stat) (FileImpl, error)
	// OpenConsole opens /dev/console: ENXIO without a console.
	OpenConsole(c *Ctx, flags int, stat func() Stat) (FileImpl, error)
}

// ptsMajor is the device major of /dev/pts/N (UNIX98_PTY_SLAVE_MAJOR).
const ptsMajor = 136

// devptsGID is the group of new /dev/pts nodes (the mount's gid=5, "tty").
const devptsGID = 5

// SetTerminals installs the terminal driver; without one the terminal
// devices fail to open with ENXIO.
func (v *VFS) SetTerminals(t Terminals) {
	v.mu.Lock()
	v.terms = t
	v.mu.Unlock()
}

// openTerminal opens a terminal device node if in is one (tty, console,
// ptmx, pts/N); ok is false for other devices. VFS.mu is held.
func (v *VFS) openTerminal(c *Ctx, p Path, in *inode, flags int) (f *File, ok bool, err error) {
	major, minor := unix.Major(in.rdev), unix.Minor(in.rdev)
	if major != 5 && major != ptsMajor || major == 5 && minor > 2 {
		return nil, false, nil
	}
	if v.terms == nil {
		return nil, true, unix.ENXIO
	}
	terms := v.terms
	stat := func() Stat {
		v.mu.RLock()
		defer v.mu.RUnlock()
		return in.stat()
	}
	var impl FileImpl
	switch {
	case major == ptsMajor:
		v.unlocked(func() { impl, err = terms.OpenPTS(c, int(minor), flags, stat) })
	case minor == 0:
		v.unlocked(func() { impl, err = terms.OpenTTY(c, flags, stat) })
	case minor == 1:
		v.unlocked(func() { impl, err = terms.OpenConsole(c, flags, stat) })
	default:
		index, remove, aerr := v.addPTSNodeLocked(c.Creds.UID)
		if aerr != nil {
			return nil, true, aerr
		}
		v.unlocked(func() { impl, err = terms.NewPTY(c, index, flags, stat, remove) })
		if err != nil {
			v.unlocked(remove)
		}
	}
	if err != nil {
		return nil, true, err
	}
	f = newFile(v, fkImpl, p, in, flags)
	f.impl = impl
	return f.notifyOpened(), true, nil
}

// AddPTSNode makes the node /dev/pts/N for a new pair (devpts_pty_new) and
// returns N and the function removing the node (devpts_pty_kill).
func (v *VFS) AddPTSNode(uid uint32) (int, func(), error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.addPTSNodeLocked(uid)
}

// addPTSNodeLocked is AddPTSNode with VFS.mu held: the lowest free index
// of the first devpts mount.
func (v *VFS) addPTSNodeLocked(uid uint32) (int, func(), error) {
	var root *dentry
	for _, m := range v.mntList {
		if m.fs.kind == fsDevpts {
			root = m.root
			break
		}
	}
	if root == nil {
		return 0, nil, unix.ENODEV
	}
	index := 0
	for {
		if _, used := root.inode.children[strconv.Itoa(index)]; !used {
			break
		}
		index++
	}
	name := strconv.Itoa(index)
	in := newMemInode(root.inode.fs, unix.S_IFCHR|0o620, &Creds{UID: uid, GID: devptsGID})
	in.rdev = unix.Mkdev(ptsMajor, uint32(index))
	d := &dentry{name: name, parent: root, inode: in}
	in.d = d
	root.inode.children[name] = d
	remove := func() {
		v.mu.Lock()
		defer v.mu.Unlock()
		if root.inode.children[name] == d {
			delete(root.inode.children, name)
		}
	}
	return index, remove, nil
}
