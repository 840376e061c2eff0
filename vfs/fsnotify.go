package vfs

import (
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// fsnotify: the inotify watches of each inode and the hooks that report
// file-system events to them (fs/notify/fsnotify.c, include/linux/fsnotify.h).
//
// Lock order: VFS.mu -> fsnMu -> Inotify.mu -> the instance's waitQueue.mu
// -> eventPoll.lock. Hooks that run without VFS.mu (read, write, close)
// take it for reading first, to see a stable dentry name and parent.

var (
	// fsnMu guards every inode's watch list and every instance's watch
	// tables (the marks' connector locks and group mark mutexes in one).
	fsnMu sync.Mutex
	// fsnWatches counts live watches: with none, every hook returns after
	// one atomic load.
	fsnWatches atomic.Int64
	// fsnCookie numbers rename pairs (fsnotify_sync_cookie).
	fsnCookie atomic.Uint32
)

// inodeNotify is an inode's fsnotify state (i_fsnotify_marks).
type inodeNotify struct {
	// opens counts the open files on the inode (O_PATH included): an
	// unlinked inode reports IN_DELETE_SELF when the last one goes, as
	// Linux does when its last dentry reference is dropped.
	opens atomic.Int64
	// watches are the inotify watches on the inode; guarded by fsnMu.
	watches []*watch
}

// watch is one inotify watch (struct inotify_inode_mark).
type watch struct {
	ino  *Inotify
	node *inode
	wd   int32
	// mask holds the watched events and IN_ONESHOT, IN_EXCL_UNLINK.
	mask uint32
}

// watchFlags are the mask bits a watch keeps besides its events.
const watchFlags = unix.IN_ONESHOT | unix.IN_EXCL_UNLINK

// notifyOn reports whether any watch exists anywhere (the hooks' fast path).
func notifyOn() bool { return fsnWatches.Load() != 0 }

// deliverLocked hands an event to each of ws that watches it
// (fsnotify_handle_inode_event, inotify_handle_inode_event): pathEvent marks
// events on an open file, which IN_EXCL_UNLINK drops once the file's name
// is gone (d_unlinked). fsnMu must be held.
func deliverLocked(ws []*watch, mask uint32, name string, cookie uint32, pathEvent, unlinked bool) {
	if len(ws) == 0 {
		return
	}
	if mask&(unix.IN_MOVE_SELF|unix.IN_DELETE_SELF) != 0 {
		mask &^= unix.IN_ISDIR // inotify never reported IN_ISDIR with these
	}
	for _, w := range append([]*watch(nil), ws...) {
		if w.mask&mask&unix.IN_ALL_EVENTS == 0 {
			continue
		}
		if w.mask&unix.IN_EXCL_UNLINK != 0 && pathEvent && unlinked {
			continue
		}
		w.ino.queue(inotifyEvent{wd: w.wd, mask: mask, cookie: cookie, name: name})
		if w.mask&unix.IN_ONESHOT != 0 {
			w.destroyLocked()
		}
	}
}

// notifyDentryLocked reports mask on in, named by d: to the watches of d's
// parent directory with d's name first, then to in's own watches without a
// name (fsnotify_parent then fsnotify). VFS.mu must be held.
func notifyDentryLocked(d *dentry, in *inode, mask uint32, pathEvent bool) {
	if !notifyOn() || in == nil {
		return
	}
	if in.isDir() {
		mask |= unix.IN_ISDIR
	}
	fsnMu.Lock()
	defer fsnMu.Unlock()
	unlinked := d != nil && d.dead
	if d != nil && d.parent != nil {
		deliverLocked(d.parent.inode.notify.watches, mask, d.name, 0, pathEvent, unlinked)
	}
	deliverLocked(in.notify.watches, mask, "", 0, pathEvent, unlinked)
}

// notifyInodeLocked reports mask to in's own watches only (fsnotify_inode:
// IN_ATTRIB for a link count change, IN_MOVE_SELF).
func notifyInodeLocked(in *inode, mask uint32) {
	if !notifyOn() {
		return
	}
	if in.isDir() {
		mask |= unix.IN_ISDIR
	}
	fsnMu.Lock()
	deliverLocked(in.notify.watches, mask, "", 0, false, false)
	fsnMu.Unlock()
}

// notifyNameLocked reports mask about child name to directory dir's
// watches (fsnotify_name: create, delete, moves).
func notifyNameLocked(dir *inode, mask uint32, name string, child *inode, cookie uint32) {
	if !notifyOn() {
		return
	}
	if child != nil && child.isDir() {
		mask |= unix.IN_ISDIR
	}
	fsnMu.Lock()
	deliverLocked(dir.notify.watches, mask, name, cookie, false, false)
	fsnMu.Unlock()
}

// notifyGoneLocked reports IN_DELETE_SELF and drops every watch of in
// (IN_IGNORED) when its last link and last open file are gone
// (fsnotify_inoderemove from dentry_unlink_inode). VFS.mu must be held.
func notifyGoneLocked(in *inode) {
	if !notifyOn() || in.nlink != 0 || in.notify.opens.Load() != 0 || in.fs.kind == fsProc {
		return
	}
	fsnMu.Lock()
	defer fsnMu.Unlock()
	deliverLocked(in.notify.watches, unix.IN_DELETE_SELF, "", 0, false, false)
	for len(in.notify.watches) > 0 {
		in.notify.watches[0].destroyLocked()
	}
}

// notifyCreateLocked is fsnotify_create/fsnotify_mkdir: IN_CREATE on dir.
func notifyCreateLocked(dir *inode, name string, child *inode) {
	notifyNameLocked(dir, unix.IN_CREATE, name, child, 0)
}

// notifyLinkLocked is fsnotify_link: IN_ATTRIB on the inode (its link
// count changed), then IN_CREATE on the directory.
func notifyLinkLocked(dir *inode, name string, in *inode) {
	notifyInodeLocked(in, unix.IN_ATTRIB)
	notifyNameLocked(dir, unix.IN_CREATE, name, in, 0)
}

// notifyRemoveLocked follows vfs_unlink and vfs_rmdir: IN_ATTRIB on an
// unlinked non-directory, IN_DELETE_SELF if nothing keeps the inode
// (d_delete), then IN_DELETE on the directory (fsnotify_delete).
func notifyRemoveLocked(dir *inode, name string, victim *inode) {
	if !notifyOn() {
		return
	}
	if !victim.isDir() {
		notifyInodeLocked(victim, unix.IN_ATTRIB)
	}
	notifyGoneLocked(victim)
	notifyNameLocked(dir, unix.IN_DELETE, name, victim, 0)
}

// notifyMoveLocked is fsnotify_move: IN_MOVED_FROM and IN_MOVED_TO with
// one fresh cookie, IN_ATTRIB on a replaced target, IN_MOVE_SELF on the
// moved inode. A replaced target that nothing keeps then reports
// IN_DELETE_SELF (when vfs_rename's caller drops its dentry).
func notifyMoveLocked(odir *inode, oname string, ndir *inode, nname string, moved, target *inode) {
	if !notifyOn() {
		return
	}
	cookie := fsnCookie.Add(1)
	if cookie == 0 {
		cookie = fsnCookie.Add(1)
	}
	notifyNameLocked(odir, unix.IN_MOVED_FROM, oname, moved, cookie)
	notifyNameLocked(ndir, unix.IN_MOVED_TO, nname, moved, cookie)
	if target != nil {
		notifyInodeLocked(target, unix.IN_ATTRIB)
	}
	notifyInodeLocked(moved, unix.IN_MOVE_SELF)
}

// notifyChangeLocked is fsnotify_change for a setattr on d: ia says what
// changed (the notifyAttr* bits).
func notifyChangeLocked(d *dentry, in *inode, ia uint32) {
	var mask uint32
	if ia&(notifyAttrUID|notifyAttrGID|notifyAttrMode) != 0 {
		mask |= unix.IN_ATTRIB
	}
	if ia&notifyAttrSize != 0 {
		mask |= unix.IN_MODIFY
	}
	switch ia & (notifyAttrAtime | notifyAttrMtime) {
	case notifyAttrAtime | notifyAttrMtime:
		mask |= unix.IN_ATTRIB
	case notifyAttrAtime:
		mask |= unix.IN_ACCESS
	case notifyAttrMtime:
		mask |= unix.IN_MODIFY
	}
	if mask != 0 {
		notifyDentryLocked(d, in, mask, false)
	}
}

// What a setattr changed, for notifyChangeLocked (ATTR_* of struct iattr).
const (
	notifyAttrMode uint32 = 1 << iota
	notifyAttrUID
	notifyAttrGID
	notifyAttrSize
	notifyAttrAtime
	notifyAttrMtime
)

// notifyFileLocked reports mask on an open file to its parent directory's
// and its own watches (fsnotify_file). VFS.mu must be held.
func (f *File) notifyFileLocked(mask uint32) {
	if f.in == nil || f.kind == fkPath || !f.path.Valid() {
		return
	}
	notifyDentryLocked(f.path.d, f.in, mask, true)
}

// notifyFile is notifyFileLocked for callers without VFS.mu
// (fsnotify_access, fsnotify_modify).
func (f *File) notifyFile(mask uint32) {
	if !notifyOn() || f.in == nil || f.v == nil || f.kind == fkPath || !f.path.Valid() {
		return
	}
	f.v.mu.RLock()
	defer f.v.mu.RUnlock()
	f.notifyFileLocked(mask)
}

// notifyOpened reports IN_OPEN on a newly opened file (fsnotify_open) and
// returns it. VFS.mu must be held.
func (f *File) notifyOpened() *File {
	f.notifyFileLocked(unix.IN_OPEN)
	return f
}

// notifyRelease runs when the last reference to f goes (__fput):
// IN_CLOSE_WRITE or IN_CLOSE_NOWRITE (fsnotify_close), then, if that was
// the last open file of an unlinked inode, IN_DELETE_SELF.
func (f *File) notifyRelease() {
	in := f.in
	if in == nil {
		return
	}
	if notifyOn() && f.kind != fkPath && f.path.Valid() {
		mask := uint32(unix.IN_CLOSE_NOWRITE)
		if f.writable() {
			mask = unix.IN_CLOSE_WRITE
		}
		f.notifyFile(mask)
	}
	if in.notify.opens.Add(-1) == 0 && notifyOn() && f.v != nil {
		f.v.mu.RLock()
		notifyGoneLocked(in)
		f.v.mu.RUnlock()
	}
}
