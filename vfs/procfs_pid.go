package vfs

import (
	"strconv"

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
