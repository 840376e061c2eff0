package rootfs

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// Extract unpacks the tar archive read from r (gzip-compressed or plain) into
// dir, which is created if absent. Like GNU tar run as root it keeps modes
// (setuid/setgid/sticky included), owners (lchown(2); when not root, owners are
// skipped with one warning), mtimes, symlinks, hardlinks, fifos and device
// nodes. All file system access goes through an os.Root on dir, so an entry
// named "../x", or one written through a symlink that points outside dir, is
// refused with an error instead of escaping. Leading "/" in member names is
// stripped, as GNU tar does.
func Extract(r io.Reader, dir string) error {
	br := bufio.NewReader(r)
	var src io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("extract: %w", err)
		}
		defer gz.Close()
		src = gz
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("extract: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("extract: %w", err)
	}
	defer root.Close()
	x := &extractor{root: root, chown: os.Geteuid() == 0}
	tr := tar.NewReader(src)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("extract: reading archive: %w", err)
		}
		if err := x.entry(hdr, tr); err != nil {
			return fmt.Errorf("extract %q: %w", hdr.Name, err)
		}
	}
	return x.finishDirs()
}

// extractor holds the state of one Extract call.
type extractor struct {
	root   *os.Root
	chown  bool
	warned bool
	// dirs get their final mode, owner and mtime after every entry is
	// written: creating children changes a directory's mtime, and a read-only
	// directory could not receive its children.
	dirs []*tar.Header
}

// memberName turns a tar member name into a path relative to the root, or
// refuses it if it would leave the root.
func memberName(name string) (string, error) {
	n := path.Clean(strings.TrimLeft(name, "/"))
	if n == "." || n == "" {
		return ".", nil
	}
	if !filepath.IsLocal(n) {
		return "", fmt.Errorf("member name %q escapes the destination directory", name)
	}
	return n, nil
}

// entry writes one archive member.
func (x *extractor) entry(hdr *tar.Header, body io.Reader) error {
	switch hdr.Typeflag {
	case tar.TypeXGlobalHeader, tar.TypeXHeader, tar.TypeGNULongName, tar.TypeGNULongLink:
		return nil // archive/tar already folded these into the next header
	}
	name, err := memberName(hdr.Name)
	if err != nil {
		return err
	}
	if dir := path.Dir(name); dir != "." {
		if err := x.root.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	if hdr.Typeflag == tar.TypeDir {
		if err := x.root.Mkdir(name, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		fi, err := x.root.Lstat(name)
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			return fmt.Errorf("%s exists and is not a directory", name)
		}
		// Owner-writable until finishDirs sets the real mode.
		if err := x.root.Chmod(name, fi.Mode().Perm()|0o700); err != nil {
			return err
		}
		x.dirs = append(x.dirs, hdr)
		return nil
	}
	if err := x.removeExisting(name); err != nil {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeRegA, tar.TypeCont:
		if err := x.writeFile(name, body); err != nil {
			return err
		}
	case tar.TypeSymlink:
		if err := x.root.Symlink(hdr.Linkname, name); err != nil {
			return err
		}
	case tar.TypeLink:
		target, err := memberName(hdr.Linkname)
		if err != nil {
			return err
		}
		// A hard link shares the inode of an entry already extracted, with its
		// attributes; nothing more to set (GNU tar does the same).
		return x.root.Link(target, name)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		if err := x.mknod(name, hdr); err != nil {
			return err
		}
	default:
		logrus.Warnf("rootfs: skipping %s: unsupported tar entry type %q", hdr.Name, hdr.Typeflag)
		return nil
	}
	return x.setAttrs(name, hdr)
}

// removeExisting unlinks a non-directory already at name, as GNU tar does
// before extracting a member over it; a directory there is an error.
func (x *extractor) removeExisting(name string) error {
	fi, err := x.root.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return fmt.Errorf("%s exists and is a directory", name)
	}
	return x.root.Remove(name)
}

// writeFile creates name (O_EXCL, so never through a symlink) with body.
func (x *extractor) writeFile(name string, body io.Reader) error {
	f, err := x.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// inParent runs fn with an fd of name's parent directory (opened through the
// root, so confined) and name's last component; fn must use *at calls that do
// not follow a symlink in that last component.
func (x *extractor) inParent(name string, fn func(dirfd int, base string) error) error {
	d, err := x.root.Open(path.Dir(name))
	if err != nil {
		return err
	}
	defer d.Close()
	return fn(int(d.Fd()), path.Base(name))
}

// mknod creates a device node or fifo, see mknodat(2).
func (x *extractor) mknod(name string, hdr *tar.Header) error {
	mode := uint32(hdr.Mode & 0o7777)
	var dev int
	switch hdr.Typeflag {
	case tar.TypeChar:
		mode |= unix.S_IFCHR
		dev = int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor)))
	case tar.TypeBlock:
		mode |= unix.S_IFBLK
		dev = int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor)))
	default:
		mode |= unix.S_IFIFO
	}
	return x.inParent(name, func(dirfd int, base string) error {
		if err := unix.Mknodat(dirfd, base, mode, dev); err != nil {
			return &fs.PathError{Op: "mknodat", Path: name, Err: err}
		}
		return nil
	})
}

// setAttrs applies owner, mode and times of hdr to name without following a
// symlink at name: fchownat(2) and utimensat(2) with AT_SYMLINK_NOFOLLOW; the
// mode (which symlinks do not have) is set after the owner, since chown clears
// the setuid and setgid bits.
func (x *extractor) setAttrs(name string, hdr *tar.Header) error {
	return x.inParent(name, func(dirfd int, base string) error {
		if x.chown {
			if err := unix.Fchownat(dirfd, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				return &fs.PathError{Op: "lchown", Path: name, Err: err}
			}
		} else if !x.warned && (hdr.Uid != os.Geteuid() || hdr.Gid != os.Getegid()) {
			x.warned = true
			logrus.Warnf("rootfs: not running as root: file owners from the archive are not kept")
		}
		if hdr.Typeflag != tar.TypeSymlink {
			if err := unix.Fchmodat(dirfd, base, uint32(hdr.Mode&0o7777), 0); err != nil {
				return &fs.PathError{Op: "chmod", Path: name, Err: err}
			}
		}
		ts := []unix.Timespec{timespec(hdr.AccessTime, hdr.ModTime), timespec(hdr.ModTime, hdr.ModTime)}
		if err := unix.UtimesNanoAt(dirfd, base, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return &fs.PathError{Op: "utimensat", Path: name, Err: err}
		}
		return nil
	})
}

// timespec converts t, or fallback when t is unset, for utimensat(2).
func timespec(t, fallback time.Time) unix.Timespec {
	if t.IsZero() {
		t = fallback
	}
	return unix.NsecToTimespec(t.UnixNano())
}

// finishDirs applies the recorded directory attributes, deepest first so that
// setting a child's times does not disturb its parent's.
func (x *extractor) finishDirs() error {
	for i := len(x.dirs) - 1; i >= 0; i-- {
		hdr := x.dirs[i]
		name, _ := memberName(hdr.Name)
		if name == "." {
			// The root itself: its parent is outside the root, so use the
			// root's own fd.
			if err := x.setRootAttrs(hdr); err != nil {
				return fmt.Errorf("extract %q: %w", hdr.Name, err)
			}
			continue
		}
		if err := x.setAttrs(name, hdr); err != nil {
			return fmt.Errorf("extract %q: %w", hdr.Name, err)
		}
	}
	return nil
}

// setRootAttrs applies a "./" member's attributes to the destination itself.
func (x *extractor) setRootAttrs(hdr *tar.Header) error {
	if x.chown {
		if err := x.root.Chown(".", hdr.Uid, hdr.Gid); err != nil {
			return err
		}
	}
	if err := x.root.Chmod(".", hdr.FileInfo().Mode()); err != nil {
		return err
	}
	atime := hdr.AccessTime
	if atime.IsZero() {
		atime = hdr.ModTime
	}
	return x.root.Chtimes(".", atime, hdr.ModTime)
}
