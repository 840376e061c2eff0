package sentry

import (
	"path"
	"strings"

	"golang.org/x/sys/unix"

	"kvsentry/kernel/signal"
	"kvsentry/mm"
	"kvsentry/platform"
	"kvsentry/sentry/loader"
	"kvsentry/vfs"
)

func init() {
	register(unix.SYS_EXECVE, "svv", Full, "", sysExecve)
	register(unix.SYS_EXECVEAT, "fsvvx", Partial, "AT_EMPTY_PATH and AT_SYMLINK_NOFOLLOW; no fexecve of O_PATH fds to scripts", sysExecveat)
}

// Guest address-space layout (arch/x86/mm/mmap.c, fs/binfmt_elf.c):
// the stack ends below the platform's ceiling, mmap grows down from below
// a gap under it, and ET_DYN programs load at a fixed bias.
const (
	stackSize = 8 << 20
	stackGap  = 128 << 20
	execBase  = 0x555555554000
)

// argMax bounds argv+envp bytes (a quarter of the 8 MiB stack, as Linux).
const argMax = stackSize / 4

// sysExecve implements execve(2).
func sysExecve(t *Task, a *sysArgs) (uint64, error) {
	return t.execveAt(int32(unix.AT_FDCWD), a[0], a[1], a[2], 0)
}

// sysExecveat implements execveat(2).
func sysExecveat(t *Task, a *sysArgs) (uint64, error) {
	return t.execveAt(int32(a[0]), a[1], a[2], a[3], int(a[4]))
}

// execveAt copies in execve's arguments and runs the new program.
func (t *Task) execveAt(dirfd int32, pathAddr, argvAddr, envpAddr uint64, flags int) (uint64, error) {
	if flags&^(unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW) != 0 {
		return 0, unix.EINVAL
	}
	name, err := t.copyInPath(pathAddr)
	if err != nil {
		return 0, err
	}
	total := argMax
	argv, err := t.copyInStrings(argvAddr, &total)
	if err != nil {
		return 0, err
	}
	envv, err := t.copyInStrings(envpAddr, &total)
	if err != nil {
		return 0, err
	}
	if dirfd != int32(unix.AT_FDCWD) || flags != 0 {
		f, err := t.atDir(dirfd, name, flags&unix.AT_EMPTY_PATH != 0)
		if err != nil {
			return 0, err
		}
		if !f.Valid() {
			return 0, unix.EBADF
		}
		if name == "" {
			name = t.k.vfs.PathString(t.vctx(), f)
		} else if !strings.HasPrefix(name, "/") {
			name = path.Join(t.k.vfs.PathString(t.vctx(), f), name)
		}
		if flags&unix.AT_SYMLINK_NOFOLLOW != 0 {
			st, err := t.k.vfs.Stat(t.vctx(), vfs.Path{}, name, false)
			if err != nil {
				return 0, err
			}
			if st.Mode&unix.S_IFMT == unix.S_IFLNK {
				return 0, unix.ELOOP
			}
		}
	}
	if name == "" {
		return 0, unix.ENOENT
	}
	if err := t.execve(name, argv, envv); err != nil {
		return 0, err
	}
	return 0, errNoReturn
}

// execve replaces the task's program (fs/exec.c do_execveat_common). On
// failure before the point of no return the old image is untouched.
func (t *Task) execve(name string, argv, envv []string) error {
	k := t.k
	newMM := mm.New(k.pool, k.plat.MaxUserAddress())
	var rnd [16]byte
	randomBytes(rnd[:])
	stackTop := k.plat.MaxUserAddress() &^ (mm.PageSize - 1)
	opener := &execOpener{t: t}
	defer opener.release()
	res, err := loader.Load(mmMemory{newMM}, opener, loader.Args{
		Path:      name,
		Argv:      argv,
		Envv:      envv,
		Random:    rnd,
		UID:       t.ids.ruid,
		EUID:      t.ids.euid,
		GID:       t.ids.rgid,
		EGID:      t.ids.egid,
		HWCap:     k.hwcap,
		HWCap2:    k.hwcap2,
		StackTop:  stackTop,
		StackSize: stackSize,
		MmapBase:  stackTop - stackSize - stackGap,
		ExecBase:  execBase,
	})
	if err != nil {
		newMM.Release()
		return err
	}
	// Point of no return: the other threads go (de_thread).
	if !t.deThread() {
		newMM.Release()
		return errNoReturn
	}
	t.exitRobustList()
	// The old platform address space is emptied and reused (cheaper than a
	// new one) unless a vfork parent still runs on it.
	old := t.mm
	var as platform.AddressSpace
	if !k.mmShared(old) {
		as = old.AddressSpace()
		old.SetAddressSpace(nil)
	}
	k.mmPut(old)
	if as != nil {
		if err := as.Unmap(0, k.plat.MaxUserAddress()); err != nil {
			as.Release()
			as = nil
		}
	}
	if as == nil {
		as, err = k.plat.NewAddressSpace()
		if err != nil {
			newMM.Release()
			t.mm = k.mmGet(mm.New(k.pool, k.plat.MaxUserAddress()))
			t.k.mu.Lock()
			t.killLocked(wsSignaled(int(unix.SIGKILL), false))
			t.k.mu.Unlock()
			return errNoReturn
		}
	}
	newMM.SetAddressSpace(as)
	t.mm = k.mmGet(newMM)
	// Map the parts of the new image already in the page cache at once.
	newMM.Prefault([]uint64{res.Stack}, prefaultPages, true)

	t.fds.CloseOnExec()
	fp := k.plat.InitialFPState()
	cs, ss := t.regs.Cs, t.regs.Ss
	t.regs = platform.Registers{FPState: fp}
	t.regs.Cs, t.regs.Ss = cs, ss
	if t.regs.Cs == 0 {
		t.regs.Cs, t.regs.Ss = 0x33, 0x2b
	}
	t.regs.Eflags = 0x202
	t.regs.Rip = res.Entry
	t.regs.Rsp = res.Stack
	t.clearChildTID = 0
	t.alt = signal.AltStack{} // begin_new_exec: sas_ss_sp = sas_ss_size = 0

	var env strings.Builder
	for _, e := range envv {
		env.WriteString(e)
		env.WriteByte(0)
	}
	tg := t.tg
	tg.sigMu.Lock()
	tg.actions.ResetForExec()
	tg.execArgv = res.Argv
	tg.environ = []byte(env.String())
	tg.exePath = res.ExePath
	comm := path.Base(name)
	if len(comm) > 15 {
		comm = comm[:15]
	}
	t.comm = comm
	tg.sigMu.Unlock()

	k.mu.Lock()
	tg.stopTimersLocked(false)
	tg.exePathChanged = true
	if tg.vforkDone != nil {
		close(tg.vforkDone)
		tg.vforkDone = nil
	}
	k.mu.Unlock()
	return nil
}

// mmMemory adapts *mm.MM to the loader's Memory interface.
type mmMemory struct{ m *mm.MM }

// Map creates a mapping as the loader asks.
func (a mmMemory) Map(r loader.MapRequest) (uint64, error) {
	o := mm.MmapOpts{
		Addr: r.Addr, Length: r.Length, Offset: r.Offset, Perms: r.Perms,
		Private: r.Private, Fixed: r.Fixed, NoReplace: r.NoReplace,
		Name: r.Name, Dev: r.Dev, Ino: r.Ino,
	}
	if r.File != nil {
		o.File = r.File
	}
	return a.m.Mmap(o)
}

// CopyOut writes to the new image.
func (a mmMemory) CopyOut(addr uint64, src []byte) (int, error) { return a.m.CopyOut(addr, src) }

// ForceCopyOut writes to the new image ignoring VMA protections.
func (a mmMemory) ForceCopyOut(addr uint64, src []byte) (int, error) {
	return a.m.ForceCopyOut(addr, src)
}

// SetBrk sets the heap start.
func (a mmMemory) SetBrk(start uint64) { a.m.SetBrk(start) }

// SetMmapBase sets the mmap area's top.
func (a mmMemory) SetMmapBase(base uint64) { a.m.SetMmapBase(base) }

// FindUnmapped finds a free range.
func (a mmMemory) FindUnmapped(length uint64) (uint64, error) { return a.m.FindUnmapped(length) }

// execOpener opens executables for the loader with the task's view, and
// keeps them until the load is over (mappings hold what they need).
type execOpener struct {
	t      *Task
	opened []*vfs.File
}

// release drops the files opened for the load.
func (o *execOpener) release() {
	for _, f := range o.opened {
		f.DecRef()
	}
	o.opened = nil
}

// OpenExec resolves and opens path for execution (fs/exec.c open_exec).
func (o *execOpener) OpenExec(name string) (loader.File, string, error) {
	t := o.t
	c := t.vctx()
	f, err := t.k.vfs.Open(c, vfs.Path{}, name, unix.O_RDONLY, 0)
	if err != nil {
		return nil, "", err
	}
	st, err := f.Stat()
	if err != nil {
		f.DecRef()
		return nil, "", err
	}
	p := f.Path()
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		f.DecRef()
		return nil, "", unix.EACCES
	}
	if err := t.k.vfs.Access(c, p, "", unix.X_OK, true); err != nil {
		f.DecRef()
		return nil, "", err
	}
	o.opened = append(o.opened, f)
	return execFile{f: f, size: st.Size}, t.k.vfs.PathString(c, p), nil
}

// execFile is an executable opened for the loader.
type execFile struct {
	f    *vfs.File
	size int64
}

// ReadAt reads file content.
func (e execFile) ReadAt(p []byte, off int64) (int, error) { return e.f.Pread(p, off) }

// Size is the file size.
func (e execFile) Size() int64 { return e.size }

// Mappable returns the file's mapping source.
func (e execFile) Mappable() (interface {
	ReadAt([]byte, int64) (int, error)
}, uint64, uint64, error) {
	m, dev, ino, err := e.f.Mappable()
	return m, dev, ino, err
}

// lookPath finds prog in the guest's PATH, as execvp(3) does.
func (t *Task) lookPath(prog string, env []string) (string, error) {
	if strings.Contains(prog, "/") {
		return prog, nil
	}
	pathVar := defaultPath
	for _, e := range env {
		if strings.HasPrefix(e, "PATH=") {
			pathVar = e[5:]
		}
	}
	c := t.vctx()
	denied := false
	for _, dir := range strings.Split(pathVar, ":") {
		if dir == "" {
			dir = "."
		}
		cand := path.Join(dir, prog)
		st, err := t.k.vfs.Stat(c, vfs.Path{}, cand, true)
		if err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
			continue
		}
		if t.k.vfs.Access(c, vfs.Path{}, cand, unix.X_OK, true) != nil {
			denied = true
			continue
		}
		return cand, nil
	}
	if denied {
		return "", unix.EACCES
	}
	return "", unix.ENOENT
}

// deThread makes the calling thread the only one of its process before an
// execve completes (fs/exec.c de_thread): every other thread is killed and
// waited for, and a non-leader takes over the leader's thread id. It
// reports false when the process is exiting (the caller then just dies).
func (t *Task) deThread() bool {
	k := t.k
	tg := t.tg
	k.mu.Lock()
	defer k.mu.Unlock()
	if tg.exiting || t.killed || tg.execing != nil && tg.execing != t {
		t.killLocked(tg.status)
		return false
	}
	if len(tg.tasks) == 1 {
		return true
	}
	tg.execing = t
	for o := range tg.tasks {
		if o != t {
			o.killLocked(0)
		}
	}
	for len(tg.tasks) > 1 {
		tg.threadCond.Wait()
	}
	tg.execing = nil
	if t != tg.leader {
		delete(k.tasks, t.tid)
		t.tid = tg.pid
		k.tasks[t.tid] = t
		tg.leader = t
	}
	return true
}
