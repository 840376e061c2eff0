package rootfs

import (
	"bytes"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func sha512Hex(b []byte) string {
	s := sha512.Sum512(b)
	return hex.EncodeToString(s[:])
}

func writeTemp(t *testing.T, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "rootfs.tar.gz")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestVerifySHA512(t *testing.T) {
	data := []byte("abc")
	p := writeTemp(t, data)
	// sha512("abc") from FIPS 180-2, appendix C.
	const abc = "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a" +
		"2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
	if err := VerifySHA512(p, strings.ToUpper(abc)); err != nil {
		t.Errorf("VerifySHA512(abc) = %v", err)
	}
	err := VerifySHA512(p, AlpineSHA512)
	var ce *ChecksumError
	if !errors.As(err, &ce) || ce.Got != abc {
		t.Errorf("VerifySHA512 mismatch = %v, want *ChecksumError with Got=%s", err, abc)
	}
}

func TestPrepareChecksumMismatchExtractsNothing(t *testing.T) {
	tarball := writeTemp(t, buildTar(t, true, sampleEntries()...))
	dir := filepath.Join(t.TempDir(), "root")
	err := Prepare(dir, tarball, nil)
	var ce *ChecksumError
	if !errors.As(err, &ce) {
		t.Fatalf("Prepare = %v, want *ChecksumError", err)
	}
	if !strings.Contains(err.Error(), "checksum mismatch") {
		t.Errorf("message %q does not say checksum mismatch", err)
	}
	if _, err := os.Lstat(dir); !os.IsNotExist(err) {
		t.Errorf("rootfs dir exists after a checksum mismatch (lstat: %v)", err)
	}
}

func TestPrepareRefusesNonEmptyDir(t *testing.T) {
	data := buildTar(t, true, sampleEntries()...)
	tarball := writeTemp(t, data)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "precious"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	err := prepare(dir, tarball, "", sha512Hex(data), nil)
	if err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("prepare into a non-empty dir = %v, want a 'not empty' error", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "d")); !os.IsNotExist(err) {
		t.Errorf("something was extracted into the non-empty dir")
	}
}

func TestPrepareFromTarballIntoEmptyDir(t *testing.T) {
	data := buildTar(t, true, sampleEntries()...)
	dir := t.TempDir() // exists, empty
	if err := prepare(dir, writeTemp(t, data), "", sha512Hex(data), nil); err != nil {
		t.Fatal(err)
	}
	checkSample(t, dir)
}

func TestPrepareUndoesFailedExtraction(t *testing.T) {
	data := buildTar(t, false,
		tarEntry{hdr: tarHdrReg("ok")},
		tarEntry{hdr: tarHdrReg("../escape")},
	)
	dir := filepath.Join(t.TempDir(), "root")
	if err := prepare(dir, writeTemp(t, data), "", sha512Hex(data), nil); err == nil {
		t.Fatal("prepare of an escaping archive succeeded")
	}
	if _, err := os.Lstat(dir); !os.IsNotExist(err) {
		t.Errorf("partial extraction left behind (lstat: %v)", err)
	}
}

func TestDownloadUnreachable(t *testing.T) {
	const url = "http://127.0.0.1:1/x"
	dir := filepath.Join(t.TempDir(), "root")
	err := prepare(dir, "", url, AlpineSHA512, nil)
	var de *DownloadError
	if !errors.As(err, &de) {
		t.Fatalf("prepare = %v, want *DownloadError", err)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "cannot download "+url+": ") || !strings.HasSuffix(msg, "; pass --tarball FILE") ||
		strings.Contains(msg, "\n") || !strings.Contains(msg, "connection refused") {
		t.Errorf("message %q is not the one-line 'cannot download URL: reason; pass --tarball FILE'", msg)
	}
	if _, err := os.Lstat(dir); !os.IsNotExist(err) {
		t.Errorf("rootfs dir created although the download failed")
	}
}

func TestDownloadWithProgress(t *testing.T) {
	data := buildTar(t, true, sampleEntries()...)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/rootfs.tar.gz" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(data)
	}))
	defer srv.Close()

	var progress bytes.Buffer
	dir := filepath.Join(t.TempDir(), "root")
	if err := prepare(dir, "", srv.URL+"/rootfs.tar.gz", sha512Hex(data), &progress); err != nil {
		t.Fatal(err)
	}
	checkSample(t, dir)
	if !strings.Contains(progress.String(), "downloading rootfs.tar.gz") {
		t.Errorf("no progress bar drawn; progress output %q", progress.String())
	}

	// The same download with a wrong expected checksum extracts nothing.
	dir2 := filepath.Join(t.TempDir(), "root")
	var ce *ChecksumError
	if err := prepare(dir2, "", srv.URL+"/rootfs.tar.gz", AlpineSHA512, nil); !errors.As(err, &ce) {
		t.Errorf("prepare with wrong sum = %v, want *ChecksumError", err)
	}
	if _, err := os.Lstat(dir2); !os.IsNotExist(err) {
		t.Errorf("rootfs dir created although the checksum did not match")
	}

	// An HTTP error is a DownloadError naming the status.
	var buf bytes.Buffer
	_, err := Download(srv.URL+"/missing", &buf, nil)
	var de *DownloadError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "404") {
		t.Errorf("Download of a 404 = %v, want *DownloadError mentioning 404", err)
	}
}

// sharedDir is $KVSENTRY_SHARED or <repo root>/../shared.
func sharedDir(t *testing.T) string {
	if d := os.Getenv("KVSENTRY_SHARED"); d != "" {
		return d
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := wd; d != filepath.Dir(d); d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(filepath.Dir(d), "shared")
		}
	}
	return ""
}

func TestPrepareRealAlpine(t *testing.T) {
	tarball := filepath.Join(sharedDir(t), "rootfs", AlpineTarball)
	if _, err := os.Stat(tarball); err != nil {
		t.Skipf("shared Alpine tarball not available: %v", err)
	}
	dir := filepath.Join(t.TempDir(), "alpine")
	if err := Prepare(dir, tarball, nil); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(filepath.Join(dir, "bin/busybox"))
	if err != nil {
		t.Fatal(err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		t.Errorf("/bin/busybox mode %v, want an executable regular file", fi.Mode())
	}
	if target, err := os.Readlink(filepath.Join(dir, "bin/sh")); err != nil || target != "/bin/busybox" {
		t.Errorf("/bin/sh -> %q (%v), want /bin/busybox", target, err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "etc/alpine-release")); err != nil || strings.TrimSpace(string(b)) != "3.20.3" {
		t.Errorf("/etc/alpine-release = %q (%v), want 3.20.3", b, err)
	}
	fi, err = os.Lstat(filepath.Join(dir, "tmp"))
	if err != nil || fi.Mode()&os.ModeSticky == 0 || fi.Mode().Perm() != 0o777 {
		t.Errorf("/tmp mode %v (%v), want drwxrwxrwt", fi.Mode(), err)
	}
}
