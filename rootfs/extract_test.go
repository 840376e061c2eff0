package rootfs

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// tarEntry is one member of a test archive.
type tarEntry struct {
	hdr  tar.Header
	body string
}

// buildTar returns an archive of entries, gzip-compressed if gz.
func buildTar(t *testing.T, gz bool, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	var gzw *gzip.Writer
	var tw *tar.Writer
	if gz {
		gzw = gzip.NewWriter(&buf)
		tw = tar.NewWriter(gzw)
	} else {
		tw = tar.NewWriter(&buf)
	}
	for _, e := range entries {
		h := e.hdr
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if h.Format == tar.FormatUnknown {
			h.Format = tar.FormatPAX
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if e.body != "" {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if gzw != nil {
		if err := gzw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

var (
	t1 = time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	t2 = time.Date(2021, 6, 7, 8, 9, 10, 0, time.UTC)
	t3 = time.Date(2019, 11, 12, 13, 14, 15, 0, time.UTC)
)

func sampleEntries() []tarEntry {
	return []tarEntry{
		{hdr: tar.Header{Typeflag: tar.TypeDir, Name: "./", Mode: 0o755, ModTime: t1}},
		{hdr: tar.Header{Typeflag: tar.TypeDir, Name: "./d/", Mode: 0o750, Uid: 1234, Gid: 5678, ModTime: t1}},
		{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "./d/f", Mode: 0o4755, Uid: 1234, Gid: 5678, ModTime: t2}, body: "hello\n"},
		{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: "./d/l", Linkname: "f", ModTime: t3, Uid: 42, Gid: 43}},
		{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: "./abs", Linkname: "/bin/busybox", ModTime: t3}},
		{hdr: tar.Header{Typeflag: tar.TypeLink, Name: "./d/h", Linkname: "./d/f"}},
		{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "/top", Mode: 0o600, ModTime: t2}, body: "x"},
		{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "implicit/dir/file", Mode: 0o644, ModTime: t2}, body: "y"},
		{hdr: tar.Header{Typeflag: tar.TypeDir, Name: "ro/", Mode: 0o555, ModTime: t3}},
		{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "ro/inside", Mode: 0o444, ModTime: t3}, body: "z"},
		{hdr: tar.Header{Typeflag: tar.TypeFifo, Name: "fifo", Mode: 0o640, ModTime: t1}},
	}
}

func lstat(t *testing.T, p string) *syscall.Stat_t {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t)
}

func checkSample(t *testing.T, dir string) {
	t.Helper()
	// Let t.TempDir's cleanup remove ro/inside when the test is not root.
	t.Cleanup(func() { _ = os.Chmod(filepath.Join(dir, "ro"), 0o755) })
	root := os.Geteuid() == 0
	check := func(name string, mode uint32, uid, gid int, mtime time.Time) {
		t.Helper()
		st := lstat(t, filepath.Join(dir, name))
		if st.Mode != mode {
			t.Errorf("%s: mode %o, want %o", name, st.Mode, mode)
		}
		if root && (int(st.Uid) != uid || int(st.Gid) != gid) {
			t.Errorf("%s: owner %d:%d, want %d:%d", name, st.Uid, st.Gid, uid, gid)
		}
		if got := time.Unix(st.Mtim.Unix()); !got.Equal(mtime) {
			t.Errorf("%s: mtime %v, want %v", name, got, mtime)
		}
	}
	check(".", syscall.S_IFDIR|0o755, 0, 0, t1)
	check("d", syscall.S_IFDIR|0o750, 1234, 5678, t1)
	check("d/f", syscall.S_IFREG|0o4755, 1234, 5678, t2)
	check("d/l", syscall.S_IFLNK|0o777, 42, 43, t3)
	check("top", syscall.S_IFREG|0o600, 0, 0, t2)
	check("ro", syscall.S_IFDIR|0o555, 0, 0, t3)
	check("ro/inside", syscall.S_IFREG|0o444, 0, 0, t3)
	check("fifo", syscall.S_IFIFO|0o640, 0, 0, t1)
	if b, err := os.ReadFile(filepath.Join(dir, "d/f")); err != nil || string(b) != "hello\n" {
		t.Errorf("d/f = %q, %v", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "implicit/dir/file")); err != nil || string(b) != "y" {
		t.Errorf("implicit/dir/file = %q, %v", b, err)
	}
	for name, want := range map[string]string{"d/l": "f", "abs": "/bin/busybox"} {
		if got, err := os.Readlink(filepath.Join(dir, name)); err != nil || got != want {
			t.Errorf("readlink %s = %q, %v; want %q", name, got, err, want)
		}
	}
	f, h := lstat(t, filepath.Join(dir, "d/f")), lstat(t, filepath.Join(dir, "d/h"))
	if f.Ino != h.Ino || h.Nlink != 2 {
		t.Errorf("d/h: inode %d nlink %d; want hard link to d/f (inode %d)", h.Ino, h.Nlink, f.Ino)
	}
}

func TestExtractKeepsAttributes(t *testing.T) {
	for _, gz := range []bool{false, true} {
		dir := filepath.Join(t.TempDir(), "root")
		data := buildTar(t, gz, sampleEntries()...)
		if err := Extract(bytes.NewReader(data), dir); err != nil {
			t.Fatalf("gzip=%v: %v", gz, err)
		}
		checkSample(t, dir)
	}
}

func TestExtractRefusesDotDot(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "root")
	data := buildTar(t, false,
		tarEntry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "ok", Mode: 0o644}, body: "1"},
		tarEntry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "../escape", Mode: 0o644}, body: "2"},
	)
	err := Extract(bytes.NewReader(data), dir)
	if err == nil || !strings.Contains(err.Error(), "escape") {
		t.Fatalf("Extract = %v, want an error about ../escape", err)
	}
	if _, err := os.Lstat(filepath.Join(parent, "escape")); !os.IsNotExist(err) {
		t.Errorf("../escape was written outside the root (lstat: %v)", err)
	}
}

func TestExtractRefusesHardlinkOutside(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "root")
	data := buildTar(t, false,
		tarEntry{hdr: tar.Header{Typeflag: tar.TypeLink, Name: "passwd", Linkname: "../../../../etc/passwd"}},
	)
	if err := Extract(bytes.NewReader(data), dir); err == nil {
		t.Fatal("hard link to ../../../../etc/passwd was accepted")
	}
	if _, err := os.Lstat(filepath.Join(dir, "passwd")); !os.IsNotExist(err) {
		t.Errorf("passwd exists (lstat: %v)", err)
	}
}

func TestExtractRefusesWriteThroughSymlink(t *testing.T) {
	outside := t.TempDir()
	cases := map[string]string{
		"absolute": outside,
		"relative": "../../../../../../../../../..",
	}
	for name, target := range cases {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "root")
			victim := filepath.Join(outside, "pwned")
			rel := strings.TrimPrefix(victim, "/")
			data := buildTar(t, false,
				tarEntry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: "out", Linkname: target}},
				tarEntry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "out/" + rel, Mode: 0o644}, body: "pwned"},
				tarEntry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "out/pwned", Mode: 0o644}, body: "pwned"},
			)
			if err := Extract(bytes.NewReader(data), dir); err == nil {
				t.Fatal("write through a symlink pointing outside was accepted")
			}
			if _, err := os.Lstat(victim); !os.IsNotExist(err) {
				t.Errorf("%s was written outside the root (lstat: %v)", victim, err)
			}
		})
	}
}

func TestExtractReplacesExistingFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "root")
	data := buildTar(t, false,
		tarEntry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "target", Mode: 0o644}, body: "keep"},
		tarEntry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: "f", Linkname: "target"}},
		tarEntry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "f", Mode: 0o644}, body: "new"},
	)
	if err := Extract(bytes.NewReader(data), dir); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "target")); string(b) != "keep" {
		t.Errorf("target = %q: a later member was written through the symlink", b)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "f")); string(b) != "new" {
		t.Errorf("f = %q, want new", b)
	}
}

func TestExtractCorruptArchive(t *testing.T) {
	data := buildTar(t, true, sampleEntries()...)
	if err := Extract(bytes.NewReader(data[:len(data)/2]), t.TempDir()); err == nil {
		t.Fatal("truncated archive extracted without error")
	}
}

// tarHdrReg is the header of an empty regular file.
func tarHdrReg(name string) tar.Header {
	return tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644}
}
