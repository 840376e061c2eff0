package e2e

import (
	"strings"
	"testing"

	"kvsentry/test/internal/harness"
)

// TestShellArithmeticAndRelease checks exact output of a first shell command.
func TestShellArithmeticAndRelease(t *testing.T) {
	root := harness.Rootfs(t)
	out, errOut, exit := harness.RunSandbox(t, root, nil, "/bin/sh", "-c", "echo $((6*7)); cat /etc/alpine-release")
	if out != "42\n3.20.3\n" || errOut != "" || exit != 0 {
		t.Errorf("got stdout %q stderr %q exit %d; want \"42\\n3.20.3\\n\", \"\", 0", out, errOut, exit)
	}
}

// TestExitStatus checks that the guest's exit status becomes kvsentry's.
func TestExitStatus(t *testing.T) {
	root := harness.Rootfs(t)
	for _, tc := range []struct {
		script string
		want   int
	}{
		{"exit 7", 7},
		{"exit 0", 0},
		{"exit 255", 255},
		{"exit 256", 0}, // exit(2) keeps the low 8 bits
	} {
		out, errOut, exit := harness.RunSandbox(t, root, nil, "/bin/sh", "-c", tc.script)
		if exit != tc.want || out != "" || errOut != "" {
			t.Errorf("sh -c %q: stdout %q stderr %q exit %d; want exit %d and no output", tc.script, out, errOut, exit, tc.want)
		}
	}
}

// TestKilledBySignal checks the 128+N convention for a guest killed by a signal.
func TestKilledBySignal(t *testing.T) {
	root := harness.Rootfs(t)
	for _, tc := range []struct {
		script string
		want   int
	}{
		{"kill -9 $$", 137},
		{"kill -TERM $$", 143},
		{"kill -SEGV $$", 139},
	} {
		out, _, exit := harness.RunSandbox(t, root, nil, "/bin/sh", "-c", "echo before; "+tc.script+"; echo after")
		if exit != tc.want || out != "before\n" {
			t.Errorf("sh -c %q: stdout %q exit %d; want \"before\\n\" and exit %d", tc.script, out, exit, tc.want)
		}
	}
}

// TestGuestEnvAndCwd checks -e K=V, -e K (from the host environment), the default
// PATH/HOME added when -e PATH is absent, and -w.
func TestGuestEnvAndCwd(t *testing.T) {
	root := harness.Rootfs(t)
	bin := harness.Kvsentry(t)

	cmd := harness.SandboxCmd(bin, root, []string{"FOO=bar baz", "HOSTVAR"}, "/bin/sh", "-c", `echo "$FOO|$HOSTVAR|$PATH|$HOME"; pwd`)
	cmd.Env = append(cmd.Env, "HOSTVAR=from-host")
	r := harness.RunKvsentryCmd(t, cmd)
	want := "bar baz|from-host|" + harness.GuestPATH + "|/root\n/\n"
	if r.Stdout != want || r.Exit != 0 {
		t.Errorf("env: stdout %q exit %d stderr %q; want %q, 0", r.Stdout, r.Exit, r.Stderr, want)
	}

	r = harness.RunKvsentry(t, "run", "--rootfs", root, "-w", "/etc/apk", "/bin/sh", "-c", "pwd; cat arch")
	if r.Stdout != "/etc/apk\nx86_64\n" || r.Exit != 0 {
		t.Errorf("-w /etc/apk: stdout %q exit %d stderr %q", r.Stdout, r.Exit, r.Stderr)
	}

	// Flags stop at the first non-flag argument, like docker run.
	r = harness.RunKvsentry(t, "run", "--rootfs", root, "/bin/echo", "--rootfs", "-e", "x")
	if r.Stdout != "--rootfs -e x\n" || r.Exit != 0 {
		t.Errorf("flags after PROG: stdout %q exit %d stderr %q", r.Stdout, r.Exit, r.Stderr)
	}
}

// TestStdinPassedThrough checks that the guest reads kvsentry's stdin.
func TestStdinPassedThrough(t *testing.T) {
	root := harness.Rootfs(t)
	cmd := harness.SandboxCmd(harness.Kvsentry(t), root, nil, "/bin/sh", "-c", "tr a-z A-Z; echo rc=$?")
	cmd.Stdin = strings.NewReader("hello from stdin\n")
	r := harness.RunKvsentryCmd(t, cmd)
	if r.Stdout != "HELLO FROM STDIN\nrc=0\n" || r.Exit != 0 {
		t.Errorf("stdin: stdout %q exit %d stderr %q", r.Stdout, r.Exit, r.Stderr)
	}
}
