package harness

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// GuestTestDir is where test binaries are installed inside both rootfs copies.
const GuestTestDir = "/opt/kvtest"

// InstallFile copies the host file src to GuestTestDir/name inside rootfs with the
// given mode and returns the guest path.
func InstallFile(rootfs, src, name string, mode os.FileMode) (string, error) {
	dir := filepath.Join(rootfs, GuestTestDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	dst := filepath.Join(dir, name)
	os.Remove(dst)
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return "", err
	}
	if err := out.Close(); err != nil {
		return "", err
	}
	if err := os.Chmod(dst, mode); err != nil { // undo the umask
		return "", err
	}
	return GuestTestDir + "/" + name, nil
}

// Install copies the host file src into both rootfs copies as GuestTestDir/name
// (mode 0755) and returns the guest path.
func Install(t testing.TB, src, name string) string {
	t.Helper()
	return InstallMode(t, src, name, 0o755)
}

// InstallMode is Install with an explicit mode.
func InstallMode(t testing.TB, src, name string, mode os.FileMode) string {
	t.Helper()
	a, b, err := PrepareRootfsPair()
	if err != nil {
		t.Fatalf("preparing rootfs: %v", err)
	}
	var guest string
	for _, r := range []string{a, b} {
		if guest, err = InstallFile(r, src, name, mode); err != nil {
			t.Fatalf("installing %s: %v", name, err)
		}
	}
	return guest
}

// InstallContent writes content into both rootfs copies as GuestTestDir/name with
// the given mode and returns the guest path.
func InstallContent(t testing.TB, content, name string, mode os.FileMode) string {
	t.Helper()
	wd, err := WorkDir()
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(wd, "content-"+name)
	if err := os.WriteFile(src, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return InstallMode(t, src, name, mode)
}

// CompileC compiles the C file src with musl-gcc -O2 (plus -static when static,
// plus extra flags) into the work directory and returns the executable's host path.
func CompileC(musl, src, outName string, static bool, extra ...string) (string, error) {
	wd, err := WorkDir()
	if err != nil {
		return "", err
	}
	out := filepath.Join(wd, "bin", outName)
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return "", err
	}
	args := append([]string{"-O2", "-Wall"}, extra...)
	args = append(args, "-o", out, src)
	if static {
		args = append([]string{"-static"}, args...)
	}
	if msg, err := exec.Command(musl, args...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("musl-gcc %v: %v\n%s", args, err, msg)
	}
	return out, nil
}

// BuildAndInstallC compiles src with musl-gcc (skipping the test if musl-gcc is
// missing) and installs it into both rootfs copies as GuestTestDir/name.
func BuildAndInstallC(t testing.TB, src, name string, static bool, extra ...string) string {
	t.Helper()
	musl := MuslGCC(t)
	bin, err := CompileC(musl, src, name, static, extra...)
	if err != nil {
		t.Fatal(err)
	}
	return Install(t, bin, name)
}
