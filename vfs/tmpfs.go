package vfs

import "golang.org/x/sys/unix"

// newTmpfs makes an empty tmpfs whose root has mode (mm/shmem.c
// shmem_fill_super); size > 0 is what statfs reports as its capacity.
func newTmpfs(mode, uid, gid uint32, size int64) *dentry {
	fs := &filesystem{kind: fsTmpfs, dev: newAnonDev(), name: "tmpfs", magic: tmpfsMagic, hostFD: -1, maxBytes: size}
	in := newMemInode(fs, unix.S_IFDIR|mode&0o7777, &Creds{UID: uid, GID: gid})
	return &dentry{name: "/", inode: in}
}
