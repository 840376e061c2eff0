package sentry

import (
	"math"
	"sync"

	"golang.org/x/sys/unix"

	"kvsentry/vfs"
)

// lockKey names the inode locks apply to.
type lockKey struct{ dev, ino uint64 }

// recordLock is one byte-range lock (fs/locks.c struct file_lock): owned
// by a process (POSIX locks) or an open file description (OFD locks).
type recordLock struct {
	owner      any // *ThreadGroup or *vfs.File
	pid        int32
	write      bool
	start, end uint64 // [start, end); end = MaxUint64 means to the end of file
}

// inodeLocks are the locks of one inode.
type inodeLocks struct {
	records []recordLock
	// flocks maps each open file description holding a flock to whether
	// the lock is exclusive.
	flocks map[*vfs.File]bool
	// changed is closed (and replaced) whenever a lock goes away, waking
	// blocked lockers.
	changed chan struct{}
}

// lockTable holds every file lock of the sandbox.
type lockTable struct {
	mu sync.Mutex
	m  map[lockKey]*inodeLocks
	// waitingFor records which owner each blocked POSIX owner waits for
	// (posix_locks_deadlock).
	waitingFor map[any]any
	// watched holds the file descriptions whose release drops locks.
	watched map[*vfs.File]bool
}

// get returns the locks of key, creating them. lockTable.mu must be held.
func (lt *lockTable) get(key lockKey) *inodeLocks {
	if lt.m == nil {
		lt.m = map[lockKey]*inodeLocks{}
		lt.waitingFor = map[any]any{}
	}
	il := lt.m[key]
	if il == nil {
		il = &inodeLocks{flocks: map[*vfs.File]bool{}, changed: make(chan struct{})}
		lt.m[key] = il
	}
	return il
}

// wakeLocked wakes lockers blocked on il. lockTable.mu must be held.
func (il *inodeLocks) wakeLocked() {
	close(il.changed)
	il.changed = make(chan struct{})
}

// conflict returns a lock of another owner overlapping [start, end) that
// excludes a lock of kind write.
func (il *inodeLocks) conflict(owner any, write bool, start, end uint64) *recordLock {
	for i := range il.records {
		r := &il.records[i]
		if r.owner == owner || r.end <= start || end <= r.start {
			continue
		}
		if write || r.write {
			return r
		}
	}
	return nil
}

// apply installs (or with unlock, removes) owner's lock on [start, end),
// splitting and merging the owner's existing ranges (posix_lock_inode).
func (il *inodeLocks) apply(owner any, pid int32, write, unlock bool, start, end uint64) {
	var out []recordLock
	removed := false
	for _, r := range il.records {
		if r.owner != owner || r.end <= start || end <= r.start {
			out = append(out, r)
			continue
		}
		removed = true
		if r.start < start {
			left := r
			left.end = start
			out = append(out, left)
		}
		if r.end > end {
			right := r
			right.start = end
			out = append(out, right)
		}
	}
	if !unlock {
		nl := recordLock{owner: owner, pid: pid, write: write, start: start, end: end}
		// Merge with adjacent ranges of the same owner and kind.
		var merged []recordLock
		for _, r := range out {
			if r.owner == owner && r.write == write && (r.end == nl.start || nl.end == r.start) {
				nl.start, nl.end = min(nl.start, r.start), max(nl.end, r.end)
				continue
			}
			merged = append(merged, r)
		}
		out = append(merged, nl)
	}
	il.records = out
	if removed || unlock {
		il.wakeLocked()
	}
}

// deadlockLocked reports whether owner waiting for blocker would close a
// cycle of POSIX owners each waiting for the next (posix_locks_deadlock).
func (lt *lockTable) deadlockLocked(owner, blocker any) bool {
	if _, ok := owner.(*ThreadGroup); !ok {
		return false
	}
	for i := 0; i < 64 && blocker != nil; i++ {
		if blocker == owner {
			return true
		}
		blocker = lt.waitingFor[blocker]
	}
	return false
}

// setRecord implements F_SETLK/F_SETLKW (and the OFD variants) on key.
func (lt *lockTable) setRecord(t *Task, key lockKey, owner any, pid int32, typ int16, start, end uint64, wait bool) error {
	for {
		lt.mu.Lock()
		il := lt.get(key)
		if typ == unix.F_UNLCK {
			il.apply(owner, pid, false, true, start, end)
			lt.mu.Unlock()
			return nil
		}
		write := typ == unix.F_WRLCK
		c := il.conflict(owner, write, start, end)
		if c == nil {
			il.apply(owner, pid, write, false, start, end)
			delete(lt.waitingFor, owner)
			lt.mu.Unlock()
			return nil
		}
		if !wait {
			lt.mu.Unlock()
			return unix.EAGAIN
		}
		if lt.deadlockLocked(owner, c.owner) {
			lt.mu.Unlock()
			return unix.EDEADLK
		}
		lt.waitingFor[owner] = c.owner
		ch := il.changed
		lt.mu.Unlock()
		select {
		case <-ch:
		case <-t.intr:
			lt.mu.Lock()
			delete(lt.waitingFor, owner)
			lt.mu.Unlock()
			return errRestartSys
		}
	}
}

// getRecord implements F_GETLK: the first lock that would block, or nil.
func (lt *lockTable) getRecord(key lockKey, owner any, write bool, start, end uint64) *recordLock {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	il := lt.m[key]
	if il == nil {
		return nil
	}
	if c := il.conflict(owner, write, start, end); c != nil {
		cc := *c
		return &cc
	}
	return nil
}

// releaseOwner drops owner's locks on key (a process closing any fd of the
// inode loses its POSIX locks on it; an OFD's last close drops its locks).
func (lt *lockTable) releaseOwner(key lockKey, owner any) {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	if il := lt.m[key]; il != nil {
		il.apply(owner, 0, false, true, 0, math.MaxUint64)
		lt.gcLocked(key, il)
	}
}

// gcLocked forgets an inode without locks. lockTable.mu must be held.
func (lt *lockTable) gcLocked(key lockKey, il *inodeLocks) {
	if len(il.records) == 0 && len(il.flocks) == 0 {
		il.wakeLocked()
		delete(lt.m, key)
	}
}

// flock implements flock(2) on key for the open file description f.
func (lt *lockTable) flock(t *Task, key lockKey, f *vfs.File, op int) error {
	nonblock := op&unix.LOCK_NB != 0
	op &^= unix.LOCK_NB
	for {
		lt.mu.Lock()
		il := lt.get(key)
		if op == unix.LOCK_UN {
			if _, held := il.flocks[f]; held {
				delete(il.flocks, f)
				il.wakeLocked()
			}
			lt.gcLocked(key, il)
			lt.mu.Unlock()
			return nil
		}
		excl := op == unix.LOCK_EX
		blocked := false
		for other, oexcl := range il.flocks {
			if other != f && (excl || oexcl) {
				blocked = true
				break
			}
		}
		if !blocked {
			if old, held := il.flocks[f]; held && old && !excl {
				il.wakeLocked() // a downgrade lets shared lockers in
			}
			il.flocks[f] = excl
			lt.mu.Unlock()
			return nil
		}
		if old, held := il.flocks[f]; held && old != excl {
			// A conversion first drops the old lock (flock_lock_inode).
			delete(il.flocks, f)
			il.wakeLocked()
		}
		if nonblock {
			lt.mu.Unlock()
			return unix.EWOULDBLOCK
		}
		ch := il.changed
		lt.mu.Unlock()
		select {
		case <-ch:
		case <-t.intr:
			return errRestartSys
		}
	}
}

// releaseFile drops every lock held through f, the last reference of an
// open file description going away (locks_remove_file).
func (lt *lockTable) releaseFile(key lockKey, f *vfs.File) {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	il := lt.m[key]
	if il == nil {
		return
	}
	if _, held := il.flocks[f]; held {
		delete(il.flocks, f)
		il.wakeLocked()
	}
	il.apply(f, 0, false, true, 0, math.MaxUint64)
	lt.gcLocked(key, il)
}
