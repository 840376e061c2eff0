package e2e

import (
	"testing"

	"kvsentry/test/internal/harness"
)

// TestApkVersion checks apk's exact version line.
func TestApkVersion(t *testing.T) {
	root := harness.Rootfs(t)
	out, errOut, exit := harness.RunSandbox(t, root, nil, "/sbin/apk", "--version")
	if want := "apk-tools 2.14.4, compiled for x86_64.\n"; out != want || exit != 0 {
		t.Errorf("apk --version: stdout %q stderr %q exit %d; want %q, 0", out, errOut, exit, want)
	}
}

// TestApkInfo compares the installed-package listing with a native run.
func TestApkInfo(t *testing.T) {
	harness.RequireRoot(t)
	for _, argv := range [][]string{
		{"/sbin/apk", "info"},
		{"/sbin/apk", "info", "-v"},
		{"/sbin/apk", "info", "-L", "musl"},
		{"/sbin/apk", "info", "-e", "busybox", "nosuchpkg"},
	} {
		r := harness.Differential(t, argv)
		if r.Exit == 0 && r.Stdout == "" {
			t.Errorf("%q printed nothing natively", argv)
		}
	}
}
