package vfs

import (
	"encoding/binary"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

func TestRename(t *testing.T) {
	v, c, _ := setup(t, nil)
	writeFile(t, v, c, "/etc/a", "A")
	writeFile(t, v, c, "/etc/b", "B")
	wantErr(t, "noreplace", v.Rename(c, Path{}, "/etc/a", Path{}, "/etc/b", RenameNoReplace), unix.EEXIST)
	wantErr(t, "exchange", v.Rename(c, Path{}, "/etc/a", Path{}, "/etc/b", RenameExchange), nil)
	if readAll(t, v, c, "/etc/a") != "B" || readAll(t, v, c, "/etc/b") != "A" {
		t.Fatal("exchange did not swap")
	}
	wantErr(t, "exchange missing", v.Rename(c, Path{}, "/etc/a", Path{}, "/etc/zz", RenameExchange), unix.ENOENT)
	wantErr(t, "both flags", v.Rename(c, Path{}, "/etc/a", Path{}, "/etc/b", RenameExchange|RenameNoReplace), unix.EINVAL)
	wantErr(t, "replace", v.Rename(c, Path{}, "/etc/a", Path{}, "/etc/b", 0), nil)
	if readAll(t, v, c, "/etc/b") != "B" {
		t.Fatal("replace")
	}
	_, err := v.Stat(c, Path{}, "/etc/a", false)
	wantErr(t, "old gone", err, unix.ENOENT)
	wantErr(t, "into own subdir", v.Rename(c, Path{}, "/dir", Path{}, "/dir/sub/x", 0), unix.EINVAL)
	wantErr(t, "dir over file", v.Rename(c, Path{}, "/dir", Path{}, "/etc/b", 0), unix.ENOTDIR)
	wantErr(t, "file over dir", v.Rename(c, Path{}, "/etc/b", Path{}, "/dir", 0), unix.EISDIR)
	wantErr(t, "dir over nonempty", v.Rename(c, Path{}, "/usr", Path{}, "/dir", 0), unix.ENOTEMPTY)
	wantErr(t, "dot", v.Rename(c, Path{}, "/dir/.", Path{}, "/x", 0), unix.EBUSY)
	wantErr(t, "mountpoint", v.Rename(c, Path{}, "/proc", Path{}, "/x", 0), unix.EBUSY)
	wantErr(t, "cross mount", v.Rename(c, Path{}, "/etc/b", Path{}, "/dev/b", 0), unix.EXDEV)
	wantErr(t, "file trailing slash", v.Rename(c, Path{}, "/etc/b/", Path{}, "/etc/c", 0), unix.ENOTDIR)
	// Moving a lower dir keeps its lower content and hides the old name.
	before, _ := v.Stat(c, Path{}, "/", false)
	wantErr(t, "move dir", v.Rename(c, Path{}, "/dir", Path{}, "/etc/moved", 0), nil)
	if readAll(t, v, c, "/etc/moved/sub/inner") != "in" {
		t.Fatal("moved dir content")
	}
	after, _ := v.Stat(c, Path{}, "/", false)
	if after.Nlink != before.Nlink-1 {
		t.Fatalf("root nlink %d -> %d", before.Nlink, after.Nlink)
	}
	if slices.Contains(listNames(t, v, c, "/"), "dir") {
		t.Fatal("old dir name still listed")
	}
	// Empty dir over empty dir.
	v.Mkdir(c, Path{}, "/e1", 0o755)
	v.Mkdir(c, Path{}, "/e2", 0o755)
	wantErr(t, "dir over empty dir", v.Rename(c, Path{}, "/e1", Path{}, "/e2", 0), nil)
}

func TestGetdents64(t *testing.T) {
	v, c, _ := setup(t, nil)
	writeFile(t, v, c, "/dir/upper", "u")
	f, err := v.Open(c, Path{}, "/dir", unix.O_RDONLY|unix.O_DIRECTORY, 0)
	wantErr(t, "open", err, nil)
	defer f.DecRef()
	_, err = f.Getdents64(10)
	wantErr(t, "tiny buffer", err, unix.EINVAL)
	b, err := f.Getdents64(48) // "." and ".." are 24 bytes each
	wantErr(t, "first", err, nil)
	// Check the raw encoding of the first record.
	if reclen := binary.LittleEndian.Uint16(b[16:]); reclen != 24 || b[18] != unix.DT_DIR || string(b[19:21]) != ".\x00" {
		t.Fatalf("raw record % x", b[:24])
	}
	ds := ParseDirents(b)
	if len(ds) != 2 || ds[0].Name != "." || ds[1].Name != ".." || ds[1].Off != 2 {
		t.Fatalf("first batch %+v", ds)
	}
	st, _ := v.Stat(c, Path{}, "/dir", false)
	if ds[0].Ino != st.Ino {
		t.Fatal(". ino")
	}
	// Entries removed after the listing started still show up (snapshot).
	wantErr(t, "unlink", v.Unlink(c, Path{}, "/dir/f2"), nil)
	var names []string
	types := map[string]uint8{}
	for {
		b, err := f.Getdents64(4096)
		wantErr(t, "more", err, nil)
		if len(b) == 0 {
			break
		}
		for len(b) > 0 {
			if reclen := binary.LittleEndian.Uint16(b[16:]); reclen%8 != 0 {
				t.Fatalf("reclen %d not aligned", reclen)
			} else {
				b = b[reclen:]
			}
		}
	}
	f.Seek(0, unix.SEEK_SET)
	b, _ = f.Getdents64(4096)
	for _, d := range ParseDirents(b) {
		names = append(names, d.Name)
		types[d.Name] = d.Type
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{".", "..", "f1", "sub", "upper"}) {
		t.Fatalf("after rewind: %v", names)
	}
	if types["sub"] != unix.DT_DIR || types["f1"] != unix.DT_REG {
		t.Fatalf("types %v", types)
	}
	fr, _ := v.Open(c, Path{}, "/dir/f1", unix.O_RDONLY, 0)
	_, err = fr.Getdents64(4096)
	wantErr(t, "file", err, unix.ENOTDIR)
	_, err = f.Read(make([]byte, 4))
	wantErr(t, "read dir", err, unix.EISDIR)
	fr.DecRef()
}
