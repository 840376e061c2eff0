package vfs

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// pidDir is the /proc/PID directory (fs/proc/base.c tgid_base_stuff).
func (p *procfs) pidDir(parent string, pid int) procEntry {
	name := strconv.Itoa(pid)
	path := parent + "/" + name
	return p.dir(parent, name, func(*Ctx) []procEntry { return p.pidList(path, pid) })
}

// pidList lists /proc/PID.
func (p *procfs) pidList(path string, pid int) []procEntry {
	gen := func(fn func(ProcTask) []byte) func(*Ctx) ([]byte, error) {
		return func(*Ctx) ([]byte, error) {
			t, err := p.task(pid)
			if err != nil {
				return nil, err
			}
			return fn(t), nil
		}
	}
	link := func(fn func(ProcTask) string) func(*Ctx) (string, error) {
		return func(*Ctx) (string, error) {
			t, err := p.task(pid)
			if err != nil {
				return "", err
			}
			return fn(t), nil
		}
	}
	return []procEntry{
		p.symlink(path, "exe", link(ProcTask.Exe)),
		p.symlink(path, "cwd", link(ProcTask.Cwd)),
		p.symlink(path, "root", link(func(ProcTask) string { return "/" })),
		p.dir(path, "fd", func(*Ctx) []procEntry { return p.fdList(path+"/fd", pid) }),
		p.file(path, "cmdline", 0o444, gen(ProcTask.Cmdline)),
		p.file(path, "environ", 0o400, gen(ProcTask.Environ)),
		p.file(path, "maps", 0o444, gen(ProcTask.Maps)),
		p.file(path, "stat", 0o444, gen(ProcTask.Stat)),
		p.file(path, "status", 0o444, gen(ProcTask.Status)),
		p.file(path, "comm", 0o644, gen(func(t ProcTask) []byte { return []byte(t.Comm() + "\n") })),
		p.file(path, "mounts", 0o444, p.mounts),
		p.file(path, "mountinfo", 0o444, p.mountinfo),
		p.file(path, "smaps", 0o444, gen(func(t ProcTask) []byte { return smapsOf(t.Maps()) })),
		p.file(path, "limits", 0o444, gen(func(t ProcTask) []byte {
			if d, ok := t.(ProcTaskDetail); ok {
				return d.Limits()
			}
			return nil
		})),
		p.file(path, "statm", 0o444, gen(func(t ProcTask) []byte {
			if d, ok := t.(ProcTaskDetail); ok {
				return d.Statm()
			}
			return []byte("0 0 0 0 0 0 0\n")
		})),
		p.oomScoreAdj(path, pid),
		p.text(path, "oom_score", "0\n"),
		p.text(path, "loginuid", "4294967295"),
		p.dir(path, "fdinfo", func(*Ctx) []procEntry { return p.fdinfoList(path+"/fdinfo", pid) }),
		p.dir(path, "ns", func(*Ctx) []procEntry { return nil }),
		p.dir(path, "task", func(*Ctx) []procEntry {
			t, err := p.task(pid)
			if err != nil {
				return nil
			}
			pt, ok := t.(ProcThreads)
			if !ok {
				return []procEntry{p.pidDir(path+"/task", pid)}
			}
			var ents []procEntry
			for _, tid := range pt.TIDs() {
				ents = append(ents, p.pidDir(path+"/task", tid))
			}
			return ents
		}),
	}
}

// fdList lists /proc/PID/fd: one symlink per open descriptor, whose text
// is ProcTask.FDLink (proc_readfd).
func (p *procfs) fdList(path string, pid int) []procEntry {
	t, err := p.task(pid)
	if err != nil {
		return nil
	}
	var out []procEntry
	for _, fd := range t.FDs() {
		fd := fd
		full := path + "/" + strconv.Itoa(fd)
		out = append(out, procEntry{strconv.Itoa(fd), pino(full), unix.S_IFLNK | 0o700, func() *inode {
			in := p.node(full, unix.S_IFLNK|0o700)
			in.link = func(*Ctx) (string, error) {
				s, ok := t.FDLink(fd)
				if !ok {
					return "", unix.ENOENT
				}
				return s, nil
			}
			in.fdOf = func() (ProcTask, int) { return t, fd }
			return in
		}})
	}
	return out
}

// fdinfoList lists /proc/PID/fdinfo: one file per open descriptor
// (proc_fdinfo_instantiate).
func (p *procfs) fdinfoList(path string, pid int) []procEntry {
	t, err := p.task(pid)
	if err != nil {
		return nil
	}
	d, ok := t.(ProcTaskDetail)
	if !ok {
		return nil
	}
	var out []procEntry
	for _, fd := range t.FDs() {
		fd := fd
		out = append(out, p.file(path, strconv.Itoa(fd), 0o444, func(*Ctx) ([]byte, error) {
			b, ok := d.FDInfo(fd)
			if !ok {
				return nil, unix.ENOENT
			}
			return b, nil
		}))
	}
	return out
}

// oomScoreAdj is the writable /proc/PID/oom_score_adj (-1000..1000).
func (p *procfs) oomScoreAdj(path string, pid int) procEntry {
	e := p.file(path, "oom_score_adj", 0o644, func(*Ctx) ([]byte, error) {
		t, err := p.task(pid)
		if err != nil {
			return nil, err
		}
		if d, ok := t.(ProcTaskDetail); ok {
			return []byte(fmt.Sprintf("%d\n", d.OOMScoreAdj())), nil
		}
		return []byte("0\n"), nil
	})
	mk := e.make
	e.make = func() *inode {
		in := mk()
		in.write = func(_ *Ctx, b []byte) error {
			n, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil || n < -1000 || n > 1000 {
				return unix.EINVAL
			}
			t, err := p.task(pid)
			if err != nil {
				return err
			}
			if d, ok := t.(ProcTaskDetail); ok {
				return d.SetOOMScoreAdj(n)
			}
			return nil
		}
		return in
	}
	return e
}

// smapsOf expands maps lines into /proc/PID/smaps records (show_smap):
// sizes from the ranges, residency unknown and reported as the size.
func smapsOf(maps []byte) []byte {
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimSuffix(string(maps), "\n"), "\n") {
		if line == "" {
			continue
		}
		var lo, hi uint64
		fmt.Sscanf(line, "%x-%x", &lo, &hi)
		kb := (hi - lo) / 1024
		b.WriteString(line + "\n")
		fmt.Fprintf(&b, "Size:           %8d kB\nKernelPageSize:        4 kB\nMMUPageSize:           4 kB\nRss:            %8d kB\nPss:            %8d kB\n", kb, kb, kb)
		for _, f := range []string{"Shared_Clean", "Shared_Dirty", "Private_Clean", "Private_Dirty", "Referenced", "Anonymous", "LazyFree", "AnonHugePages", "ShmemPmdMapped", "FilePmdMapped", "Shared_Hugetlb", "Private_Hugetlb", "Swap", "SwapPss", "Locked"} {
			fmt.Fprintf(&b, "%-16s%8d kB\n", f+":", 0)
		}
		b.WriteString("THPeligible:    0\nVmFlags: rd wr mr mw me ac\n")
	}
	return []byte(b.String())
}
