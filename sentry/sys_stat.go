package sentry

import (
	"bytes"
	"encoding/binary"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/abi/linux"

	"kvsentry/vfs"
)

func init() {
	register(unix.SYS_STAT, "sp", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		return 0, t.fstatat(int32(unix.AT_FDCWD), a[0], a[1], 0)
	})
	register(unix.SYS_LSTAT, "sp", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		return 0, t.fstatat(int32(unix.AT_FDCWD), a[0], a[1], unix.AT_SYMLINK_NOFOLLOW)
	})
	register(unix.SYS_FSTAT, "fp", Full, "", sysFstat)
	register(unix.SYS_NEWFSTATAT, "fspx", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		return 0, t.fstatat(int32(a[0]), a[1], a[2], int(a[3]))
	})
	register(unix.SYS_STATX, "fsxxp", Partial, "no birth time (STATX_BTIME not reported)", sysStatx)
	register(unix.SYS_STATFS, "sp", Full, "", sysStatfs)
	register(unix.SYS_FSTATFS, "fp", Full, "", sysFstatfs)
}

// statToLinux converts a vfs.Stat into struct stat.
func statToLinux(s vfs.Stat) *linux.Stat {
	return &linux.Stat{
		Dev: s.Dev, Ino: s.Ino, Nlink: s.Nlink, Mode: s.Mode, UID: s.UID, GID: s.GID,
		Rdev: s.Rdev, Size: s.Size, Blksize: s.Blksize, Blocks: s.Blocks,
		ATime: linux.Timespec{Sec: s.Atime.Sec, Nsec: s.Atime.Nsec},
		MTime: linux.Timespec{Sec: s.Mtime.Sec, Nsec: s.Mtime.Nsec},
		CTime: linux.Timespec{Sec: s.Ctime.Sec, Nsec: s.Ctime.Nsec},
	}
}

// statAt resolves (dirfd, name) and stats it, honouring AT_EMPTY_PATH and
// AT_SYMLINK_NOFOLLOW.
func (t *Task) statAt(dirfd int32, nameAddr uint64, flags int) (vfs.Stat, error) {
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH|unix.AT_NO_AUTOMOUNT|atStatxSyncType) != 0 {
		return vfs.Stat{}, unix.EINVAL
	}
	name, err := t.copyInPath(nameAddr)
	if err != nil {
		return vfs.Stat{}, err
	}
	emptyPath := flags&unix.AT_EMPTY_PATH != 0
	if name == "" {
		if !emptyPath {
			return vfs.Stat{}, unix.ENOENT
		}
		if dirfd != int32(unix.AT_FDCWD) {
			f, _, err := t.fds.Get(dirfd)
			if err != nil {
				return vfs.Stat{}, err
			}
			defer f.DecRef()
			return f.Stat()
		}
	}
	start, err := t.atDir(dirfd, name, emptyPath)
	if err != nil {
		return vfs.Stat{}, err
	}
	return t.k.vfs.Stat(t.vctx(), start, name, flags&unix.AT_SYMLINK_NOFOLLOW == 0)
}

// fstatat implements newfstatat(2) (and stat/lstat).
func (t *Task) fstatat(dirfd int32, nameAddr, statAddr uint64, flags int) error {
	st, err := t.statAt(dirfd, nameAddr, flags)
	if err != nil {
		return err
	}
	return t.copyOutStruct(statAddr, statToLinux(st))
}

// sysFstat implements fstat(2).
func sysFstat(t *Task, a *sysArgs) (uint64, error) {
	f, _, err := t.fds.Get(int32(a[0]))
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return 0, t.copyOutStruct(a[1], statToLinux(st))
}

// sysStatx implements statx(2).
func sysStatx(t *Task, a *sysArgs) (uint64, error) {
	dirfd, nameAddr, flags, mask, out := int32(a[0]), a[1], int(a[2]), uint32(a[3]), a[4]
	if mask&linux.STATX__RESERVED != 0 {
		return 0, unix.EINVAL
	}
	if flags&atStatxSyncType == atStatxSyncType {
		return 0, unix.EINVAL
	}
	st, err := t.statAt(dirfd, nameAddr, flags)
	if err != nil {
		return 0, err
	}
	ts := func(s unix.Timespec) linux.StatxTimestamp {
		return linux.StatxTimestamp{Sec: s.Sec, Nsec: uint32(s.Nsec)}
	}
	sx := &linux.Statx{
		Mask:    linux.STATX_BASIC_STATS,
		Blksize: uint32(st.Blksize),
		Nlink:   uint32(st.Nlink),
		UID:     st.UID, GID: st.GID,
		Mode:      uint16(st.Mode),
		Ino:       st.Ino,
		Size:      uint64(st.Size),
		Blocks:    uint64(st.Blocks),
		Atime:     ts(st.Atime),
		Ctime:     ts(st.Ctime),
		Mtime:     ts(st.Mtime),
		RdevMajor: unix.Major(st.Rdev), RdevMinor: unix.Minor(st.Rdev),
		DevMajor: unix.Major(st.Dev), DevMinor: unix.Minor(st.Dev),
	}
	return 0, t.copyOutStruct(out, sx)
}

// statfsBytes encodes struct statfs.
func statfsBytes(s unix.Statfs_t) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, s)
	return b.Bytes()
}

// sysStatfs implements statfs(2).
func sysStatfs(t *Task, a *sysArgs) (uint64, error) {
	name, err := t.copyInPath(a[0])
	if err != nil {
		return 0, err
	}
	c := t.vctx()
	p, err := t.k.vfs.Lookup(c, vfs.Path{}, name, true)
	if err != nil {
		return 0, err
	}
	s, err := t.k.vfs.Statfs(c, p)
	if err != nil {
		return 0, err
	}
	_, err = t.mm.CopyOut(a[1], statfsBytes(s))
	return 0, err
}

// sysFstatfs implements fstatfs(2).
func sysFstatfs(t *Task, a *sysArgs) (uint64, error) {
	f, _, err := t.fds.Get(int32(a[0]))
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	p := f.Path()
	if !p.Valid() {
		// Pipes and host files: report pipefs.
		_, err := t.mm.CopyOut(a[1], statfsBytes(unix.Statfs_t{Type: 0x50495045, Bsize: 4096, Namelen: 255}))
		return 0, err
	}
	s, err := t.k.vfs.Statfs(t.vctx(), p)
	if err != nil {
		return 0, err
	}
	_, err = t.mm.CopyOut(a[1], statfsBytes(s))
	return 0, err
}

// atStatxSyncType is AT_STATX_SYNC_TYPE (include/uapi/linux/fcntl.h).
const atStatxSyncType = 0x6000
