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
// was removed has no lower layer, i.e. it is opaque.
//
// The mount tree (mount.go): the root overlay, procfs (content from the
// sentry through ProcSource) at /proc, devtmpfs at /dev, devpts at
// /dev/pts, tmpfs at /dev/shm, /tmp and /run, a read-only sysfs at /sys,
// then Options.Mounts (bind mounts of host directories; a read-only one
// fails writes with EROFS in the sentry, a read-write one writes through
// to the host). The guest's root may mount and umount tmpfs instances.
// statfs reports each filesystem's magic and mount flags; /proc/mounts and
// /proc/PID/mountinfo list the tree in mount order.
//
// Overlay modes (Options.Overlay). Memory: the upper layer lives only in
// memory. None: every change is also applied to the rootfs directory
// itself (hostStore). DIR: every change is also recorded in a host
// directory (upperStore, write-through, loaded into memory at start):
//
//	DIR/upper/<guest path>  copied-up and new objects: regular files with
//	                        their content, directories, symlinks; FIFOs and
//	                        devices as nodes (empty files if mknod is refused)
//	DIR/meta.log            one record a line, applied in order:
//	  M "path" mode uid gid rdev atime.s atime.ns mtime.s mtime.ns opaque
//	  W "path"              whiteout: the lower entry is deleted
//	  D "path"              removed, no lower entry to hide
//	  R "old" "new"         rename: the records below old move to new
//
// Paths are Go-quoted, relative to the root. At start the log is replayed
// and rewritten compacted (temporary file, fsync, rename); a torn last
// record is ignored, and copy-up temporaries (".kvsentry-tmp.*", written
// then renamed into place) left by a crash are deleted, so a crash mid-run
// loses at most the changes in flight. Regular files take their times from
// the upper file. Renaming a directory that merges a lower one, and
// RENAME_EXCHANGE, fail with EXDEV there (overlayfs without redirect_dir;
// mv copies instead). In memory and DIR modes the rootfs is never written.
//
// Lower files owned by the host user who extracted the rootfs without
// root (the rootfs directory's owner, when not root) appear root-owned.
//
// Lock order: File.mu -> VFS.mu -> {inode.hostMu, File.hostMu} ->
// mm.FileCache's lock -> mm.Pool's lock (memory files' pages are taken and
// freed under VFS.mu, memdata.go); store hooks run under VFS.mu and take no
// lock. The last DecRef of a regular file takes VFS.mu (memfile.go), so it
// must not run with VFS.mu held (see VFS.unlocked). For
// readiness: a file's own state lock (pipe.mu, eventfd, timerfd) -> its
// wait-queue lock -> an epoll instance's ready-list lock (see waiter.go and
// epoll.go); none of these is held while a wait blocks. inotify events:
// VFS.mu -> fsnMu -> Inotify.mu -> the instance's wait-queue lock
// (fsnotify.go). VFS.mu (one RWMutex for the whole
// tree: dentries, inode attributes, memory files' page indexes) is never held while a
// pipe or FIFO operation blocks, nor while calling into the sentry
// (ProcSource/ProcTask methods run with it released, so they may call
// File.Name or PathString).
package vfs
