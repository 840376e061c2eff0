package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"kvsentry/sentry"
	"kvsentry/vfs"
)

// hostEnv is a fake host environment for -e K.
func hostEnv(k string) (string, bool) {
	v, ok := map[string]string{"B": "from-host", "EMPTY": ""}[k]
	return v, ok
}

func TestParseRunArgs(t *testing.T) {
	cases := []struct {
		args []string
		argv []string
		env  []string
		cwd  string
	}{
		{args: []string{"--rootfs", "R", "ls", "-l"}, argv: []string{"ls", "-l"}, cwd: "/"},
		{args: []string{"--rootfs", "R", "--", "sh", "-c", "x"}, argv: []string{"sh", "-c", "x"}, cwd: "/"},
		{args: []string{"--rootfs=R", "-e", "A=1", "-e", "B", "env"}, argv: []string{"env"},
			env: []string{"A=1", "B=from-host"}, cwd: "/"},
		// -e K for a variable the host does not have leaves it out; a later
		// value replaces an earlier one; "=" in a value is kept.
		{args: []string{"-e", "A=1", "-e", "NOPE", "-e", "EMPTY", "-e", "A=2=3", "--rootfs", "R", "env"},
			argv: []string{"env"}, env: []string{"A=2=3", "EMPTY="}, cwd: "/"},
		// Flags after PROG belong to PROG, even "--" and kvsentry's own.
		{args: []string{"--rootfs", "R", "-w", "/tmp", "--strace", "sh", "--rootfs", "x", "--", "-e"},
			argv: []string{"sh", "--rootfs", "x", "--", "-e"}, cwd: "/tmp"},
		{args: []string{"--rootfs", "R", "-", "x"}, argv: []string{"-", "x"}, cwd: "/"},
	}
	for _, c := range cases {
		o, err := parseRunArgs(c.args, hostEnv)
		if err != nil {
			t.Errorf("parseRunArgs(%q): %v", c.args, err)
			continue
		}
		if o.Rootfs != "R" || !slices.Equal(o.Argv, c.argv) || !slices.Equal(o.Env, c.env) || o.Cwd != c.cwd {
			t.Errorf("parseRunArgs(%q) = rootfs %q argv %q env %q cwd %q; want R %q %q %q",
				c.args, o.Rootfs, o.Argv, o.Env, o.Cwd, c.argv, c.env, c.cwd)
		}
	}
}

func TestParseRunArgsFlags(t *testing.T) {
	o, err := parseRunArgs([]string{"--rootfs", "R", "--platform", "kvm", "--strace", "--debug-log", "/l", "p"}, hostEnv)
	if err != nil {
		t.Fatal(err)
	}
	if o.Platform != "kvm" || !o.Strace || o.DebugLog != "/l" {
		t.Errorf("got platform %q strace %v debug-log %q", o.Platform, o.Strace, o.DebugLog)
	}
	o, err = parseRunArgs([]string{"--rootfs", "R", "p"}, hostEnv)
	if err != nil || o.Platform != "ptrace" || o.Strace || o.DebugLog != "" || o.Env != nil {
		t.Errorf("defaults: %+v, %v", o, err)
	}
}

func TestParseRunArgsErrors(t *testing.T) {
	cases := map[string][]string{
		"unknown flag":     {"--rootfs", "R", "--bogus", "ls"},
		"missing rootfs":   {"ls"},
		"missing PROG":     {"--rootfs", "R"},
		"missing PROG --":  {"--rootfs", "R", "--"},
		"flag needs value": {"--rootfs"},
		"relative -w":      {"--rootfs", "R", "-w", "tmp", "ls"},
		"bad -e":           {"--rootfs", "R", "-e", "=x", "ls"},
		"bad --strace":     {"--rootfs", "R", "--strace=maybe", "ls"},
	}
	for name, args := range cases {
		if o, err := parseRunArgs(args, hostEnv); err == nil {
			t.Errorf("%s: parseRunArgs(%q) = %+v, want an error", name, args, o)
		}
	}
	if _, err := parseRunArgs([]string{"--help"}, hostEnv); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("--help: %v, want flag.ErrHelp", err)
	}
}

func TestExitStatus(t *testing.T) {
	cases := []struct {
		status int
		err    error
		code   int
		msg    string
	}{
		{0, nil, 0, ""},
		{3, nil, 3, ""},
		{128 + 9, nil, 137, ""},
		{0, &sentry.ExecError{Path: "/bin/nope", Errno: unix.ENOENT}, 127, "kvsentry: /bin/nope: not found"},
		{0, &sentry.ExecError{Errno: unix.ENOENT}, 127, "kvsentry: prog: not found"},
		{0, &sentry.ExecError{Path: "/etc/passwd", Errno: unix.EACCES}, 126, "kvsentry: /etc/passwd: permission denied"},
		{0, &sentry.ExecError{Path: "/x", Errno: unix.ENOEXEC}, 126, "kvsentry: /x: exec format error"},
		{0, errors.New("boom"), 125, "kvsentry: boom"},
		{300, nil, 125, "kvsentry: guest exit status 300 out of range"},
	}
	for _, c := range cases {
		code, msg := exitStatus("prog", c.status, c.err)
		if code != c.code || msg != c.msg {
			t.Errorf("exitStatus(%d, %v) = %d %q; want %d %q", c.status, c.err, code, msg, c.code, c.msg)
		}
	}
}

func TestRunMainKvsentryErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		args []string
		want string
	}{
		"bad flag":       {[]string{"--nope", "x"}, "kvsentry: run: flag provided but not defined: -nope"},
		"no rootfs":      {[]string{"--rootfs", "/nonexistent/kvsentry", "sh"}, "kvsentry: rootfs /nonexistent/kvsentry: no such file or directory"},
		"rootfs is file": {[]string{"--rootfs", file, "sh"}, "not a directory"},
		"bad platform":   {[]string{"--rootfs", t.TempDir(), "--platform", "abacus", "sh"}, `kvsentry: unknown platform "abacus"`},
	}
	for name, c := range cases {
		var stdout, stderr bytes.Buffer
		if code := runMain(c.args, &stdout, &stderr); code != exitKvsentry {
			t.Errorf("%s: exit %d, want 125", name, code)
		}
		if !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%s: stderr %q does not contain %q", name, stderr.String(), c.want)
		}
	}
}

func TestSetupLogging(t *testing.T) {
	defer logrus.SetOutput(os.Stderr)
	var stderr bytes.Buffer
	closeLog, err := setupLogging("", &stderr)
	if err != nil {
		t.Fatal(err)
	}
	logrus.Debug("hidden")
	logrus.Warn("shown")
	closeLog()
	if s := stderr.String(); strings.Contains(s, "hidden") || !strings.Contains(s, "shown") {
		t.Errorf("warn-level stderr log = %q", s)
	}

	file := filepath.Join(t.TempDir(), "debug.log")
	closeLog, err = setupLogging(file, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	logrus.Debug("detail")
	closeLog()
	logrus.SetOutput(os.Stderr)
	b, _ := os.ReadFile(file)
	if !strings.Contains(string(b), "detail") || strings.Contains(stderr.String(), "detail") {
		t.Errorf("debug log %q / stderr %q: want the debug line in the file only", b, stderr.String())
	}
	if _, err := setupLogging("/nonexistent/dir/log", &stderr); err == nil {
		t.Error("setupLogging into a missing directory succeeded")
	}
}

func TestParseRunArgsOverlayMount(t *testing.T) {
	o, err := parseRunArgs([]string{"--rootfs", "R", "sh"}, hostEnv)
	if err != nil || o.Overlay != "memory" || len(o.Mounts) != 0 {
		t.Fatalf("defaults: %+v %v", o, err)
	}
	o, err = parseRunArgs([]string{"--rootfs", "R", "--overlay", "none", "--mount", "/h:/g", "--mount", "/a/b:/c/d/:ro", "sh"}, hostEnv)
	if err != nil {
		t.Fatal(err)
	}
	if o.Overlay != "none" || len(o.Mounts) != 2 || o.Mounts[0].Source != "/h" || o.Mounts[0].Target != "/g" || o.Mounts[0].ReadOnly ||
		o.Mounts[1].Target != "/c/d" || !o.Mounts[1].ReadOnly {
		t.Fatalf("parsed %+v", o)
	}
	o, err = parseRunArgs([]string{"--rootfs", "R", "--overlay", "rel/dir", "sh"}, hostEnv)
	if err != nil || !filepath.IsAbs(o.Overlay) || !strings.HasSuffix(o.Overlay, "/rel/dir") {
		t.Fatalf("overlay dir: %+v %v", o, err)
	}
	for _, bad := range [][]string{
		{"--mount", "/h", "sh"}, {"--mount", "/h:rel", "sh"}, {"--mount", "/h:/", "sh"},
		{"--mount", "/h:/g:rx", "sh"}, {"--mount", ":/g", "sh"}, {"--overlay", "", "sh"},
	} {
		if _, err := parseRunArgs(append([]string{"--rootfs", "R"}, bad...), hostEnv); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}

func TestCheckMounts(t *testing.T) {
	root := t.TempDir()
	if err := checkMounts(&runOptions{Rootfs: root, Overlay: filepath.Join(root, "ov")}); err == nil {
		t.Error("overlay inside the rootfs accepted")
	}
	o := &runOptions{Rootfs: root, Overlay: "memory", Mounts: []vfs.BindMount{{Source: filepath.Join(root, "nope"), Target: "/x"}}}
	if err := checkMounts(o); err == nil {
		t.Error("missing mount source accepted")
	}
	o.Mounts[0].Source = root
	if err := checkMounts(o); err != nil {
		t.Error(err)
	}
}
