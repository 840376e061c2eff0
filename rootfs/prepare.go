// Package rootfs gets and prepares root filesystems for kvsentry: the Alpine
// minirootfs, downloaded (with a progress bar) or taken from a local tarball,
// verified against a built-in sha512 and extracted without ever writing
// outside the destination directory.
package rootfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Prepare fills dir, which must be absent or empty, with the Alpine
// minirootfs AlpineTarball. The tarball is read from the file tarball or, when
// tarball is "", downloaded from AlpineURL to a temporary file with a progress
// bar drawn on progress (nil: none). Its sha512 must equal AlpineSHA512, or
// nothing is extracted (a *ChecksumError). A failed extraction removes what it
// wrote, leaving dir as it was.
func Prepare(dir, tarball string, progress io.Writer) error {
	return prepare(dir, tarball, AlpineURL, AlpineSHA512, progress)
}

// prepare is Prepare with the download URL and expected sha512 as parameters.
func prepare(dir, tarball, url, sum string, progress io.Writer) error {
	existed, err := checkEmptyDir(dir)
	if err != nil {
		return err
	}
	if tarball == "" {
		tmp, err := os.CreateTemp("", "kvsentry-rootfs-*.tar.gz")
		if err != nil {
			return err
		}
		defer os.Remove(tmp.Name())
		_, err = Download(url, tmp, progress)
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		tarball = tmp.Name()
	}
	if err := VerifySHA512(tarball, sum); err != nil {
		return err
	}
	f, err := os.Open(tarball)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := Extract(f, dir); err != nil {
		undoExtract(dir, existed)
		return err
	}
	return nil
}

// checkEmptyDir reports whether dir exists; it fails unless dir is absent or an
// empty directory.
func checkEmptyDir(dir string) (existed bool, err error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("rootfs directory %s: %w", dir, err)
	}
	if len(entries) > 0 {
		return true, fmt.Errorf("rootfs directory %s is not empty; refusing to extract into it", dir)
	}
	return true, nil
}

// undoExtract removes what a failed Extract wrote into dir, which was empty
// (existed) or absent before. os.RemoveAll never follows symlinks.
func undoExtract(dir string, existed bool) {
	if !existed {
		_ = os.RemoveAll(dir)
		return
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		_ = os.RemoveAll(filepath.Join(dir, e.Name()))
	}
}
