package vfs

import (
	"bufio"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// upperStore keeps the writes of --overlay DIR (format in doc.go):
// DIR/upper holds copied-up and new objects at their guest paths,
// DIR/meta.log the metadata, whiteouts and renames, one record a line.
type upperStore struct {
	dir   string
	ufs   *filesystem // hostFD: DIR/upper, for the lower-layer readers
	lower *filesystem // the overlay itself (lower = the rootfs)
	log   *os.File

	metas map[string]upperMeta // replayed from meta.log, used while loading
	wh    map[string]bool
}

// upperMeta is one object's recorded attributes.
type upperMeta struct {
	mode, uid, gid uint32
	rdev           uint64
	atime, mtime   unix.Timespec
	opaque         bool
}

// openUpperStore opens (creating) DIR, replays and compacts its log.
func openUpperStore(dir string, lower *filesystem) (*upperStore, error) {
	if dir == "" {
		return nil, fmt.Errorf("vfs: overlay directory not given")
	}
	if err := os.MkdirAll(filepath.Join(dir, "upper"), 0o700); err != nil {
		return nil, fmt.Errorf("vfs: overlay %s: %w", dir, err)
	}
	ufd, err := unix.Open(filepath.Join(dir, "upper"), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("vfs: overlay %s: %w", dir, err)
	}
	u := &upperStore{dir: dir, ufs: &filesystem{hostFD: ufd}, lower: lower,
		metas: map[string]upperMeta{}, wh: map[string]bool{}}
	if err := u.replay(); err != nil {
		unix.Close(ufd)
		return nil, err
	}
	if err := u.compact(); err != nil {
		unix.Close(ufd)
		return nil, err
	}
	return u, nil
}

// replay reads meta.log; a torn or unparsable line (a crash mid-append)
// ends the replay.
func (u *upperStore) replay() error {
	f, err := os.Open(filepath.Join(u.dir, "meta.log"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil // EOF, or a last line without its newline
		}
		if !u.apply(strings.TrimSuffix(line, "\n")) {
			logrus.Warnf("vfs: overlay %s: bad meta.log record %q ignored", u.dir, line)
			return nil
		}
	}
}

// dropUnder deletes keys rel and rel/... of m.
func dropUnder[T any](m map[string]T, rel string) {
	for k := range m {
		if k == rel || strings.HasPrefix(k, rel+"/") || rel == "" {
			delete(m, k)
		}
	}
}

// apply replays one record.
func (u *upperStore) apply(line string) bool {
	if len(line) < 2 {
		return false
	}
	kind, rest := line[0], line[2:]
	rel, rest, ok := cutQuoted(rest)
	if !ok {
		return false
	}
	switch kind {
	case 'M':
		var m upperMeta
		var op int
		if _, err := fmt.Sscanf(rest, "%o %d %d %d %d %d %d %d %d", &m.mode, &m.uid, &m.gid, &m.rdev,
			&m.atime.Sec, &m.atime.Nsec, &m.mtime.Sec, &m.mtime.Nsec, &op); err != nil {
			return false
		}
		m.opaque = op != 0
		u.metas[rel] = m
		delete(u.wh, rel)
	case 'W', 'D':
		dropUnder(u.metas, rel)
		dropUnder(u.wh, rel)
		if kind == 'W' {
			u.wh[rel] = true
		}
	case 'R':
		nrel, _, ok := cutQuoted(strings.TrimPrefix(rest, " "))
		if !ok {
			return false
		}
		moved := map[string]upperMeta{}
		for k, m := range u.metas {
			if k == rel || strings.HasPrefix(k, rel+"/") {
				moved[nrel+k[len(rel):]] = m
				delete(u.metas, k)
			}
		}
		dropUnder(u.metas, nrel)
		dropUnder(u.wh, nrel)
		for k, m := range moved {
			u.metas[k] = m
		}
	default:
		return false
	}
	return true
}

// cutQuoted reads a Go-quoted string at the start of s.
func cutQuoted(s string) (string, string, bool) {
	q, err := strconv.QuotedPrefix(s)
	if err != nil {
		return "", "", false
	}
	v, err := strconv.Unquote(q)
	if err != nil {
		return "", "", false
	}
	return v, strings.TrimPrefix(s[len(q):], " "), true
}

// metaRecord formats an M record.
func metaRecord(rel string, m upperMeta) string {
	op := 0
	if m.opaque {
		op = 1
	}
	return fmt.Sprintf("M %s %o %d %d %d %d %d %d %d %d\n", strconv.Quote(rel), m.mode, m.uid, m.gid, m.rdev,
		m.atime.Sec, m.atime.Nsec, m.mtime.Sec, m.mtime.Nsec, op)
}

// compact rewrites meta.log as the replayed state (temporary file, fsync,
// rename: either the old or the new log survives a crash) and opens it
// for appending.
func (u *upperStore) compact() error {
	tmp := filepath.Join(u.dir, "meta.log.tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	keys := make([]string, 0, len(u.metas))
	for k := range u.metas {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		w.WriteString(metaRecord(k, u.metas[k]))
	}
	keys = keys[:0]
	for k := range u.wh {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		w.WriteString("W " + strconv.Quote(k) + "\n")
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	f.Sync()
	f.Close()
	if err := os.Rename(tmp, filepath.Join(u.dir, "meta.log")); err != nil {
		return err
	}
	u.log, err = os.OpenFile(filepath.Join(u.dir, "meta.log"), os.O_WRONLY|os.O_APPEND, 0o600)
	return err
}

// record appends one record with a single write.
func (u *upperStore) record(s string) {
	if _, err := u.log.WriteString(s); err != nil {
		logrus.WithError(err).Warnf("vfs: overlay %s: meta.log", u.dir)
	}
}

// recordMeta appends in's attributes under rel.
func (u *upperStore) recordMeta(rel string, in *inode) {
	u.record(metaRecord(rel, upperMeta{mode: in.mode, uid: in.uid, gid: in.gid, rdev: in.rdev,
		atime: in.atime, mtime: in.mtime, opaque: in.isDir() && in.hostPath == ""}))
}

func (u *upperStore) warn(op, rel string, err error) {
	if err != nil {
		logrus.WithError(err).Warnf("vfs: overlay %s: %s %q", u.dir, op, rel)
	}
}

// ensure gives in (named by in.d) an upper copy, copying up its parents
// first (ovl_copy_up's walk from the top).
func (u *upperStore) ensure(in *inode) {
	if in.inUpper || in.d == nil {
		return
	}
	if in.d.parent == nil {
		in.inUpper = true
		return
	}
	u.ensure(in.d.parent.inode)
	rel := relOf(in.d)
	var fill func(fd int) error
	if in.isReg() && in.hostPath != "" {
		fill = hostCopyFill(in.fs, in.hostPath)
	} else if in.isReg() {
		fill = contentFill(in.content)
	}
	if err := hostMake(u.ufs.hostFD, rel, in, fill); err != nil {
		u.warn("copy up", rel, err)
		return
	}
	in.inUpper = true
	u.recordMeta(rel, in)
}

func (u *upperStore) create(in *inode) {
	u.ensure(in.d.parent.inode)
	rel := relOf(in.d)
	u.removeUpper(rel)
	var fill func(fd int) error
	if in.isReg() {
		fill = contentFill(in.content)
	}
	u.warn("create", rel, hostMake(u.ufs.hostFD, rel, in, fill))
	in.inUpper = true
	u.recordMeta(rel, in)
}

func (u *upperStore) write(in *inode, off int64, n int) {
	if !in.inUpper {
		u.ensure(in)
		return
	}
	rel := relOf(in.d)
	fd, err := hostOpenW(u.ufs.hostFD, rel, unix.O_WRONLY)
	if err != nil {
		u.warn("write", rel, err)
		return
	}
	defer unix.Close(fd)
	u.warn("write", rel, in.content.copyToFD(fd, off, int64(n)))
}

func (u *upperStore) truncate(in *inode) {
	if !in.inUpper {
		u.ensure(in)
		return
	}
	rel := relOf(in.d)
	fd, err := hostOpenW(u.ufs.hostFD, rel, unix.O_WRONLY)
	if err != nil {
		u.warn("truncate", rel, err)
		return
	}
	defer unix.Close(fd)
	u.warn("truncate", rel, unix.Ftruncate(fd, in.content.Size()))
}

func (u *upperStore) setattr(in *inode) {
	u.ensure(in)
	rel := relOf(in.d)
	if in.isReg() {
		hostSetattr(u.ufs.hostFD, rel, in, false, u.lower) // times of the content
	}
	u.recordMeta(rel, in)
}

// removeUpper deletes whatever the upper holds at rel.
func (u *upperStore) removeUpper(rel string) {
	pfd, name, err := hostParent(u.ufs.hostFD, rel)
	if err != nil {
		return
	}
	defer unix.Close(pfd)
	if err := unix.Unlinkat(pfd, name, 0); err == unix.EISDIR || err == unix.EPERM {
		u.removeTree(pfd, name)
	}
}

// removeTree deletes directory name in pfd with everything below it.
func (u *upperStore) removeTree(pfd int, name string) {
	fd, err := unix.Openat(pfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	ents, _ := (&filesystem{hostFD: fd}).hostReaddir(".")
	for _, e := range ents {
		if e.dtype == unix.DT_DIR {
			u.removeTree(fd, e.name)
		} else {
			unix.Unlinkat(fd, e.name, 0)
		}
	}
	unix.Close(fd)
	unix.Unlinkat(pfd, name, unix.AT_REMOVEDIR)
}

func (u *upperStore) remove(dir *dentry, name string, isDir, lower bool) {
	rel := path.Join(relOf(dir), name)
	u.removeUpper(rel)
	if lower {
		u.record("W " + strconv.Quote(rel) + "\n")
	} else {
		u.record("D " + strconv.Quote(rel) + "\n")
	}
}

func (u *upperStore) rename(oldRel string, oldLower bool, in *inode) {
	newRel := relOf(in.d)
	u.ensure(in.d.parent.inode)
	if in.inUpper {
		ofd, on, err := hostParent(u.ufs.hostFD, oldRel)
		if err == nil {
			var nfd int
			var nn string
			nfd, nn, err = hostParent(u.ufs.hostFD, newRel)
			if err == nil {
				u.removeUpperIfDir(nfd, nn)
				err = unix.Renameat(ofd, on, nfd, nn)
				unix.Close(nfd)
			}
			unix.Close(ofd)
		}
		u.warn("rename", oldRel, err)
		u.record("R " + strconv.Quote(oldRel) + " " + strconv.Quote(newRel) + "\n")
	} else {
		u.removeUpper(newRel)
		u.ensure(in)
	}
	u.recordMeta(newRel, in)
	if oldLower {
		u.record("W " + strconv.Quote(oldRel) + "\n")
	}
}

// removeUpperIfDir clears an upper directory about to be renamed over
// (rename(2) needs it empty; whiteouts below it live in the log).
func (u *upperStore) removeUpperIfDir(pfd int, name string) {
	var st unix.Stat_t
	if unix.Fstatat(pfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
		u.removeTree(pfd, name)
	}
}

func (u *upperStore) link(oldRel string, in *inode) {
	newRel := relOf(in.d)
	u.ensure(in.d.parent.inode)
	if !in.inUpper {
		u.ensure(in) // a lower file: the new name gets a copy
		return
	}
	ofd, on, err := hostParent(u.ufs.hostFD, oldRel)
	if err == nil {
		var nfd int
		var nn string
		nfd, nn, err = hostParent(u.ufs.hostFD, newRel)
		if err == nil {
			unix.Unlinkat(nfd, nn, 0)
			err = unix.Linkat(ofd, on, nfd, nn, 0)
			unix.Close(nfd)
		}
		unix.Close(ofd)
	}
	u.warn("link", newRel, err)
	u.recordMeta(newRel, in)
}

// check refuses what the upper cannot record: moving a directory that
// merges a lower one (overlayfs without redirect_dir: EXDEV, and mv copies)
// and RENAME_EXCHANGE.
func (u *upperStore) check(op string, in *inode) error {
	if op == "exchange" || op == "rename" && in.isDir() && in.hostPath != "" {
		return unix.EXDEV
	}
	return nil
}
