// Package vfs is kvsentry's virtual file system: the guest's whole file tree,
// resolved by the sentry (the guest never touches host paths).
//
// The root is an overlay: the rootfs host directory is a read-only lower layer
// (opened O_RDONLY through openat2 with RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS,
// never modified) under an in-memory upper layer. Attributes of every looked-up
// node live in memory (initialised from the host's lstat), so chmod/chown/utimes
// never touch the host; regular-file content is copied up into memory on the
// first write or truncate (fs/overlayfs/copy_up.c's role). Deleted lower names
// become whiteouts in their directory; a directory created after a lower one
// was removed has no lower layer, i.e. it is opaque. devfs is mounted at /dev
// and procfs (content from the sentry through ProcSource) at /proc.
//
// Lock order: File.mu -> VFS.mu -> {inode.hostMu, File.hostMu}. For
// readiness: a file's own state lock (pipe.mu, eventfd, timerfd) -> its
// wait-queue lock -> an epoll instance's ready-list lock (see waiter.go and
// epoll.go); none of these is held while a wait blocks. VFS.mu (one RWMutex for the whole
// tree: dentries, inode attributes, memory file data) is never held while a
// pipe or FIFO operation blocks, nor while calling into the sentry
// (ProcSource/ProcTask methods run with it released, so they may call
// File.Name or PathString).
package vfs
