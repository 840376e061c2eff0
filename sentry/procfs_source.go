package sentry

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"kvsentry/vfs"
)

// procSource gives vfs's procfs its view of the kernel's processes.
type procSource struct{ k *Kernel }

// PIDs lists live (non-zombie) processes.
func (p procSource) PIDs() []int {
	p.k.mu.Lock()
	defer p.k.mu.Unlock()
	var out []int
	for pid, tg := range p.k.tgs {
		if !tg.zombie {
			out = append(out, int(pid))
		}
	}
	sort.Ints(out)
	return out
}

// Task returns the /proc view of process pid.
func (p procSource) Task(pid int) vfs.ProcTask {
	p.k.mu.Lock()
	defer p.k.mu.Unlock()
	if tg, ok := p.k.tgs[int32(pid)]; ok && tg.leader != nil {
		return procTask{tg: tg, t: tg.leader}
	}
	// A thread id names that thread (/proc/TID exists, unlisted).
	if t, ok := p.k.tasks[int32(pid)]; ok {
		return procTask{tg: t.tg, t: t}
	}
	return nil
}

// TIDs lists the process's live threads for /proc/PID/task.
func (p procTask) TIDs() []int {
	k := p.t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []int
	for t := range p.tg.tasks {
		out = append(out, int(t.tid))
	}
	sort.Ints(out)
	return out
}

// procTask is one process as procfs shows it.
type procTask struct {
	tg *ThreadGroup
	t  *Task
}

// Exe is the readlink of /proc/PID/exe.
func (p procTask) Exe() string {
	p.tg.sigMu.Lock()
	defer p.tg.sigMu.Unlock()
	return p.tg.exePath
}

// Cwd is the readlink of /proc/PID/cwd.
func (p procTask) Cwd() string {
	c := p.t.vctx()
	return p.t.k.vfs.PathString(c, c.Cwd)
}

// Comm is the process name (at most 15 bytes).
func (p procTask) Comm() string {
	p.tg.sigMu.Lock()
	defer p.tg.sigMu.Unlock()
	return p.t.comm
}

// FDs lists open descriptors.
func (p procTask) FDs() []int {
	if p.t.fds == nil {
		return nil
	}
	return p.t.fds.FDs()
}

// FDLink is the readlink of /proc/PID/fd/N.
func (p procTask) FDLink(fd int) (string, bool) {
	if p.t.fds == nil {
		return "", false
	}
	f, _, err := p.t.fds.Get(int32(fd))
	if err != nil {
		return "", false
	}
	defer f.DecRef()
	return f.Name(p.t.vctx()), true
}

// Maps is /proc/PID/maps.
func (p procTask) Maps() []byte {
	if p.t.mm == nil {
		return nil
	}
	return p.t.mm.Maps()
}

// Cmdline is /proc/PID/cmdline: the argv strings, each NUL-terminated.
func (p procTask) Cmdline() []byte {
	p.tg.sigMu.Lock()
	defer p.tg.sigMu.Unlock()
	var b bytes.Buffer
	for _, a := range p.tg.execArgv {
		b.WriteString(a)
		b.WriteByte(0)
	}
	return b.Bytes()
}

// Environ is /proc/PID/environ.
func (p procTask) Environ() []byte {
	p.tg.sigMu.Lock()
	defer p.tg.sigMu.Unlock()
	return append([]byte(nil), p.tg.environ...)
}

// Stat is /proc/PID/stat (fs/proc/array.c do_task_stat), with the fields
// the sentry tracks and zeros elsewhere.
func (p procTask) Stat() []byte {
	k := p.t.k
	k.mu.Lock()
	ppid := int32(0)
	if p.tg.parent != nil {
		ppid = p.tg.parent.pid
	}
	pgid, sid := p.tg.pgid, p.tg.sid
	state := "R"
	if p.tg.zombie {
		state = "Z"
	}
	k.mu.Unlock()
	fields := []string{fmt.Sprint(p.tg.pid), "(" + p.Comm() + ")", state, fmt.Sprint(ppid), fmt.Sprint(pgid), fmt.Sprint(sid)}
	for i := 7; i <= 52; i++ {
		fields = append(fields, "0")
	}
	fields[19] = fmt.Sprint(len(p.TIDs())) // num_threads
	u := p.t.selfUsage()
	fields[13] = fmt.Sprint(u.utimeNS / 1e7) // utime, clock ticks (USER_HZ 100)
	fields[14] = fmt.Sprint(u.stimeNS / 1e7)
	fields[17], fields[18] = "20", "0" // priority, nice
	if p.t.mm != nil {
		fields[22] = fmt.Sprint(p.t.mm.VirtualSize())
		fields[23] = fmt.Sprint(p.t.mm.RSS() / 4096)
	}
	fields[24] = "18446744073709551615" // rsslim
	fields[37] = "17"                   // exit_signal
	return []byte(strings.Join(fields, " ") + "\n")
}

// Status is /proc/PID/status (fs/proc/array.c proc_pid_status), abridged.
func (p procTask) Status() []byte {
	k := p.t.k
	k.mu.Lock()
	ppid := int32(0)
	if p.tg.parent != nil {
		ppid = p.tg.parent.pid
	}
	state := "R (running)"
	if p.tg.zombie {
		state = "Z (zombie)"
	}
	k.mu.Unlock()
	c := p.t.creds
	var vm, rss uint64
	if p.t.mm != nil {
		vm, rss = p.t.mm.VirtualSize()/1024, p.t.mm.RSS()/1024
	}
	fdSize := int32(0) // a zombie has no table, as in Linux
	if fds := p.t.fds; fds != nil {
		fdSize = fds.MaxFDs()
	}
	groups := make([]string, 0, len(c.Groups))
	for _, g := range c.Groups {
		groups = append(groups, fmt.Sprint(g))
	}
	return []byte(fmt.Sprintf("Name:\t%s\nUmask:\t%04o\nState:\t%s\nTgid:\t%d\nNgid:\t0\nPid:\t%d\nPPid:\t%d\nTracerPid:\t0\nUid:\t%d\t%d\t%d\t%d\nGid:\t%d\t%d\t%d\t%d\nFDSize:\t%d\nGroups:\t%s\nVmPeak:\t%8d kB\nVmSize:\t%8d kB\nVmLck:\t       0 kB\nVmHWM:\t%8d kB\nVmRSS:\t%8d kB\nThreads:\t%d\nSigQ:\t0/0\nCpus_allowed_list:\t0-%d\n",
		p.Comm(), p.t.fs.umask, state, p.tg.pid, p.tg.pid, ppid, c.UID, c.UID, c.UID, c.UID, c.GID, c.GID, c.GID, c.GID, fdSize,
		strings.Join(groups, " "), vm, vm, rss, rss, len(p.TIDs()), runtime.NumCPU()-1))
}

// hostHWCaps reads AT_HWCAP and AT_HWCAP2 from the sentry's own auxv, so the
// guest sees the CPU features the host has.
func hostHWCaps() (uint64, uint64) {
	b, err := os.ReadFile("/proc/self/auxv")
	if err != nil {
		return 0, 0
	}
	var hw, hw2 uint64
	for i := 0; i+16 <= len(b); i += 16 {
		key, val := leUint64(b[i:]), leUint64(b[i+8:])
		switch key {
		case 16: // AT_HWCAP
			hw = val
		case 26: // AT_HWCAP2
			hw2 = val
		}
	}
	return hw, hw2
}

// OpenFD returns the file at fd with a new reference (the /proc/PID/fd/N
// magic link), or nil.
func (p procTask) OpenFD(fd int) *vfs.File {
	if p.t.fds == nil {
		return nil
	}
	f, _, err := p.t.fds.Get(int32(fd))
	if err != nil {
		return nil
	}
	return f
}

// oomAdj holds each process's /proc/PID/oom_score_adj (0 when absent).
var oomAdj sync.Map // *ThreadGroup -> int

// Limits is /proc/PID/limits (fs/proc/base.c proc_pid_limits).
func (p procTask) Limits() []byte {
	p.tg.sigMu.Lock()
	r := p.tg.rlimits
	p.tg.sigMu.Unlock()
	rows := []struct {
		name, unit string
		res        int
	}{
		{"Max cpu time", "seconds", unix.RLIMIT_CPU}, {"Max file size", "bytes", unix.RLIMIT_FSIZE},
		{"Max data size", "bytes", unix.RLIMIT_DATA}, {"Max stack size", "bytes", unix.RLIMIT_STACK},
		{"Max core file size", "bytes", unix.RLIMIT_CORE}, {"Max resident set", "bytes", unix.RLIMIT_RSS},
		{"Max processes", "processes", unix.RLIMIT_NPROC}, {"Max open files", "files", unix.RLIMIT_NOFILE},
		{"Max locked memory", "bytes", unix.RLIMIT_MEMLOCK}, {"Max address space", "bytes", unix.RLIMIT_AS},
		{"Max file locks", "locks", unix.RLIMIT_LOCKS}, {"Max pending signals", "signals", unix.RLIMIT_SIGPENDING},
		{"Max msgqueue size", "bytes", unix.RLIMIT_MSGQUEUE}, {"Max nice priority", "", unix.RLIMIT_NICE},
		{"Max realtime priority", "", unix.RLIMIT_RTPRIO}, {"Max realtime timeout", "us", unix.RLIMIT_RTTIME},
	}
	val := func(v uint64) string {
		if v == unix.RLIM_INFINITY {
			return "unlimited"
		}
		return fmt.Sprint(v)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-25s %-20s %-20s %-10s\n", "Limit", "Soft Limit", "Hard Limit", "Units")
	for _, row := range rows {
		fmt.Fprintf(&b, "%-25s %-20s %-20s %-10s\n", row.name, val(r[row.res].Cur), val(r[row.res].Max), row.unit)
	}
	return []byte(b.String())
}

// Statm is /proc/PID/statm (proc_pid_statm): sizes in pages.
func (p procTask) Statm() []byte {
	var vm, rss uint64
	if p.t.mm != nil {
		vm, rss = p.t.mm.VirtualSize()/4096, p.t.mm.RSS()/4096
	}
	return []byte(fmt.Sprintf("%d %d 0 0 0 %d 0\n", vm, rss, vm))
}

// FDInfo is /proc/PID/fdinfo/N (seq_show): position, flags, mount id.
func (p procTask) FDInfo(fd int) ([]byte, bool) {
	if p.t.fds == nil {
		return nil, false
	}
	f, cloexec, err := p.t.fds.Get(int32(fd))
	if err != nil {
		return nil, false
	}
	defer f.DecRef()
	pos, err := f.Seek(0, 1)
	if err != nil {
		pos = 0
	}
	flags := f.Flags()
	if cloexec {
		flags |= unix.O_CLOEXEC
	}
	return []byte(fmt.Sprintf("pos:\t%d\nflags:\t0%o\nmnt_id:\t21\nino:\t%d\n", pos, flags, fileIno(f))), true
}

// fileIno is the inode number fstat reports for f.
func fileIno(f *vfs.File) uint64 {
	st, err := f.Stat()
	if err != nil {
		return 0
	}
	return st.Ino
}

// OOMScoreAdj is /proc/PID/oom_score_adj.
func (p procTask) OOMScoreAdj() int {
	if v, ok := oomAdj.Load(p.tg); ok {
		return v.(int)
	}
	return 0
}

// SetOOMScoreAdj stores a new oom_score_adj; lowering it needs root
// (CAP_SYS_RESOURCE), as __set_oom_adj checks.
func (p procTask) SetOOMScoreAdj(v int) error {
	if v < p.OOMScoreAdj() && p.t.creds.UID != 0 {
		return unix.EACCES
	}
	oomAdj.Store(p.tg, v)
	return nil
}
