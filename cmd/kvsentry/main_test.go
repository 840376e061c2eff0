package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kvsentry/sentry"
)

func TestDispatch(t *testing.T) {
	cases := []struct {
		args        []string
		code        int
		out, errOut string
	}{
		{[]string{"version"}, 0, "kvsentry version ", ""},
		{[]string{"--help"}, 0, "kvsentry run [flags]", ""},
		{[]string{"help", "run"}, 0, "--rootfs DIR", ""},
		{[]string{"help", "rootfs"}, 0, "rootfs prepare DIR", ""},
		{[]string{"run", "--help"}, 0, "--debug-log FILE", ""},
		{nil, exitUsage, "", "Usage:"},
		{[]string{"frobnicate"}, exitUsage, "", `unknown command "frobnicate"`},
		{[]string{"rootfs", "unpack"}, exitUsage, "", `unknown command "unpack"`},
		{[]string{"rootfs", "prepare"}, exitUsage, "", "want exactly one DIR"},
		{[]string{"syscalls", "x"}, exitUsage, "", "takes no arguments"},
	}
	for _, c := range cases {
		var out, errOut bytes.Buffer
		code := dispatch(c.args, &out, &errOut)
		if code != c.code || !strings.Contains(out.String(), c.out) || !strings.Contains(errOut.String(), c.errOut) {
			t.Errorf("dispatch(%q) = %d, stdout %q, stderr %q; want %d, %q, %q",
				c.args, code, out.String(), errOut.String(), c.code, c.out, c.errOut)
		}
	}
}

func TestParsePrepareArgs(t *testing.T) {
	good := map[string][]string{
		"D|":  {"D"},
		"D|T": {"D", "--tarball", "T"},
		"D|U": {"--tarball=U", "D"},
		"-D|": {"--", "-D"},
	}
	for want, args := range good {
		p, err := parsePrepareArgs(args)
		if err != nil {
			t.Errorf("parsePrepareArgs(%q): %v", args, err)
			continue
		}
		if got := p.Dir + "|" + p.Tarball; got != want {
			t.Errorf("parsePrepareArgs(%q) = %s, want %s", args, got, want)
		}
	}
	for _, args := range [][]string{{}, {"D", "E"}, {"D", "--tarball"}, {"D", "--tarball="}, {"D", "--sha=x"}} {
		if p, err := parsePrepareArgs(args); err == nil {
			t.Errorf("parsePrepareArgs(%q) = %+v, want an error", args, p)
		}
	}
}

func TestRootfsPrepareChecksumMismatch(t *testing.T) {
	bogus := filepath.Join(t.TempDir(), "bogus.tar.gz")
	if err := os.WriteFile(bogus, []byte("not alpine"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "root")
	var out, errOut bytes.Buffer
	if code := dispatch([]string{"rootfs", "prepare", dir, "--tarball", bogus}, &out, &errOut); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if !strings.Contains(errOut.String(), "checksum mismatch") {
		t.Errorf("stderr %q does not report the checksum mismatch", errOut.String())
	}
	if _, err := os.Lstat(dir); !os.IsNotExist(err) {
		t.Errorf("%s created despite the mismatch", dir)
	}
}

func TestPrintSyscalls(t *testing.T) {
	var out bytes.Buffer
	printSyscalls(&out, []sentry.SyscallInfo{
		{Nr: 0, Name: "read", Support: "supported", Note: ""},
		{Nr: 57, Name: "fork", Support: "partial", Note: "no vfork semantics"},
	})
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 2 || strings.Fields(lines[0])[1] != "read" ||
		!fieldsEqual(strings.Fields(lines[1]), []string{"57", "fork", "partial", "no", "vfork", "semantics"}) {
		t.Errorf("printSyscalls output %q", out.String())
	}
}

func fieldsEqual(a, b []string) bool { return strings.Join(a, "\x00") == strings.Join(b, "\x00") }
