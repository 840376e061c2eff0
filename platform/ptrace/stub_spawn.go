package ptrace

import (
	"fmt"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// stubPoolFD is the fd number of the page pool inside every stub process.
const stubPoolFD = 0

// spawnStub starts a stub process traced by the calling OS thread, which
// must be locked (runtime.LockOSThread) and stay the tracer. poolFD (or -1)
// becomes fd stubPoolFD of the stub. On return the stub is in a ptrace stop
// with nothing mapped below stubBase except what the caller maps, and pidfd
// refers to it.
//
// Steps: fork+exec the stub image with PTRACE_TRACEME (ptrace(2)), wait for
// the exec SIGTRAP, set tracedOptions and PTRACE_O_TRACECLONE (the stub
// thread becomes a master that clones others, see cloneParked), then
// setupStub moves the code page to stubBase and unmaps everything else.
func spawnStub(poolFD int) (t *stubThread, pidfd int, err error) {
	path, err := stubExecutable()
	if err != nil {
		return nil, -1, err
	}
	cpu := pinTracer() // before the fork: the stub inherits the affinity
	none := ^uintptr(0)
	files := []uintptr{none, none, none}
	if poolFD >= 0 {
		files[stubPoolFD] = uintptr(poolFD)
	}
	pidfd = -1
	attr := &syscall.ProcAttr{
		Env:   []string{},
		Files: files,
		Sys: &syscall.SysProcAttr{
			Ptrace:    true,
			Setsid:    true,
			Pdeathsig: syscall.SIGKILL,
			PidFD:     &pidfd,
		},
	}
	pid, err := syscall.ForkExec(path, []string{"kvsentry-stub"}, attr)
	if err != nil {
		return nil, -1, fmt.Errorf("ptrace: starting the stub: %w", err)
	}
	t = &stubThread{pid: pid, tid: pid, tracer: unix.Gettid(), cpu: cpu}
	fail := func(e error) (*stubThread, int, error) {
		killStub(pid, pidfd)
		return nil, -1, e
	}
	if err := t.waitStop(); err != nil {
		return fail(err)
	}
	if sig := t.stopSignal(); sig != int(unix.SIGTRAP) {
		return fail(fmt.Errorf("ptrace: stub %d: first stop is signal %d, want SIGTRAP", pid, sig))
	}
	if err := ptraceOp(unix.PTRACE_SETOPTIONS, pid, 0, tracedOptions|unix.PTRACE_O_TRACECLONE); err != nil {
		return fail(fmt.Errorf("ptrace: PTRACE_SETOPTIONS: %w", err))
	}
	if err := getRegs(pid, &t.base); err != nil {
		return fail(fmt.Errorf("ptrace: PTRACE_GETREGS: %w", err))
	}
	if err := t.setupStub(); err != nil {
		return fail(err)
	}
	return t, pidfd, nil
}

// setupStub empties the stub's address space: mremap(2) the code page from
// stubLoadAddr to stubBase (the call returns into the old, now unmapped
// page, which raises a SIGSEGV that is suppressed), munmap(2) everything
// below it (stack, vdso, vvar, heap), map an anonymous scratch page above it
// and clear the signal mask so that interrupt signals are never blocked.
func (t *stubThread) setupStub() error {
	rax, err := t.syscallAt(stubLoadAddr+offSyscall, true, unix.SYS_MREMAP,
		[6]uintptr{stubLoadAddr, pageSize, pageSize, unix.MREMAP_MAYMOVE | unix.MREMAP_FIXED, stubBase})
	if err != nil {
		return fmt.Errorf("ptrace: moving the stub page: %w", err)
	}
	if rax != stubBase {
		return fmt.Errorf("ptrace: mremap of the stub page returned %#x", rax)
	}
	steps := []struct {
		what string
		nr   uintptr
		args [6]uintptr
		want uint64
	}{
		{"munmap below the stub", unix.SYS_MUNMAP, [6]uintptr{0, stubBase}, 0},
		{"munmap above the stub", unix.SYS_MUNMAP, [6]uintptr{stubScratch, stubEnd - stubScratch}, 0},
		{"mmap the scratch page", unix.SYS_MMAP, [6]uintptr{stubScratch, pageSize, unix.PROT_READ | unix.PROT_WRITE,
			unix.MAP_PRIVATE | unix.MAP_ANONYMOUS | unix.MAP_FIXED, none(), 0}, stubScratch},
		{"rt_sigprocmask", unix.SYS_RT_SIGPROCMASK, [6]uintptr{unix.SIG_SETMASK, stubBase + offZeroSigset, 0, 8}, 0},
	}
	for _, s := range steps {
		got, err := t.syscall(s.nr, s.args)
		if err != nil {
			return fmt.Errorf("ptrace: stub setup, %s: %w", s.what, err)
		}
		if got != s.want {
			return fmt.Errorf("ptrace: stub setup, %s: returned %#x", s.what, got)
		}
	}
	return nil
}

// none is (uintptr)-1, the fd argument of an anonymous mmap.
func none() uintptr { return ^uintptr(0) }

// killStub kills a stub process with SIGKILL and reaps every thread of it.
// Each traced thread stays a zombie until a thread of the sentry waits for
// it (wait4(2) with __WALL works from any thread of the tracer's thread
// group), and the thread-group leader is reaped only after all others
// (Linux's delay_group_leader), so the threads listed in /proc/PID/task are
// reaped first. A thread whose tracer reaps it at the same time is simply
// not found (ECHILD). SIGKILL also stops any clone in progress, so the list
// is complete. The pidfd makes the kill and the final reap safe against pid
// reuse; it is closed. Any thread may call killStub.
func killStub(pid, pidfd int) {
	if pidfd < 0 {
		unix.Kill(pid, unix.SIGKILL)
	} else {
		unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0)
	}
	if ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task"); err == nil {
		for _, e := range ents {
			if tid, err := strconv.Atoi(e.Name()); err == nil && tid != pid {
				reapThread(tid)
			}
		}
	}
	if pidfd < 0 {
		reapThread(pid)
		return
	}
	var si unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PIDFD, pidfd, &si, unix.WEXITED|unix.WALL, nil)
		if err != unix.EINTR {
			break
		}
	}
	unix.Close(pidfd)
}

// reapThread waits for a killed stub thread until wait4(2) reports its end
// (a ptrace stop reported before the kill is skipped) or says it is not ours
// to wait for (ECHILD: reaped already, or untraced and reaped by the kernel).
func reapThread(tid int) {
	var ws unix.WaitStatus
	for wait4(tid, &ws) == nil && !ws.Exited() && !ws.Signaled() {
	}
}
