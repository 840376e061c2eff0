package vfs

import (
	"fmt"
	"hash/fnv"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Kernel identity shown by /proc/version and /proc/sys/kernel; the sentry's
// uname(2) should report the same.
const (
	// KernelRelease is uname -r.
	KernelRelease = "6.1.0-kvsentry"
	// KernelVersion is uname -v.
	KernelVersion = "#1 SMP PREEMPT_DYNAMIC Thu Jan  1 00:00:00 UTC 2026"
	// KernelOSType is uname -s.
	KernelOSType = "Linux"
)

// procEntry is one name in a procfs directory; make builds its inode.
type procEntry struct {
	name string
	ino  uint64
	mode uint32
	make func() *inode
}

// procfs holds what procfs inodes need.
type procfs struct {
	v  *VFS
	fs *filesystem
}

// pino derives a stable inode number from a procfs path.
func pino(path string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(path))
	return h.Sum64()>>24 | 1<<41
}

// node makes a procfs inode.
func (p *procfs) node(path string, mode uint32) *inode {
	t := unix.NsecToTimespec(p.v.boot.UnixNano())
	in := &inode{fs: p.fs, ino: pino(path), mode: mode, nlink: 1, atime: t, mtime: t, ctime: t, hostFD: -1}
	if mode&unix.S_IFMT == unix.S_IFDIR {
		in.nlink = 2
	}
	return in
}

// dir is a procfs directory entry listing list.
func (p *procfs) dir(path, name string, list func(c *Ctx) []procEntry) procEntry {
	full := path + "/" + name
	return procEntry{name, pino(full), unix.S_IFDIR | 0o555, func() *inode {
		in := p.node(full, unix.S_IFDIR|0o555)
		in.list = list
		return in
	}}
}

// file is a procfs regular file generated at open.
func (p *procfs) file(path, name string, perm uint32, gen func(c *Ctx) ([]byte, error)) procEntry {
	full := path + "/" + name
	return procEntry{name, pino(full), unix.S_IFREG | perm, func() *inode {
		in := p.node(full, unix.S_IFREG|perm)
		in.gen = gen
		return in
	}}
}

// text is a procfs file with fixed content.
func (p *procfs) text(path, name, s string) procEntry {
	return p.file(path, name, 0o444, func(*Ctx) ([]byte, error) { return []byte(s), nil })
}

// symlink is a procfs symlink whose text is computed on readlink.
func (p *procfs) symlink(path, name string, link func(c *Ctx) (string, error)) procEntry {
	full := path + "/" + name
	return procEntry{name, pino(full), unix.S_IFLNK | 0o777, func() *inode {
		in := p.node(full, unix.S_IFLNK|0o777)
		in.link = link
		return in
	}}
}

// hostText passes a host /proc file through (meminfo, cpuinfo, stat).
func (p *procfs) hostText(path, name string) procEntry {
	return p.file(path, name, 0o444, func(*Ctx) ([]byte, error) {
		b, err := os.ReadFile("/proc/" + name)
		if err != nil {
			return nil, unix.EIO
		}
		return b, nil
	})
}

// newProcfs builds /proc (fs/proc/root.c).
func (v *VFS) newProcfs() *dentry {
	p := &procfs{v: v, fs: &filesystem{kind: fsProc, dev: procfsDev, name: "proc", magic: procMagic, hostFD: -1}}
	in := p.node("", unix.S_IFDIR|0o555)
	in.list = p.rootList
	return &dentry{name: "/", inode: in}
}

// rootList lists /proc: fixed entries, then one directory per process.
func (p *procfs) rootList(c *Ctx) []procEntry {
	v := p.v
	self := func(c *Ctx) (string, error) {
		if c == nil || c.PID <= 0 {
			return "", unix.ENOENT
		}
		return strconv.Itoa(c.PID), nil
	}
	ents := []procEntry{
		p.symlink("", "self", self),
		p.symlink("", "thread-self", func(c *Ctx) (string, error) {
			s, err := self(c)
			return s + "/task/" + s, err
		}),
		p.file("", "mounts", 0o444, p.mounts),
		p.file("", "swaps", 0o444, func(*Ctx) ([]byte, error) {
			return []byte("Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"), nil
		}),
		p.file("", "meminfo", 0o444, p.meminfo),
		p.hostText("", "cpuinfo"),
		p.hostText("", "stat"),
		p.file("", "uptime", 0o444, func(*Ctx) ([]byte, error) {
			up := time.Since(v.boot).Seconds()
			return []byte(fmt.Sprintf("%.2f %.2f\n", up, up)), nil
		}),
		p.file("", "loadavg", 0o444, p.loadavg),
		p.text("", "version", fmt.Sprintf("%s version %s (kvsentry@kvsentry) (go) %s\n", KernelOSType, KernelRelease, KernelVersion)),
		p.text("", "filesystems", "nodev\tproc\nnodev\tdevtmpfs\nnodev\ttmpfs\nnodev\toverlay\nnodev\tpipefs\n"),
		p.dir("", "sys", p.sysList),
	}
	for _, pid := range p.pids() {
		ents = append(ents, p.pidDir("", pid))
	}
	return ents
}

// pids lists live processes in ascending order.
func (p *procfs) pids() []int {
	if p.v.proc == nil {
		return nil
	}
	pids := append([]int(nil), p.v.proc.PIDs()...)
	sort.Ints(pids)
	return pids
}

// task returns the live process pid, or ENOENT.
func (p *procfs) task(pid int) (ProcTask, error) {
	if p.v.proc == nil {
		return nil, unix.ENOENT
	}
	t := p.v.proc.Task(pid)
	if t == nil {
		return nil, unix.ENOENT
	}
	return t, nil
}

// mounts is /proc/mounts (fs/proc_namespace.c show_vfsmnt).
func (p *procfs) mounts(*Ctx) ([]byte, error) { return p.v.mountsText(), nil }

// mountinfo is /proc/PID/mountinfo (show_mountinfo).
func (p *procfs) mountinfo(*Ctx) ([]byte, error) { return p.v.mountinfoText(), nil }

// loadavg is /proc/loadavg with a zero load and our process count.
func (p *procfs) loadavg(*Ctx) ([]byte, error) {
	pids := p.pids()
	last := 0
	if len(pids) > 0 {
		last = pids[len(pids)-1]
	}
	return []byte(fmt.Sprintf("0.00 0.00 0.00 1/%d %d\n", max(len(pids), 1), last)), nil
}

// newUUID makes a random version-4 UUID (drivers/char/random.c proc_do_uuid).
func newUUID() string {
	var b [16]byte
	readRandom(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// sysList lists /proc/sys (kernel/sysctl.c tables kvsentry reports).
func (p *procfs) sysList(*Ctx) []procEntry {
	v := p.v
	return []procEntry{
		p.dir("/sys", "kernel", func(*Ctx) []procEntry {
			const d = "/sys/kernel"
			return []procEntry{
				p.text(d, "hostname", v.hostname+"\n"),
				p.text(d, "domainname", "(none)\n"),
				p.text(d, "ostype", KernelOSType+"\n"),
				p.text(d, "osrelease", KernelRelease+"\n"),
				p.text(d, "version", KernelVersion+"\n"),
				p.text(d, "pid_max", "4194304\n"),
				p.text(d, "ngroups_max", "65536\n"),
				p.text(d, "cap_last_cap", "40\n"),
				p.text(d, "threads-max", "1000000\n"),
				p.dir(d, "random", func(*Ctx) []procEntry {
					const r = d + "/random"
					return []procEntry{
						p.text(r, "boot_id", v.bootID+"\n"),
						p.file(r, "uuid", 0o444, func(*Ctx) ([]byte, error) { return []byte(newUUID() + "\n"), nil }),
						p.text(r, "entropy_avail", "256\n"),
						p.text(r, "poolsize", "256\n"),
					}
				}),
			}
		}),
		p.dir("/sys", "vm", func(*Ctx) []procEntry {
			const d = "/sys/vm"
			return []procEntry{
				p.text(d, "overcommit_memory", "0\n"),
				p.text(d, "max_map_count", "65530\n"),
				p.text(d, "mmap_min_addr", "65536\n"),
			}
		}),
		p.dir("/sys", "fs", func(*Ctx) []procEntry {
			const d = "/sys/fs"
			return []procEntry{
				p.text(d, "file-max", "9223372036854775807\n"),
				p.text(d, "nr_open", "1048576\n"),
			}
		}),
		p.dir("/sys", "net", func(*Ctx) []procEntry {
			return []procEntry{p.dir("/sys/net", "core", func(*Ctx) []procEntry {
				return []procEntry{p.text("/sys/net/core", "somaxconn", "4096\n")}
			})}
		}),
	}
}

// meminfo is /proc/meminfo (fs/proc/meminfo.c) with the page pool's
// figures, as sysinfo(2) reports them; the host's without a pool.
func (p *procfs) meminfo(*Ctx) ([]byte, error) {
	pool := p.v.pool
	if pool == nil {
		b, err := os.ReadFile("/proc/meminfo")
		if err != nil {
			return nil, unix.EIO
		}
		return b, nil
	}
	total := pool.Size() / 1024
	free := pool.FreePages() * 4
	var b strings.Builder
	for _, f := range []struct {
		name string
		kb   uint64
	}{
		{"MemTotal", total}, {"MemFree", free}, {"MemAvailable", free}, {"Buffers", 0}, {"Cached", 0},
		{"SwapCached", 0}, {"Active", total - free}, {"Inactive", 0}, {"Active(anon)", total - free},
		{"Inactive(anon)", 0}, {"Active(file)", 0}, {"Inactive(file)", 0}, {"Unevictable", 0}, {"Mlocked", 0},
		{"SwapTotal", 0}, {"SwapFree", 0}, {"Dirty", 0}, {"Writeback", 0}, {"AnonPages", total - free},
		{"Mapped", 0}, {"Shmem", 0}, {"KReclaimable", 0}, {"Slab", 0}, {"SReclaimable", 0}, {"SUnreclaim", 0},
		{"KernelStack", 0}, {"PageTables", 0}, {"CommitLimit", total}, {"Committed_AS", total - free},
		{"VmallocTotal", 34359738367}, {"VmallocUsed", 0}, {"VmallocChunk", 0},
		{"HugePages_Total", 0}, {"HugePages_Free", 0}, {"Hugepagesize", 2048},
	} {
		if strings.HasPrefix(f.name, "HugePages_") {
			fmt.Fprintf(&b, "%-16s%8d\n", f.name+":", f.kb)
			continue
		}
		fmt.Fprintf(&b, "%-16s%8d kB\n", f.name+":", f.kb)
	}
	return []byte(b.String()), nil
}
