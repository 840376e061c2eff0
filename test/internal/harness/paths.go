// Package harness holds the helpers shared by kvsentry's end-to-end, differential
// and benchmark suites: locating the repository and the shared test data, building
// bin/kvsentry once per test binary, preparing the two Alpine rootfs copies (copy A
// for the sandbox, copy B for native chroot runs), and running a guest program
// either under `kvsentry run` or natively under chroot(8) with the same clean
// environment, so outputs can be compared byte for byte.
//
// Lock order: state.mu is the only lock; it is never held while another is taken.
package harness

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// AlpineTarball is the file name of the Alpine minirootfs used by every suite.
const AlpineTarball = "alpine-minirootfs-3.20.3-x86_64.tar.gz"

// GuestPATH is the PATH given to every guest, native or sandboxed.
const GuestPATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// CleanEnv is the whole environment of a guest run: env -i PATH=... HOME=/root.
var CleanEnv = []string{"PATH=" + GuestPATH, "HOME=/root"}

// RepoRoot returns the directory holding kvsentry's go.mod, found by walking up
// from the current working directory (go test runs in the package directory).
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(bytes.TrimSpace(b), []byte("module kvsentry")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("harness: no go.mod of module kvsentry above the working directory")
		}
		dir = parent
	}
}

// SharedDir returns $KVSENTRY_SHARED, or else <repo root>/../shared.
func SharedDir() (string, error) {
	if d := os.Getenv("KVSENTRY_SHARED"); d != "" {
		return d, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(filepath.Dir(root), "shared"), nil
}

// TarballPath returns the path of the shared Alpine minirootfs tarball, checking
// that it exists.
func TarballPath() (string, error) {
	shared, err := SharedDir()
	if err != nil {
		return "", err
	}
	p := filepath.Join(shared, "rootfs", AlpineTarball)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("harness: test data missing (set KVSENTRY_SHARED?): %w", err)
	}
	return p, nil
}
