package vfs

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// newSysfs builds the read-only /sys that musl, busybox and common tools
// read (fs/sysfs): the CPU lists, transparent hugepage settings and an empty
// fs/cgroup mount point.
func (v *VFS) newSysfs() *dentry {
	p := &procfs{v: v, fs: &filesystem{kind: fsSys, dev: sysfsDev, name: "sysfs", magic: sysfsMagic, hostFD: -1}}
	cpus := fmt.Sprintf("0-%d\n", runtime.NumCPU()-1)
	if runtime.NumCPU() == 1 {
		cpus = "0\n"
	}
	empty := func(*Ctx) []procEntry { return nil }
	cpuDir := func(*Ctx) []procEntry {
		const d = "/sys/devices/system/cpu"
		ents := []procEntry{
			p.text(d, "online", cpus), p.text(d, "possible", cpus), p.text(d, "present", cpus),
			p.text(d, "offline", "\n"), p.text(d, "kernel_max", "8191\n"),
		}
		for i := 0; i < runtime.NumCPU(); i++ {
			ents = append(ents, p.dir(d, fmt.Sprintf("cpu%d", i), empty))
		}
		return ents
	}
	thp := func(*Ctx) []procEntry {
		const d = "/sys/kernel/mm/transparent_hugepage"
		return []procEntry{
			p.text(d, "enabled", "always [madvise] never\n"),
			p.text(d, "defrag", "always defer defer+madvise [madvise] never\n"),
			p.text(d, "hpage_pmd_size", "2097152\n"),
			p.text(d, "shmem_enabled", "always within_size advise [never] deny force\n"),
		}
	}
	rootList := func(*Ctx) []procEntry {
		return []procEntry{
			p.dir("", "block", empty),
			p.dir("", "bus", empty),
			p.dir("", "class", empty),
			p.dir("", "dev", empty),
			p.dir("", "devices", func(*Ctx) []procEntry {
				return []procEntry{p.dir("/devices", "system", func(*Ctx) []procEntry {
					return []procEntry{p.dir("/devices/system", "cpu", cpuDir)}
				})}
			}),
			p.dir("", "firmware", empty),
			p.dir("", "fs", func(*Ctx) []procEntry {
				return []procEntry{p.dir("/fs", "cgroup", empty)}
			}),
			p.dir("", "kernel", func(*Ctx) []procEntry {
				return []procEntry{p.dir("/kernel", "mm", func(*Ctx) []procEntry {
					return []procEntry{p.dir("/kernel/mm", "transparent_hugepage", thp)}
				})}
			}),
			p.dir("", "module", empty),
			p.dir("", "power", empty),
		}
	}
	in := p.node("", unix.S_IFDIR|0o555)
	in.list = rootList
	return &dentry{name: "/", inode: in}
}
