package rootfs

import (
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"
)

// AlpineSHA512 is the sha512 of AlpineTarball, as published by Alpine in
// alpine-minirootfs-3.20.3-x86_64.tar.gz.sha512 (and kept in ../shared/rootfs/SHA512SUMS).
const AlpineSHA512 = "9d5405f61f8a6ebc02461ba75346fbf1a63a4eab8510a0158dd321cee0c4dafe" +
	"28c2a3d2cb7c3d75e2a8130dae0c3c92382f5b6adeea309eafc97621c5bf6400"

// ChecksumError reports a tarball whose sha512 is not the expected one.
type ChecksumError struct {
	Path string
	Want string
	Got  string
}

// Error implements error.
func (e *ChecksumError) Error() string {
	return fmt.Sprintf("checksum mismatch for %s: sha512 is %s, want %s; refusing to extract it",
		e.Path, e.Got, e.Want)
}

// SHA512Reader returns the hex sha512 of everything r yields (like sha512sum(1)).
func SHA512Reader(r io.Reader) (string, error) {
	h := sha512.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// SHA512File returns the hex sha512 of the file at path (like sha512sum(1)).
func SHA512File(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return SHA512Reader(f)
}

// VerifySHA512 checks that the file at path has the hex sha512 want (case
// insensitive); a mismatch is a *ChecksumError.
func VerifySHA512(path, want string) error {
	got, err := SHA512File(path)
	if err != nil {
		return err
	}
	if !strings.EqualFold(got, strings.TrimSpace(want)) {
		return &ChecksumError{Path: path, Want: strings.ToLower(strings.TrimSpace(want)), Got: got}
	}
	return nil
}
