package sentry

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"kvsentry/kernel/signal"
	"kvsentry/mm"
)

func init() {
	register(unix.SYS_FORK, "", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		return t.clone(cloneArgs{exitSignal: int(unix.SIGCHLD)})
	})
	register(unix.SYS_VFORK, "", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		return t.clone(cloneArgs{flags: unix.CLONE_VM | unix.CLONE_VFORK, exitSignal: int(unix.SIGCHLD)})
	})
	register(unix.SYS_CLONE, "xppppx", Partial, "threads, fork- and vfork-like clones; namespaces and pidfds EINVAL", sysClone)
	register(unix.SYS_CLONE3, "pd", Partial, "as clone", sysClone3)
}

// cloneArgs are clone's decoded arguments (struct kernel_clone_args).
type cloneArgs struct {
	flags      uint64
	exitSignal int
	stack      uint64
	parentTID  uint64
	childTID   uint64
	tls        uint64
}

// sysClone implements clone(2): x86-64 argument order flags, stack,
// parent_tid, child_tid, tls.
func sysClone(t *Task, a *sysArgs) (uint64, error) {
	return t.clone(cloneArgs{
		flags:      a[0] &^ 0xff,
		exitSignal: int(a[0] & 0xff),
		stack:      a[1],
		parentTID:  a[2],
		childTID:   a[3],
		tls:        a[4],
	})
}

// sysClone3 implements clone3(2) (struct clone_args).
func sysClone3(t *Task, a *sysArgs) (uint64, error) {
	addr, size := a[0], a[1]
	const ver0 = 64
	if size < ver0 || size > 4096 {
		return 0, unix.EINVAL
	}
	b := make([]byte, size)
	if _, err := t.mm.CopyIn(addr, b); err != nil {
		return 0, err
	}
	// Bytes beyond what we know must be zero (E2BIG otherwise), as
	// copy_struct_from_user requires.
	for _, c := range b[ver0:] {
		if size > 88 && c != 0 {
			return 0, unix.E2BIG
		}
	}
	u := func(i int) uint64 { return binary.LittleEndian.Uint64(b[8*i:]) }
	flags, exitSignal, stack, stackSize := u(0), u(4), u(5), u(6)
	if exitSignal > 64 || flags&0xff != 0 {
		return 0, unix.EINVAL
	}
	if (stack == 0) != (stackSize == 0) {
		return 0, unix.EINVAL
	}
	if size >= 80 && u(9) != 0 { // set_tid_size
		return 0, unix.EPERM
	}
	return t.clone(cloneArgs{
		flags:      flags,
		exitSignal: int(exitSignal),
		stack:      stack + stackSize,
		parentTID:  u(3),
		childTID:   u(2),
		tls:        u(7),
	})
}

// Clone flags this version accepts.
const cloneKnown = unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND |
	unix.CLONE_PIDFD | unix.CLONE_PTRACE | unix.CLONE_VFORK | unix.CLONE_PARENT |
	unix.CLONE_THREAD | unix.CLONE_NEWNS | unix.CLONE_SYSVSEM | unix.CLONE_SETTLS |
	unix.CLONE_PARENT_SETTID | unix.CLONE_CHILD_CLEARTID | unix.CLONE_DETACHED |
	unix.CLONE_UNTRACED | unix.CLONE_CHILD_SETTID | unix.CLONE_IO

// clone creates a thread or a child process (kernel_clone, copy_process).
func (t *Task) clone(c cloneArgs) (uint64, error) {
	f := c.flags
	if f&^uint64(cloneKnown) != 0 {
		return 0, unix.EINVAL
	}
	// Flag consistency rules of copy_process.
	if f&unix.CLONE_THREAD != 0 && f&unix.CLONE_SIGHAND == 0 {
		return 0, unix.EINVAL
	}
	if f&unix.CLONE_SIGHAND != 0 && f&unix.CLONE_VM == 0 {
		return 0, unix.EINVAL
	}
	if f&(unix.CLONE_NEWNS|unix.CLONE_PIDFD) != 0 {
		return 0, unix.EINVAL
	}
	if c.exitSignal < 0 || c.exitSignal > 64 {
		return 0, unix.EINVAL
	}
	k := t.k
	thread := f&unix.CLONE_THREAD != 0
	tg := t.tg

	var childMM *mm.MM
	if f&unix.CLONE_VM != 0 {
		childMM = k.mmGet(t.mm)
	} else {
		m, err := t.mm.Fork()
		if err != nil {
			return 0, err
		}
		childMM = k.mmGet(m)
	}
	fds := t.fds
	if f&unix.CLONE_FILES != 0 {
		fds.get()
	} else {
		fds = t.fds.Fork()
	}
	fs := t.fs
	if f&unix.CLONE_FS == 0 {
		t.fs.mu.Lock()
		fs = &fsContext{root: t.fs.root, cwd: t.fs.cwd, umask: t.fs.umask}
		t.fs.mu.Unlock()
	}

	child := &Task{k: k, mm: childMM, fds: fds, fs: fs, creds: t.creds, ids: t.ids, sigMask: t.sigMask, intr: make(chan struct{}), alt: t.alt}
	t.syncFP()
	child.regs = t.regs
	child.regs.FPState = append([]byte(nil), t.regs.FPState...)
	child.regs.Rax = 0
	if c.stack != 0 {
		child.regs.Rsp = c.stack
	}
	if f&unix.CLONE_SETTLS != 0 {
		child.regs.Fs_base = c.tls
	}
	if f&unix.CLONE_CHILD_CLEARTID != 0 {
		child.clearChildTID = c.childTID
	}
	if f&unix.CLONE_VM != 0 && f&unix.CLONE_VFORK == 0 {
		// A new thread of execution on the same memory gets no alternate
		// signal stack (copy_process: sas_ss_reset).
		child.alt = signal.AltStack{Flags: signal.SSDisable}
	}
	tg.sigMu.Lock()
	child.comm = t.comm
	tg.sigMu.Unlock()
	k.mu.Lock()
	child.affinity = t.affinity
	k.mu.Unlock()

	ctg := tg
	var vforkDone chan struct{}
	if !thread {
		ctg = newThreadGroup(k, c.exitSignal)
		tg.sigMu.Lock()
		ctg.actions = tg.actions
		ctg.rlimits = tg.rlimits
		ctg.execArgv, ctg.environ, ctg.exePath = tg.execArgv, tg.environ, tg.exePath
		tg.sigMu.Unlock()
		if f&unix.CLONE_VFORK != 0 {
			vforkDone = make(chan struct{})
			ctg.vforkDone = vforkDone
		}
	}

	k.mu.Lock()
	if tg.exiting || t.killed || tg.execing != nil {
		k.mu.Unlock()
		k.mmPut(childMM)
		fds.put()
		return 0, errRestartNoIntr
	}
	if t.ids.ruid != 0 {
		// RLIMIT_NPROC counts the user's tasks; root is exempt
		// (copy_process: CAP_SYS_RESOURCE, CAP_SYS_ADMIN).
		tg.sigMu.Lock()
		limit := tg.rlimits[unix.RLIMIT_NPROC].Cur
		tg.sigMu.Unlock()
		n := uint64(0)
		for _, o := range k.tasks {
			if o.ids.ruid == t.ids.ruid {
				n++
			}
		}
		if n >= limit {
			k.mu.Unlock()
			k.mmPut(childMM)
			fds.put()
			return 0, unix.EAGAIN
		}
	}
	tid := k.allocPIDLocked()
	child.tid, child.tg = tid, ctg
	ctg.tasks[child] = struct{}{}
	k.tasks[tid] = child
	if !thread {
		if f&unix.CLONE_FILES == 0 {
			fds.owner = ctg
		}
		ctg.pid, ctg.leader = tid, child
		ctg.pgid, ctg.sid = tg.pgid, tg.sid
		parent := tg
		if f&unix.CLONE_PARENT != 0 && tg.parent != nil {
			parent = tg.parent
		}
		ctg.parent = parent
		ctg.parentThread = t
		if parent != tg {
			ctg.parentThread = parent.leader
		}
		parent.children[ctg] = struct{}{}
		k.tgs[tid] = ctg
	}
	k.mu.Unlock()

	if f&unix.CLONE_PARENT_SETTID != 0 {
		t.copyOutUint32(c.parentTID, uint32(tid))
	}
	if f&unix.CLONE_CHILD_SETTID != 0 {
		childMM.CopyOut(c.childTID, le32(uint32(tid)))
	}
	child.start(nil, nil)
	if vforkDone != nil {
		t.waitVfork(vforkDone)
	}
	return uint64(tid), nil
}

// waitVfork blocks the vfork parent until the child execs or exits; only a
// kill ends the wait early (the wait is killable, not interruptible).
func (t *Task) waitVfork(done chan struct{}) {
	for {
		select {
		case <-done:
			return
		case <-t.intr:
		}
		t.k.mu.Lock()
		killed := t.killed
		t.k.mu.Unlock()
		if killed {
			return
		}
		<-done
		return
	}
}

// le32 encodes v little-endian.
func le32(v uint32) []byte {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], v)
	return b[:]
}
