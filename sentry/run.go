package sentry

import (
	"crypto/rand"
	"fmt"
	"os"
	osignal "os/signal"
	"path"
	"strings"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"kvsentry/mm"
	"kvsentry/platform"
	"kvsentry/vfs"
)

// defaultPath is the PATH a guest gets when the caller sets none (as docker's).
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Run boots a sandbox, runs cfg.Argv in it and returns the shell-style exit
// status of the first process (128+N when a signal N killed it).
func Run(cfg Config) (int, error) {
	if len(cfg.Argv) == 0 {
		return 0, fmt.Errorf("no program given")
	}
	st, err := os.Stat(cfg.RootfsDir)
	if err != nil {
		return 0, fmt.Errorf("rootfs %s: %w", cfg.RootfsDir, unwrapPathError(err))
	}
	if !st.IsDir() {
		return 0, fmt.Errorf("rootfs %s: not a directory", cfg.RootfsDir)
	}
	if cfg.Platform == "" {
		cfg.Platform = "ptrace"
	}
	// Stops and exits of platform processes must not run Go's signal
	// handler (DESIGN.md: several µs per ptrace stop otherwise).
	osignal.Ignore(syscall.SIGCHLD)

	k, err := newKernel(cfg)
	if err != nil {
		return 0, err
	}
	init, err := k.newInitTask(cfg)
	if err != nil {
		return 0, err
	}
	env := defaultEnv(cfg.Env)
	prog := cfg.Argv[0]
	started := make(chan error, 1)
	init.start(func() error {
		resolved, err := init.lookPath(prog, env)
		if err != nil {
			return &ExecError{Path: prog, Errno: err.(unix.Errno)}
		}
		if err := init.execve(resolved, cfg.Argv, env); err != nil {
			errno, ok := err.(unix.Errno)
			if !ok {
				return err
			}
			return &ExecError{Path: prog, Errno: errno}
		}
		return nil
	}, started)
	if err := <-started; err != nil {
		<-k.done
		return 0, err
	}
	<-k.done
	logrus.Debugf("sandbox ended: %d syscalls, %d page faults, %d hardware signals, %d interrupts",
		k.stats.syscalls.Load(), k.stats.faults.Load(), k.stats.signals.Load(), k.stats.interrupts.Load())
	k.mu.Lock()
	ws := k.initTG.status
	k.mu.Unlock()
	return shellStatus(ws), nil
}

// unwrapPathError drops the path from an *os.PathError (the caller names it).
func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// defaultEnv adds PATH and HOME when the caller did not set them.
func defaultEnv(env []string) []string {
	has := func(k string) bool {
		for _, e := range env {
			if strings.HasPrefix(e, k+"=") {
				return true
			}
		}
		return false
	}
	out := append([]string(nil), env...)
	if !has("PATH") {
		out = append(out, "PATH="+defaultPath)
	}
	if !has("HOME") {
		out = append(out, "HOME=/root")
	}
	return out
}

// poolSize is the size of the page pool: the host's RAM (the memfd is sparse;
// only pages in use cost memory).
func poolSize() uint64 {
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err == nil {
		total := uint64(si.Totalram) * uint64(si.Unit)
		if total > 1<<30 {
			return total &^ (1<<21 - 1)
		}
	}
	return 4 << 30
}

// newKernel builds the pool, platform and file system of a sandbox.
func newKernel(cfg Config) (*Kernel, error) {
	pool, err := mm.NewPool(poolSize())
	if err != nil {
		return nil, fmt.Errorf("page pool: %w", err)
	}
	plat, err := platform.New(cfg.Platform, platform.Options{PoolFD: pool.FD()})
	if err != nil {
		return nil, fmt.Errorf("platform %s: %w", cfg.Platform, err)
	}
	k := &Kernel{
		pool:    pool,
		plat:    plat,
		tasks:   map[int32]*Task{},
		tgs:     map[int32]*ThreadGroup{},
		mmUsers: map[*mm.MM]int{},
		done:    make(chan struct{}),
		boot:    time.Now(),
		nextPID: 0,
	}
	if cfg.Strace {
		k.strace = cfg.StraceOut
		if k.strace == nil {
			k.strace = os.Stderr
		}
	}
	k.hwcap, k.hwcap2 = hostHWCaps()
	mode, upper := cfg.vfsOverlay()
	v, err := vfs.New(vfs.Options{RootDir: cfg.RootfsDir, Proc: procSource{k}, Hostname: cfgHostname(cfg), Pool: pool,
		Overlay: mode, UpperDir: upper, Mounts: cfg.Mounts})
	if err != nil {
		return nil, err
	}
	k.vfs = v
	k.setupTerminals()
	if err := k.setupNetwork(cfg); err != nil {
		return nil, err
	}
	return k, nil
}

// newInitTask makes pid 1 with the host's stdio as fds 0, 1, 2.
func (k *Kernel) newInitTask(cfg Config) (*Task, error) {
	root := k.vfs.Root()
	cwd := root
	t := &Task{k: k, intr: make(chan struct{}), fds: newFDTable(), fs: &fsContext{root: root, cwd: root, umask: 0o022}}
	t.mm = k.mmGet(mm.New(k.pool, k.plat.MaxUserAddress()))
	tg := newThreadGroup(k, int(unix.SIGCHLD))
	tg.rlimits = defaultRlimits()
	t.tg = tg
	t.fds.owner, t.fds.onClose = tg, k.releasePosixLocks
	// root with its primary group as the only supplementary group, as a
	// container runtime starts a root process.
	t.ids.groups = []uint32{0}
	t.syncCreds()
	if cfg.Cwd != "" && cfg.Cwd != "/" {
		p, err := k.vfs.Lookup(t.vctx(), vfs.Path{}, cfg.Cwd, true)
		if err != nil {
			return nil, fmt.Errorf("working directory %s: %w", cfg.Cwd, err)
		}
		cwd = p
	}
	t.fs.cwd = cwd
	for i, f := range hostStdio(cfg) {
		if f == nil {
			continue
		}
		fd, err := unix.Dup(int(f.Fd()))
		if err != nil {
			return nil, fmt.Errorf("stdio: %w", err)
		}
		unix.CloseOnExec(fd)
		hf := vfs.NewHostFile(fd, hostFDName(int(f.Fd())))
		if err := t.fds.Set(int32(i), hf, false); err != nil {
			return nil, err
		}
		hf.DecRef()
	}
	k.mu.Lock()
	pid := k.allocPIDLocked()
	t.tid, tg.pid, tg.leader = pid, pid, t
	tg.pgid, tg.sid = pid, pid
	k.tasks[pid] = t
	tg.tasks[t] = struct{}{}
	k.tgs[pid] = tg
	k.initTG = tg
	k.mu.Unlock()
	if err := k.initStdio(t, cfg); err != nil { // terminal or /dev/null (tty.go)
		return nil, err
	}
	return t, nil
}

// hostFDName is what /proc/self/fd shows for an inherited host descriptor:
// pipes and sockets keep their kind, anything else looks like a terminal
// or file name without revealing host paths.
func hostFDName(fd int) string {
	link, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
	if err != nil {
		return "host:[" + fmt.Sprint(fd) + "]"
	}
	if strings.HasPrefix(link, "pipe:") || strings.HasPrefix(link, "socket:") || link == "/dev/null" {
		return link
	}
	if strings.HasPrefix(link, "/dev/pts/") || strings.HasPrefix(link, "/dev/tty") {
		return "/dev/console"
	}
	return "host:[" + path.Base(link) + "]"
}

// randomBytes fills b from the host's CSPRNG.
func randomBytes(b []byte) {
	if _, err := rand.Read(b); err != nil {
		logrus.Errorf("getrandom: %v", err)
	}
}
