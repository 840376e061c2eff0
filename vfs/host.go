package vfs

import (
	"encoding/binary"
	"path"

	"golang.org/x/sys/unix"
)

// The lower layer is reached only through these helpers. Every host open is
// O_RDONLY, relative to the filesystem's host directory fd (the rootfs or a
// bind-mounted directory), and refuses to leave it or to
// follow any symlink (openat2 RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS), so a
// rootfs symlink can never make the sentry read outside the rootfs.

const hostResolve = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS

// hostOpen opens rel (relative to the rootfs; "" = the rootfs itself).
func (fs *filesystem) hostOpen(rel string, flags int) (int, error) {
	if rel == "" {
		rel = "."
	}
	how := unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC | unix.O_NOFOLLOW), Resolve: hostResolve}
	for {
		fd, err := unix.Openat2(fs.hostFD, rel, &how)
		if err == unix.EINTR {
			continue
		}
		return fd, err
	}
}

// hostLstat is lstat(2) of rel inside the rootfs.
func (fs *filesystem) hostLstat(rel string) (unix.Stat_t, error) {
	var st unix.Stat_t
	if rel == "" {
		return st, unix.Fstat(fs.hostFD, &st)
	}
	dir, name := path.Split(rel)
	pfd, err := fs.hostOpen(dir, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return st, err
	}
	defer unix.Close(pfd)
	err = unix.Fstatat(pfd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	return st, err
}

// hostReadlink is readlink(2) of rel inside the rootfs.
func (fs *filesystem) hostReadlink(rel string) (string, error) {
	dir, name := path.Split(rel)
	pfd, err := fs.hostOpen(dir, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return "", err
	}
	defer unix.Close(pfd)
	buf := make([]byte, 4096)
	n, err := unix.Readlinkat(pfd, name, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// hostOpenReg opens a regular lower file for reading.
func (fs *filesystem) hostOpenReg(rel string) (int, error) {
	fd, err := fs.hostOpen(rel, unix.O_RDONLY|unix.O_NONBLOCK)
	if err != nil {
		return -1, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return -1, unix.EACCES
	}
	return fd, nil
}

// hostEnt is one entry of a host directory.
type hostEnt struct {
	name  string
	ino   uint64
	dtype uint8
}

// hostReaddir lists a lower directory (without "." and "..").
func (fs *filesystem) hostReaddir(rel string) ([]hostEnt, error) {
	fd, err := fs.hostOpen(rel, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	var out []hostEnt
	buf := make([]byte, 32<<10)
	for {
		n, err := unix.Getdents(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			return out, nil
		}
		for _, d := range parseDirents(buf[:n]) {
			if d.Name != "." && d.Name != ".." {
				out = append(out, hostEnt{name: d.Name, ino: d.Ino, dtype: d.Type})
			}
		}
	}
}

// hostPread reads from a host fd at off, retrying EINTR.
func hostPread(fd int, p []byte, off int64) (int, error) {
	for {
		n, err := unix.Pread(fd, p, off)
		if err == unix.EINTR {
			continue
		}
		return n, err
	}
}

// Dirent is one decoded linux_dirent64 record.
type Dirent struct {
	Ino  uint64
	Off  int64
	Type uint8
	Name string
}

// parseDirents decodes linux_dirent64 records (include/linux/dirent.h).
func parseDirents(b []byte) []Dirent {
	var out []Dirent
	for len(b) >= 19 {
		reclen := int(binary.LittleEndian.Uint16(b[16:18]))
		if reclen < 19 || reclen > len(b) {
			break
		}
		name := b[19:reclen]
		for i, c := range name {
			if c == 0 {
				name = name[:i]
				break
			}
		}
		out = append(out, Dirent{
			Ino:  binary.LittleEndian.Uint64(b[0:8]),
			Off:  int64(binary.LittleEndian.Uint64(b[8:16])),
			Type: b[18],
			Name: string(name),
		})
		b = b[reclen:]
	}
	return out
}

// ParseDirents decodes a Getdents64 buffer back into records.
func ParseDirents(b []byte) []Dirent { return parseDirents(b) }
