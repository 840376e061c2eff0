package harness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// state is the per-process (per test binary) shared setup.
var state struct {
	mu      sync.Mutex
	workDir string // temp dir holding the binary and both rootfs copies

	buildOnce sync.Once
	bin       string
	buildErr  error

	rootfsOnce sync.Once
	rootfsA    string
	rootfsB    string
	rootfsErr  error
}

// WorkDir returns the per-process temporary directory, creating it on first use.
// Cleanup (or Main) removes it.
func WorkDir() (string, error) {
	state.mu.Lock()
	defer state.mu.Unlock()
	if state.workDir == "" {
		d, err := os.MkdirTemp("", "kvtest-")
		if err != nil {
			return "", err
		}
		state.workDir = d
	}
	return state.workDir, nil
}

// Cleanup removes the per-process temporary directory (binary and rootfs copies).
// Native runs mount nothing outside their own mount namespace, so a plain
// recursive removal is safe.
func Cleanup() {
	state.mu.Lock()
	d := state.workDir
	state.workDir = ""
	state.mu.Unlock()
	if d != "" && os.Getenv("KVTEST_KEEP") == "" {
		os.RemoveAll(d)
	}
}

// Main is the body of a suite's TestMain: it runs the tests, removes the shared
// temporary directory and exits with the tests' status.
func Main(m *testing.M) {
	closeInheritedFDs()
	code := m.Run()
	Cleanup()
	os.Exit(code)
}

// BuildKvsentry builds ./cmd/kvsentry into the work directory once per process and
// returns its path. $KVSENTRY_BIN, when set, names a prebuilt binary to use instead.
func BuildKvsentry() (string, error) {
	state.buildOnce.Do(func() {
		if b := os.Getenv("KVSENTRY_BIN"); b != "" {
			state.bin, state.buildErr = filepath.Abs(b)
			return
		}
		root, err := RepoRoot()
		if err != nil {
			state.buildErr = err
			return
		}
		wd, err := WorkDir()
		if err != nil {
			state.buildErr = err
			return
		}
		out := filepath.Join(wd, "kvsentry")
		cmd := exec.Command("go", "build", "-o", out, "./cmd/kvsentry")
		cmd.Dir = root
		if msg, err := cmd.CombinedOutput(); err != nil {
			state.buildErr = fmt.Errorf("go build ./cmd/kvsentry: %v\n%s", err, msg)
			return
		}
		state.bin = out
	})
	return state.bin, state.buildErr
}

// Kvsentry returns the path of the kvsentry binary, failing the test if it
// cannot be built.
func Kvsentry(t testing.TB) string {
	t.Helper()
	bin, err := BuildKvsentry()
	if err != nil {
		t.Fatalf("building kvsentry: %v", err)
	}
	return bin
}

// PrepareRootfs runs `kvsentry rootfs prepare DIR --tarball <shared tarball>`.
func PrepareRootfs(bin, dir string) error {
	tb, err := TarballPath()
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, "rootfs", "prepare", dir, "--tarball", tb)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("kvsentry rootfs prepare %s: %v\n%s", dir, err, msg)
	}
	return nil
}

// nativeDevices are the device nodes created in copy B's /dev (copy B has no
// devtmpfs): name, major, minor. Mirrors Documentation/admin-guide/devices.txt.
var nativeDevices = []struct {
	name         string
	major, minor uint32
}{
	{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7},
	{"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
}

// makeNativeDevices mknods the standard character devices (mode 0666) into
// dir/dev, so that native chroot runs see what a container would.
func makeNativeDevices(dir string) error {
	for _, d := range nativeDevices {
		p := filepath.Join(dir, "dev", d.name)
		if err := unix.Mknod(p, unix.S_IFCHR|0o666, int(unix.Mkdev(d.major, d.minor))); err != nil {
			return fmt.Errorf("mknod %s: %w", p, err)
		}
		if err := os.Chmod(p, 0o666); err != nil { // undo the umask
			return err
		}
	}
	return nil
}

// PrepareRootfsPair prepares, once per process, copy A (for the sandbox) and copy B
// (for native chroot runs, with device nodes in /dev) from the shared tarball.
func PrepareRootfsPair() (a, b string, err error) {
	state.rootfsOnce.Do(func() {
		bin, err := BuildKvsentry()
		if err != nil {
			state.rootfsErr = err
			return
		}
		wd, err := WorkDir()
		if err != nil {
			state.rootfsErr = err
			return
		}
		a, b := filepath.Join(wd, "rootfs-a"), filepath.Join(wd, "rootfs-b")
		for _, d := range []string{a, b} {
			if err := PrepareRootfs(bin, d); err != nil {
				state.rootfsErr = err
				return
			}
		}
		if os.Geteuid() == 0 {
			if err := makeNativeDevices(b); err != nil {
				state.rootfsErr = err
				return
			}
		}
		state.rootfsA, state.rootfsB = a, b
	})
	return state.rootfsA, state.rootfsB, state.rootfsErr
}

// Rootfs returns copy A, the rootfs given to the sandbox.
func Rootfs(t testing.TB) string {
	t.Helper()
	a, _, err := PrepareRootfsPair()
	if err != nil {
		t.Fatalf("preparing rootfs: %v", err)
	}
	return a
}

// NativeRootfs returns copy B, the rootfs used for native chroot runs.
func NativeRootfs(t testing.TB) string {
	t.Helper()
	_, b, err := PrepareRootfsPair()
	if err != nil {
		t.Fatalf("preparing rootfs: %v", err)
	}
	return b
}

// RequireRoot skips the test unless it runs as root (chroot and mknod need it).
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: native runs use chroot(2) and mknod(2)")
	}
}

// MuslGCC returns the path of musl-gcc, skipping the test if it is not installed.
func MuslGCC(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("musl-gcc")
	if err != nil {
		t.Skip("musl-gcc not found on PATH (apt install musl-tools)")
	}
	return p
}

// PrivateRootfs prepares a fresh rootfs copy for this test alone (in t.TempDir),
// for tests that would leave copy A unusable if the sandbox misbehaved.
func PrivateRootfs(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "rootfs")
	if err := PrepareRootfs(Kvsentry(t), dir); err != nil {
		t.Fatalf("preparing private rootfs: %v", err)
	}
	return dir
}

// closeInheritedFDs marks every descriptor above stderr close-on-exec, so
// descriptors the test process inherited (from a CI runner or a shell) do
// not leak into native runs, where the guest would see them in
// /proc/self/fd while the sandbox (rightly) does not.
func closeInheritedFDs() {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range ents {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			syscall.CloseOnExec(fd)
		}
	}
}
