package vfs

import (
	"crypto/rand"

	"golang.org/x/sys/unix"
)

// device is a character device's behaviour (drivers/char/mem.c).
type device struct {
	read  func(p []byte) (int, error)
	write func(p []byte) (int, error)
	zero  bool // mmap gives zero pages
}

func readNothing(p []byte) (int, error) { return 0, nil }
func readZeros(p []byte) (int, error)   { clear(p); return len(p), nil }
func writeAll(p []byte) (int, error)    { return len(p), nil }
func writeFull(p []byte) (int, error)   { return 0, unix.ENOSPC }
func readRandom(p []byte) (int, error) {
	n, err := rand.Read(p)
	if err != nil {
		return n, unix.EIO
	}
	return n, nil
}

// devices maps device numbers to behaviour; numbers absent here fail to
// open with ENXIO. Terminals (tty, console, ptmx, pts/N) open through the
// Terminals driver (terminal.go).
var devices = map[uint64]*device{
	unix.Mkdev(1, 3): {read: readNothing, write: writeAll},           // null
	unix.Mkdev(1, 5): {read: readZeros, write: writeAll, zero: true}, // zero
	unix.Mkdev(1, 7): {read: readZeros, write: writeFull},            // full
	unix.Mkdev(1, 8): {read: readRandom, write: writeAll},            // random
	unix.Mkdev(1, 9): {read: readRandom, write: writeAll},            // urandom
}

// openDevice finds the driver of a character device (chrdev_open).
func openDevice(rdev uint64) (*device, error) {
	if d, ok := devices[rdev]; ok {
		return d, nil
	}
	return nil, unix.ENXIO
}

// newDevfs builds /dev: the standard character devices, pts/ and shm/,
// and the fd/stdin/stdout/stderr symlinks into /proc/self.
func newDevfs() *dentry {
	fs := &filesystem{kind: fsDev, dev: devfsDev, name: "devtmpfs", magic: tmpfsMagic, hostFD: -1}
	root := &dentry{name: "/", inode: newMemInode(fs, unix.S_IFDIR|0o755, &Creds{})}
	add := func(dir *dentry, name string, in *inode) *dentry {
		d := &dentry{name: name, parent: dir, inode: in}
		dir.inode.children[name] = d
		if in.isDir() {
			dir.inode.nlink++
		}
		return d
	}
	for _, c := range []struct {
		name         string
		major, minor uint32
		perm         uint32
	}{
		{"null", 1, 3, 0o666}, {"zero", 1, 5, 0o666}, {"full", 1, 7, 0o666},
		{"random", 1, 8, 0o666}, {"urandom", 1, 9, 0o666},
		{"tty", 5, 0, 0o666}, {"console", 5, 1, 0o600}, {"ptmx", 5, 2, 0o666},
	} {
		in := newMemInode(fs, unix.S_IFCHR|c.perm, &Creds{})
		in.rdev = unix.Mkdev(c.major, c.minor)
		add(root, c.name, in)
	}
	add(root, "pts", newMemInode(fs, unix.S_IFDIR|0o755, &Creds{}))
	add(root, "shm", newMemInode(fs, unix.S_IFDIR|0o1777, &Creds{}))
	for _, l := range [][2]string{
		{"fd", "/proc/self/fd"}, {"stdin", "/proc/self/fd/0"},
		{"stdout", "/proc/self/fd/1"}, {"stderr", "/proc/self/fd/2"},
	} {
		in := newMemInode(fs, unix.S_IFLNK|0o777, &Creds{})
		in.target = l[1]
		add(root, l[0], in)
	}
	return root
}

// newDevpts builds /dev/pts (fs/devpts): an empty directory of pseudo
// terminals with its own ptmx node 5:2.
func newDevpts() *dentry {
	fs := &filesystem{kind: fsDevpts, dev: devptsDev, name: "devpts", magic: devptsMagic, hostFD: -1}
	root := &dentry{name: "/", inode: newMemInode(fs, unix.S_IFDIR|0o755, &Creds{})}
	in := newMemInode(fs, unix.S_IFCHR|0o666, &Creds{})
	in.rdev = unix.Mkdev(5, 2)
	d := &dentry{name: "ptmx", parent: root, inode: in}
	in.d = d
	root.inode.children["ptmx"] = d
	return root
}
