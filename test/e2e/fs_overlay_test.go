package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kvsentry/test/internal/harness"
)

// runWith runs sh -c script under kvsentry with extra run flags.
func runWith(t *testing.T, rootfs string, flags []string, script string) harness.Result {
	t.Helper()
	args := append([]string{"run", "--rootfs", rootfs}, flags...)
	args = append(args, "--", "/bin/sh", "-c", script)
	return harness.RunKvsentry(t, args...)
}

// TestOverlayDirPersistsAcrossRuns: in --overlay DIR mode a file written, a
// file deleted and a directory made in one run are seen by the next, and
// the rootfs tree is unchanged by both runs and by a memory-mode run.
func TestOverlayDirPersistsAcrossRuns(t *testing.T) {
	root := harness.PrivateRootfs(t)
	before, err := treeManifest(root)
	if err != nil {
		t.Fatal(err)
	}
	ov := filepath.Join(t.TempDir(), "overlay")
	r := runWith(t, root, []string{"--overlay", ov},
		"set -e; echo persisted > /root/note; rm /etc/motd; mkdir -p /srv/made/deep; chmod 640 /root/note; echo more >> /etc/issue; rm -r /etc/apk/keys; mkdir /etc/apk/keys; touch /etc/apk/keys/only")
	if r.Exit != 0 {
		t.Fatalf("first run: exit %d stderr %q", r.Exit, r.Stderr)
	}
	r = runWith(t, root, []string{"--overlay", ov},
		"cat /root/note; stat -c %a /root/note; [ -e /etc/motd ] || echo motd-gone; [ -d /srv/made/deep ] && echo dir-made; tail -n1 /etc/issue; ls /etc/apk/keys")
	want := "persisted\n640\nmotd-gone\ndir-made\nmore\nonly\n"
	if r.Stdout != want || r.Exit != 0 {
		t.Errorf("second run: stdout %q stderr %q exit %d; want %q", r.Stdout, r.Stderr, r.Exit, want)
	}
	r = runWith(t, root, nil, "[ -e /root/note ] && echo leaked; echo x > /etc/motd2; cat /etc/motd2")
	if r.Stdout != "x\n" {
		t.Errorf("memory run: %q %q", r.Stdout, r.Stderr)
	}
	after, err := treeManifest(root)
	if err != nil {
		t.Fatal(err)
	}
	if d := manifestDiff(before, after, 40); len(d) > 0 {
		t.Errorf("rootfs changed:\n%s", strings.Join(d, "\n"))
	}
}

// TestOverlayNoneWritesRootfs: --overlay none is the writable rootfs.
func TestOverlayNoneWritesRootfs(t *testing.T) {
	root := harness.PrivateRootfs(t)
	r := runWith(t, root, []string{"--overlay", "none"}, "echo direct > /root/direct; rm /etc/motd")
	if r.Exit != 0 {
		t.Fatalf("exit %d: %s", r.Exit, r.Stderr)
	}
	if b, err := os.ReadFile(filepath.Join(root, "root/direct")); err != nil || string(b) != "direct\n" {
		t.Errorf("host file: %q %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(root, "etc/motd")); !os.IsNotExist(err) {
		t.Errorf("motd still on the host: %v", err)
	}
}

// TestBindMountFlag: --mount HOST:GUEST[:ro] shows a host directory, the
// sentry refusing writes to a read-only one.
func TestBindMountFlag(t *testing.T) {
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "in"), []byte("from host\n"), 0o644)
	r := runWith(t, harness.Rootfs(t), []string{"--mount", src + ":/mnt/ro:ro", "--mount", src + ":/data"},
		"cat /mnt/ro/in; echo no > /mnt/ro/x || echo refused; echo yes > /data/out; grep -c ' /mnt/ro ' /proc/mounts")
	if !strings.HasPrefix(r.Stdout, "from host\nrefused\n1\n") || !strings.Contains(r.Stderr, "Read-only file system") {
		t.Errorf("stdout %q stderr %q", r.Stdout, r.Stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(src, "out")); string(b) != "yes\n" {
		t.Errorf("rw bind write: %q", b)
	}
	if _, err := os.Stat(filepath.Join(src, "x")); err == nil {
		t.Error("write through a ro mount reached the host")
	}
}

// TestSymlinkToHostPathStaysInside: an absolute symlink to a host file and
// /../.. prefixes resolve inside the sandbox root.
func TestSymlinkToHostPathStaysInside(t *testing.T) {
	root := harness.PrivateRootfs(t)
	secret := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secret, []byte("HOST SECRET\n"), 0o644)
	if err := os.Symlink(secret, filepath.Join(root, "escape")); err != nil {
		t.Fatal(err)
	}
	r := runWith(t, root, nil, "cat /escape; cat /../../../../etc/alpine-release; cd /../..; pwd")
	if strings.Contains(r.Stdout, "HOST SECRET") || !strings.Contains(r.Stdout, "3.20.3\n/\n") {
		t.Errorf("stdout %q stderr %q", r.Stdout, r.Stderr)
	}
}
