package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"kvsentry/test/internal/harness"
)

// serveMirror serves ../shared/apk-mirror over HTTP on the host's 127.0.0.1
// and returns its base URL and directory.
func serveMirror(t *testing.T) (string, string) {
	t.Helper()
	shared, err := harness.SharedDir()
	if err != nil {
		t.Skipf("shared test data: %v", err)
	}
	dir := filepath.Join(shared, "apk-mirror")
	if _, err := os.Stat(filepath.Join(dir, "README.md")); err != nil {
		t.Skipf("apk mirror missing: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(dir))}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String(), dir
}

// runNet runs a shell script under kvsentry with extra run flags.
func runNet(t *testing.T, root string, flags []string, script string) harness.Result {
	t.Helper()
	args := append([]string{"run"}, flags...)
	args = append(args, "--rootfs", root, "-w", "/root", "--", "/bin/sh", "-c", script)
	cmd := exec.Command(harness.Kvsentry(t), args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	return harness.RunKvsentryCmd(t, cmd)
}

// repoSetup points apk at the mirror's repositories and installs the
// test key of the rebuilt repository.
func repoSetup(t *testing.T, base, dir string, repos ...string) string {
	t.Helper()
	key, err := os.ReadFile(filepath.Join(dir, "keys", "apkrepo-test-20261127.rsa.pub"))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString(": > /etc/apk/repositories\n")
	for _, r := range repos {
		fmt.Fprintf(&b, "echo %s/%s >> /etc/apk/repositories\n", base, r)
	}
	fmt.Fprintf(&b, "cat > /etc/apk/keys/apkrepo-test-20261127.rsa.pub <<'KEY'\n%sKEY\n", key)
	return b.String()
}

// fileSHA256 is the hex sha256 of a host file.
func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

var distinctRE = regexp.MustCompile(`OK: (\d+) distinct packages available`)

// TestNetApkCurl: with --network=host, apk update reads the ~23,000-package
// index, apk add curl installs curl and its dependencies, and curl and
// busybox wget fetch a mirror file byte-identically.
func TestNetApkCurl(t *testing.T) {
	base, dir := serveMirror(t)
	root := harness.Rootfs(t)
	const file = "v3.20-rebuilt/x86_64/APKINDEX.tar.gz"
	script := repoSetup(t, base, dir, "v3.20-rebuilt", "v3.19/main", "v3.19/community") + fmt.Sprintf(`
apk update || exit 10
apk add curl || exit 11
curl --version | head -n 1
echo "curl-sha $(curl -s %[1]s/%[2]s | sha256sum)"
echo "wget-sha $(wget -qO- %[1]s/%[2]s | sha256sum)"
`, base, file)
	r := runNet(t, root, []string{"--network=host"}, script)
	if r.Exit != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.Exit, r.Stdout, r.Stderr)
	}
	m := distinctRE.FindStringSubmatch(r.Stdout)
	if m == nil {
		t.Fatalf("apk update printed no package count:\n%s", r.Stdout)
	}
	if n, _ := strconv.Atoi(m[1]); n < 22000 || n > 24000 {
		t.Errorf("apk update: %d distinct packages, want about 23,000", n)
	}
	for _, want := range []string{"Installing curl (8.9.0-r0)", "Installing libcurl (8.9.0-r0)", "Installing nghttp2-libs",
		"\ncurl 8.9.0 (x86_64-alpine-linux-musl)"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.Stdout)
		}
	}
	sum := fileSHA256(t, filepath.Join(dir, file))
	for _, tool := range []string{"curl-sha", "wget-sha"} {
		if !strings.Contains(r.Stdout, tool+" "+sum+"  -") {
			t.Errorf("%s: fetched file differs from the mirror's (sha256 %s):\n%s", tool, sum, r.Stdout)
		}
	}
}

// TestNetApkGit: git, make and jq from Alpine's own signed v3.19
// repositories install with the stock keys; git works; apk audit reports
// only what it reports natively: installing v3.19's ca-certificates runs its
// trigger, which regenerates /etc/ssl/certs/ca-certificates.crt (owned by
// the base system's ca-certificates-bundle). Checked in a native chroot of
// the same minirootfs with the same repositories.
func TestNetApkGit(t *testing.T) {
	base, _ := serveMirror(t)
	root := harness.Rootfs(t)
	script := fmt.Sprintf(`printf '%[1]s/v3.19/main\n%[1]s/v3.19/community\n' > /etc/apk/repositories
apk update -q || exit 10
apk add -q git make jq || exit 11
git init -q repo && cd repo && git config user.email t@example.com && git config user.name tester &&
echo hello > f && git add f && git commit -qm "first commit" && git log --format=%%s || exit 12
make --version | head -n 1
echo '{"k": 42}' | jq .k
echo "audit:[$(apk audit --system)]"
`, base)
	r := runNet(t, root, []string{"--network=host"}, script)
	if r.Exit != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.Exit, r.Stdout, r.Stderr)
	}
	for _, want := range []string{"first commit\n", "GNU Make 4.4.1\n", "\n42\n", "audit:[U etc/ssl/certs/ca-certificates.crt]\n"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("output lacks %q:\nstdout:\n%s\nstderr:\n%s", want, r.Stdout, r.Stderr)
		}
	}
}

// TestNetOverlayKeepsPackages: packages installed with --overlay DIR are
// there in the next run.
func TestNetOverlayKeepsPackages(t *testing.T) {
	help := harness.RunKvsentry(t, "run", "--help")
	if !strings.Contains(help.Stdout, "--overlay") {
		t.Skip("kvsentry run has no --overlay flag yet")
	}
	base, dir := serveMirror(t)
	root := harness.Rootfs(t)
	upper := t.TempDir()
	flags := []string{"--network=host", "--overlay", upper}
	r := runNet(t, root, flags, repoSetup(t, base, dir, "v3.20-rebuilt")+"apk update -q && apk add -q curl")
	if r.Exit != 0 {
		t.Fatalf("first run: exit %d\nstdout:\n%s\nstderr:\n%s", r.Exit, r.Stdout, r.Stderr)
	}
	r = runNet(t, root, flags, "curl --version | head -n 1")
	if r.Exit != 0 || !strings.HasPrefix(r.Stdout, "curl 8.9.0 ") {
		t.Errorf("second run: exit %d stdout %q stderr %q", r.Exit, r.Stdout, r.Stderr)
	}
}

// TestNetNoneLoopback: with the default --network=none, busybox nc talks
// over 127.0.0.1 inside the sandbox, and the host's 127.0.0.1 services are
// out of reach.
func TestNetNoneLoopback(t *testing.T) {
	base, _ := serveMirror(t)
	root := harness.Rootfs(t)
	script := fmt.Sprintf(`nc -l -p 7777 > /tmp/got & sleep 0.3
echo "over loopback" | nc 127.0.0.1 7777; wait
echo "server got: $(cat /tmp/got)"
if wget -q -T 3 -O /dev/null %s/README.md; then echo "host reachable"; else echo "host unreachable"; fi
ip -o addr | awk '{print $2, $4}'
hostname
`, base)
	r := runNet(t, root, nil, script)
	want := "server got: over loopback\nhost unreachable\nlo 127.0.0.1/8\nlo ::1/128\nkvsentry\n"
	if r.Exit != 0 || r.Stdout != want {
		t.Errorf("exit %d\nstdout %q\nwant   %q\nstderr %q", r.Exit, r.Stdout, want, r.Stderr)
	}
	r = runNet(t, root, []string{"--hostname", "box1", "--dns", "10.0.0.53"}, "hostname; cat /etc/resolv.conf; grep -c box1 /etc/hosts")
	if want := "box1\nnameserver 10.0.0.53\n1\n"; r.Stdout != want {
		t.Errorf("--hostname/--dns: stdout %q, want %q (stderr %q)", r.Stdout, want, r.Stderr)
	}
}
