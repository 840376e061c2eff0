package vfs

import (
	"path"
	"strings"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// store persists the changes made to one filesystem on the host: the upper
// directory of --overlay DIR (upperStore) or the host directory itself for
// --overlay none and read-write bind mounts (hostStore). The memory tree
// stays the source of truth while the sandbox runs; every hook is called
// with VFS.mu held for writing, after the memory change, and names the
// object through inode.d. A host failure is logged, not returned: the guest
// already saw the change.
type store interface {
	// create persists a new object (file, directory, symlink, node).
	create(in *inode)
	// write persists n bytes of in's content at off.
	write(in *inode, off int64, n int)
	// truncate persists the size of in's content.
	truncate(in *inode)
	// setattr persists mode, owner and times.
	setattr(in *inode)
	// remove deletes dir/name; lower says a lower-layer entry of that
	// name needs a whiteout.
	remove(dir *dentry, name string, isDir, lower bool)
	// rename persists the move of in from oldRel (oldLower: a lower entry
	// there needs a whiteout).
	rename(oldRel string, oldLower bool, in *inode)
	// link persists a new name in.d of the object at oldRel.
	link(oldRel string, in *inode)
	// check refuses an operation the store cannot persist (EXDEV).
	check(op string, in *inode) error
}

// relOf is the path of d relative to its filesystem root ("" for the root).
func relOf(d *dentry) string {
	var parts []string
	for ; d != nil && d.parent != nil; d = d.parent {
		parts = append(parts, d.name)
	}
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return strings.Join(parts, "/")
}

// storeOf returns the store an inode's changes go to, or nil (memory only,
// or the inode is no longer linked anywhere).
func storeOf(in *inode) store {
	if in == nil || in.fs.store == nil || in.d == nil || in.d.dead {
		return nil
	}
	return in.fs.store
}

// lowerHas reports whether dir's lower layer holds name.
func lowerHas(dir *dentry, name string) bool {
	in := dir.inode
	if in.hostPath == "" || in.fs.hostFD < 0 {
		return false
	}
	_, err := in.fs.hostLstat(hostChild(in.hostPath, name))
	return err == nil
}

// hostParent opens the directory holding rel below base (no symlinks
// followed, never leaving base) and returns it with rel's last name.
func hostParent(base int, rel string) (int, string, error) {
	dir, name := path.Split(rel)
	dir = strings.TrimSuffix(dir, "/")
	if dir == "" {
		dir = "."
	}
	how := unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC | unix.O_NOFOLLOW, Resolve: hostResolve}
	for {
		fd, err := unix.Openat2(base, dir, &how)
		if err == unix.EINTR {
			continue
		}
		return fd, name, err
	}
}

// hostOpenW opens rel below base for writing.
func hostOpenW(base int, rel string, flags int) (int, error) {
	how := unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC | unix.O_NOFOLLOW), Resolve: hostResolve}
	for {
		fd, err := unix.Openat2(base, rel, &how)
		if err == unix.EINTR {
			continue
		}
		return fd, err
	}
}

// writeAllAt writes b at off to fd.
func writeAllAt(fd int, b []byte, off int64) error {
	for len(b) > 0 {
		n, err := unix.Pwrite(fd, b, off)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		b, off = b[n:], off+int64(n)
	}
	return nil
}

// hostMake creates the object in at rel below base; fill, if set, writes a
// regular file's content into the new host file (written to a temporary
// name, then renamed into place, so a crash never leaves a half-written
// copy-up).
func hostMake(base int, rel string, in *inode, fill func(fd int) error) error {
	pfd, name, err := hostParent(base, rel)
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	perm := in.mode & 0o7777
	switch in.mode & unix.S_IFMT {
	case unix.S_IFDIR:
		err = unix.Mkdirat(pfd, name, 0o700)
		if err == unix.EEXIST {
			var st unix.Stat_t
			if unix.Fstatat(pfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
				err = nil
			}
		}
	case unix.S_IFLNK:
		unix.Unlinkat(pfd, name, 0)
		err = unix.Symlinkat(in.target, pfd, name)
	case unix.S_IFREG:
		tmp := tmpPrefix + name
		if len(tmp) > nameMax {
			tmp = tmpPrefix + itoa(int64(in.ino))
		}
		var fd int
		fd, err = unix.Openat(pfd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return err
		}
		if fill != nil {
			err = fill(fd)
		}
		unix.Close(fd)
		if err == nil {
			err = unix.Renameat(pfd, tmp, pfd, name)
		}
		if err != nil {
			unix.Unlinkat(pfd, tmp, 0)
		}
	default:
		err = unix.Mknodat(pfd, name, in.mode&unix.S_IFMT|perm, int(in.rdev))
		if err == unix.EPERM {
			// Nodes need privilege: keep an empty file, the type is in the metadata.
			var fd int
			fd, err = unix.Openat(pfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
			if err == nil {
				unix.Close(fd)
			}
		}
	}
	return err
}

// hostSetattr applies in's mode, owner and times to rel below base; the
// owner only when the host lets us (we may not be root).
func hostSetattr(base int, rel string, in *inode, owner bool, fs *filesystem) {
	pfd, name, err := hostParent(base, rel)
	if err != nil {
		return
	}
	defer unix.Close(pfd)
	if rel == "" {
		name = "."
	}
	if !in.isSymlink() {
		unix.Fchmodat(pfd, name, in.mode&0o7777, 0)
	}
	if owner {
		uid, gid := in.uid, in.gid
		if fs.mapOwner && uid == 0 {
			uid = fs.hostUID
		}
		if fs.mapOwner && gid == 0 {
			gid = fs.hostGID
		}
		unix.Fchownat(pfd, name, int(uid), int(gid), unix.AT_SYMLINK_NOFOLLOW)
		if !in.isSymlink() {
			unix.Fchmodat(pfd, name, in.mode&0o7777, 0) // chown cleared set-id bits
		}
	}
	ts := []unix.Timespec{in.atime, in.mtime}
	unix.UtimesNanoAt(pfd, name, ts, unix.AT_SYMLINK_NOFOLLOW)
}

// contentFill writes a memory file's whole content to a new host file.
func contentFill(md *memData) func(fd int) error {
	return func(fd int) error { return md.copyToFD(fd, 0, md.Size()) }
}

// hostCopyFill copies the lower host file rel of fs to a new host file,
// streaming through a reused buffer.
func hostCopyFill(fs *filesystem, rel string) func(fd int) error {
	return func(dst int) error {
		src, err := fs.hostOpenReg(rel)
		if err != nil {
			return err
		}
		defer unix.Close(src)
		bp := ioBufs.Get().(*[]byte)
		defer ioBufs.Put(bp)
		var off int64
		for {
			n, err := hostPread(src, *bp, off)
			if err != nil {
				return err
			}
			if n == 0 {
				return nil
			}
			if err := writeAllAt(dst, (*bp)[:n], off); err != nil {
				return err
			}
			off += int64(n)
		}
	}
}

// tmpPrefix names copy-up temporaries; leftovers of a crash are removed
// when the upper directory is next loaded.
const tmpPrefix = ".kvsentry-tmp."

// hostStore writes changes straight into a host directory: the rootfs for
// --overlay none, the source of a read-write bind mount.
type hostStore struct{ fs *filesystem }

func (h *hostStore) warn(op, rel string, err error) {
	if err != nil {
		logrus.WithError(err).Warnf("vfs: %s %q on the host", op, rel)
	}
}

func (h *hostStore) create(in *inode) {
	rel := relOf(in.d)
	h.warn("create", rel, hostMake(h.fs.hostFD, rel, in, contentFill(in.content)))
	hostSetattr(h.fs.hostFD, rel, in, true, h.fs)
}

func (h *hostStore) write(in *inode, off int64, n int) {
	rel := relOf(in.d)
	fd, err := hostOpenW(h.fs.hostFD, rel, unix.O_WRONLY)
	if err != nil {
		h.warn("write", rel, err)
		return
	}
	defer unix.Close(fd)
	h.warn("write", rel, in.content.copyToFD(fd, off, int64(n)))
}

func (h *hostStore) truncate(in *inode) {
	rel := relOf(in.d)
	fd, err := hostOpenW(h.fs.hostFD, rel, unix.O_WRONLY)
	if err != nil {
		h.warn("truncate", rel, err)
		return
	}
	defer unix.Close(fd)
	h.warn("truncate", rel, unix.Ftruncate(fd, in.content.Size()))
}

func (h *hostStore) setattr(in *inode) { hostSetattr(h.fs.hostFD, relOf(in.d), in, true, h.fs) }

func (h *hostStore) remove(dir *dentry, name string, isDir, lower bool) {
	rel := path.Join(relOf(dir), name)
	pfd, n, err := hostParent(h.fs.hostFD, rel)
	if err != nil {
		h.warn("remove", rel, err)
		return
	}
	defer unix.Close(pfd)
	flags := 0
	if isDir {
		flags = unix.AT_REMOVEDIR
	}
	if err := unix.Unlinkat(pfd, n, flags); err != nil && err != unix.ENOENT {
		h.warn("remove", rel, err)
	}
}

func (h *hostStore) rename(oldRel string, _ bool, in *inode) {
	newRel := relOf(in.d)
	ofd, on, err := hostParent(h.fs.hostFD, oldRel)
	if err != nil {
		h.warn("rename", oldRel, err)
		return
	}
	defer unix.Close(ofd)
	nfd, nn, err := hostParent(h.fs.hostFD, newRel)
	if err != nil {
		h.warn("rename", newRel, err)
		return
	}
	defer unix.Close(nfd)
	if err := unix.Renameat(ofd, on, nfd, nn); err != nil {
		h.warn("rename", oldRel, err)
		return
	}
	// Cached lower paths of the moved subtree follow it.
	var fix func(in *inode)
	fix = func(in *inode) {
		if in.hostPath == oldRel || strings.HasPrefix(in.hostPath, oldRel+"/") {
			in.hostPath = newRel + in.hostPath[len(oldRel):]
		}
		for _, ch := range in.children {
			fix(ch.inode)
		}
	}
	fix(in)
}

func (h *hostStore) link(oldRel string, in *inode) {
	newRel := relOf(in.d)
	ofd, on, err := hostParent(h.fs.hostFD, oldRel)
	if err != nil {
		h.warn("link", oldRel, err)
		return
	}
	defer unix.Close(ofd)
	nfd, nn, err := hostParent(h.fs.hostFD, newRel)
	if err != nil {
		h.warn("link", newRel, err)
		return
	}
	defer unix.Close(nfd)
	h.warn("link", newRel, unix.Linkat(ofd, on, nfd, nn, 0))
}

func (h *hostStore) check(op string, in *inode) error {
	if op == "exchange" {
		return unix.EXDEV
	}
	return nil
}
