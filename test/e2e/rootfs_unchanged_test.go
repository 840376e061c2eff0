package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"kvsentry/test/internal/harness"
)

// treeManifest describes every entry under root, one line each, sorted by path:
// path, type+mode, uid, gid, size, mtime (ns), rdev, symlink target, content hash.
func treeManifest(root string) ([]string, error) {
	var lines []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			return err
		}
		extra := ""
		switch st.Mode & syscall.S_IFMT {
		case syscall.S_IFLNK:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			extra = "-> " + target
		case syscall.S_IFREG:
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			h := sha256.New()
			_, err = io.Copy(h, f)
			f.Close()
			if err != nil {
				return err
			}
			extra = "sha256:" + hex.EncodeToString(h.Sum(nil))
		}
		lines = append(lines, fmt.Sprintf("%s mode=%o uid=%d gid=%d size=%d mtime=%d.%09d rdev=%d nlink=%d %s",
			rel, st.Mode, st.Uid, st.Gid, st.Size, st.Mtim.Sec, st.Mtim.Nsec, st.Rdev, st.Nlink, extra))
		return nil
	})
	sort.Strings(lines)
	return lines, err
}

// manifestDiff returns up to max lines present in only one of a and b.
func manifestDiff(a, b []string, max int) []string {
	in := func(l []string) map[string]bool {
		m := make(map[string]bool, len(l))
		for _, s := range l {
			m[s] = true
		}
		return m
	}
	ma, mb := in(a), in(b)
	var out []string
	for _, s := range a {
		if !mb[s] && len(out) < max {
			out = append(out, "- "+s)
		}
	}
	for _, s := range b {
		if !ma[s] && len(out) < max {
			out = append(out, "+ "+s)
		}
	}
	return out
}

// TestRootfsUnchangedAfterWrites runs a guest that creates, modifies, chmods,
// chowns, renames and deletes files in /etc, /bin and /tmp, checks that the guest
// saw its own changes, and then that the rootfs is bit-for-bit what it was before.
// It uses a private copy so that a failure cannot spoil copy A for other tests.
func TestRootfsUnchangedAfterWrites(t *testing.T) {
	root := harness.PrivateRootfs(t)
	before, err := treeManifest(root)
	if err != nil {
		t.Fatal(err)
	}
	script := strings.Join([]string{
		"set -e",
		"echo intruder:x:999:999::/:/bin/sh >> /etc/passwd",
		"echo new > /etc/newfile",
		"chmod 600 /etc/hostname",
		"chown 1:1 /etc/fstab",
		"touch -d @0 /etc/shells",
		"mv /etc/motd /etc/motd.moved",
		"rm /etc/issue",
		"mkdir -p /etc/newdir/sub", "ln -s /nowhere /etc/newdir/link",
		"rm -r /etc/apk/keys",
		"rm /bin/ls", "mv /bin/date /bin/date2", "chmod 700 /bin/busybox",
		"echo garbage > /bin/newtool", "chmod 755 /bin/newtool",
		"dd if=/dev/zero of=/tmp/big bs=4096 count=64 2>/dev/null", "mkdir /tmp/d", "mv /tmp/big /tmp/d/", "rm -rf /tmp/d",
		"echo tmpfile > /tmp/keep",
		"truncate -s 3 /etc/group",
		// The guest sees its own changes.
		"tail -n 1 /etc/passwd",
		"cat /etc/newfile /tmp/keep",
		"stat -c '%a' /etc/hostname /bin/busybox",
		"stat -c '%u:%g' /etc/fstab",
		"stat -c '%Y' /etc/shells",
		"[ ! -e /etc/issue ] && [ -e /etc/motd.moved ] && [ ! -e /etc/apk/keys ] && [ ! -e /bin/ls ] && [ ! -e /bin/date ] && [ -e /bin/date2 ] && echo gone-ok",
		"readlink /etc/newdir/link",
		"wc -c < /bin/newtool",
	}, "\n")
	out, errOut, exit := harness.RunSandbox(t, root, nil, "/bin/sh", "-c", script)
	want := "intruder:x:999:999::/:/bin/sh\nnew\ntmpfile\n600\n700\n1:1\n0\ngone-ok\n/nowhere\n8\n"
	if out != want || exit != 0 {
		t.Errorf("guest: stdout %q stderr %q exit %d; want %q, exit 0", out, errOut, exit, want)
	}
	after, err := treeManifest(root)
	if err != nil {
		t.Fatal(err)
	}
	if d := manifestDiff(before, after, 40); len(d) > 0 {
		t.Errorf("rootfs copy A changed by a sandbox run (%d vs %d entries):\n%s", len(before), len(after), strings.Join(d, "\n"))
	}
}
