package vfs

import (
	"strings"

	"golang.org/x/sys/unix"
)

// Limits of path resolution (include/uapi/linux/limits.h, fs/namei.c).
const (
	maxSymlinks = 40   // MAXSYMLINKS
	pathMax     = 4096 // PATH_MAX, including the NUL
	nameMax     = 255  // NAME_MAX
)

// walker resolves one path for one operation; links counts symlinks
// followed so far (nameidata's total_link_count).
type walker struct {
	v     *VFS
	c     *Ctx
	links int
}

// root is the caller's root directory.
func (w *walker) root() Path {
	if w.c.Root.Valid() {
		return w.c.Root
	}
	return w.v.Root()
}

// splitPath validates name and splits it into components.
func splitPath(name string) (comps []string, trailing bool, err error) {
	if len(name) >= pathMax {
		return nil, false, unix.ENAMETOOLONG
	}
	for _, s := range strings.Split(name, "/") {
		if s == "" {
			continue
		}
		if len(s) > nameMax {
			return nil, false, unix.ENAMETOOLONG
		}
		comps = append(comps, s)
	}
	trailing = strings.HasSuffix(name, "/")
	return comps, trailing, nil
}

// startOf picks where resolving name begins (path_init): c.Root for
// absolute names, else start, else c.Cwd.
func (w *walker) startOf(start Path, name string) Path {
	switch {
	case strings.HasPrefix(name, "/"):
		return w.root()
	case start.Valid():
		return start
	case w.c.Cwd.Valid():
		return w.c.Cwd
	}
	return w.root()
}

// cross moves p onto the root of whatever is mounted on it.
func (w *walker) cross(p Path) Path {
	for {
		m := w.v.mountAt(p)
		if m == nil {
			return p
		}
		p = Path{m, m.root}
	}
}

// step resolves one component from directory cur (walk_component);
// a symlink result is followed when follow is set.
func (w *walker) step(cur Path, comp string, follow bool) (Path, error) {
	in := cur.d.inode
	if !in.isDir() {
		return Path{}, unix.ENOTDIR
	}
	if err := permits(&w.c.Creds, in, mayExec); err != nil {
		return Path{}, err
	}
	switch comp {
	case ".":
		return cur, nil
	case "..":
		return w.v.parentOf(w.root(), cur), nil
	}
	ch, err := w.v.lookupChild(w.c, cur.d, comp)
	if err != nil {
		return Path{}, err
	}
	p := w.cross(Path{cur.mnt, ch})
	if follow && p.d.inode.isSymlink() {
		return w.follow(cur, p)
	}
	return p, nil
}

// readlink returns the text of a symlink inode.
func (w *walker) readlink(in *inode) (string, error) {
	if in.link != nil {
		var s string
		var err error
		w.v.unlocked(func() { s, err = in.link(w.c) })
		return s, err
	}
	return in.target, nil
}

// follow resolves the symlink link found in directory dir (pick_link):
// absolute targets restart at the caller's root, never the host's.
func (w *walker) follow(dir, link Path) (Path, error) {
	w.links++
	if w.links > maxSymlinks {
		return Path{}, unix.ELOOP
	}
	if p, ok := w.magicLink(link.d.inode); ok {
		return p, nil
	}
	target, err := w.readlink(link.d.inode)
	if err != nil {
		return Path{}, err
	}
	if target == "" {
		return Path{}, unix.ENOENT
	}
	comps, trailing, err := splitPath(target)
	if err != nil {
		return Path{}, err
	}
	start := dir
	if strings.HasPrefix(target, "/") {
		start = w.root()
	}
	return w.walk(start, comps, trailing, true)
}

// walk resolves comps from start; the last component's symlink is followed
// if followLast or a trailing slash demands a directory.
func (w *walker) walk(start Path, comps []string, trailing, followLast bool) (Path, error) {
	cur := start
	for i, comp := range comps {
		last := i == len(comps)-1
		var err error
		cur, err = w.step(cur, comp, !last || followLast || trailing)
		if err != nil {
			return Path{}, err
		}
	}
	if trailing && !cur.d.inode.isDir() {
		return Path{}, unix.ENOTDIR
	}
	return cur, nil
}

// resolve is the full lookup of name (filename_lookup). Call with v.mu held.
func (w *walker) resolve(start Path, name string, follow bool) (Path, error) {
	if name == "" {
		return Path{}, unix.ENOENT
	}
	comps, trailing, err := splitPath(name)
	if err != nil {
		return Path{}, err
	}
	return w.walk(w.startOf(start, name), comps, trailing, follow)
}

// resolveParent resolves all but the last component of name
// (filename_parentat). last is "." for names like "/" with no components.
func (w *walker) resolveParent(start Path, name string) (dir Path, last string, trailing bool, err error) {
	if name == "" {
		return Path{}, "", false, unix.ENOENT
	}
	comps, trailing, err := splitPath(name)
	if err != nil {
		return Path{}, "", false, err
	}
	s := w.startOf(start, name)
	if len(comps) == 0 {
		return s, ".", trailing, nil
	}
	dir, err = w.walk(s, comps[:len(comps)-1], false, true)
	if err != nil {
		return Path{}, "", false, err
	}
	if !dir.d.inode.isDir() {
		return Path{}, "", false, unix.ENOTDIR
	}
	return dir, comps[len(comps)-1], trailing, nil
}

// resolveEmpty is resolve where name "" means start itself (AT_EMPTY_PATH).
func (w *walker) resolveEmpty(start Path, name string, follow bool) (Path, error) {
	if name == "" {
		if start.Valid() {
			return start, nil
		}
		return w.startOf(start, "."), nil
	}
	return w.resolve(start, name, follow)
}

// Lookup resolves name from start (invalid start: c.Cwd; absolute names
// start at c.Root), following a final symlink if follow is set.
func (v *VFS) Lookup(c *Ctx, start Path, name string, follow bool) (Path, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	w := &walker{v: v, c: c}
	return w.resolve(start, name, follow)
}

// isDot reports whether a last component is "." or "..".
func isDot(s string) bool { return s == "." || s == ".." }
