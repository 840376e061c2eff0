package e2e

import (
	"regexp"
	"strings"
	"testing"

	"kvsentry/test/internal/harness"
)

// TestMissingRootfs: a kvsentry-level error exits 125 naming the path.
func TestMissingRootfs(t *testing.T) {
	missing := t.TempDir() + "/no-such-rootfs"
	r := harness.RunKvsentry(t, "run", "--rootfs", missing, "--", "/bin/true")
	if r.Exit != 125 || !strings.HasPrefix(r.Stderr, "kvsentry: ") || !strings.Contains(r.Stderr, missing) || r.Stdout != "" {
		t.Errorf("missing rootfs: exit %d stdout %q stderr %q; want 125 and \"kvsentry: ...%s...\"", r.Exit, r.Stdout, r.Stderr, missing)
	}
}

// TestBadFlags: kvsentry's own usage errors exit 125 with a kvsentry: message.
func TestBadFlags(t *testing.T) {
	root := harness.Rootfs(t)
	for _, args := range [][]string{
		{"run", "--no-such-flag", "--rootfs", root, "/bin/true"},
		{"run", "/bin/true"},            // --rootfs is required
		{"run", "--rootfs", root},       // no PROG
		{"run", "--rootfs", root, "-e"}, // -e without its value
		{"run", "--rootfs", root, "--platform", "no-such-platform", "/bin/true"},
	} {
		r := harness.RunKvsentry(t, args...)
		if r.Exit != 125 || !strings.Contains(r.Stderr, "kvsentry: ") || r.Stdout != "" {
			t.Errorf("kvsentry %q: exit %d stdout %q stderr %q; want 125 and a kvsentry: message", args, r.Exit, r.Stdout, r.Stderr)
		}
	}
}

// TestProgramNotFound: a missing PROG exits 127 with "kvsentry: PROG: not found".
func TestProgramNotFound(t *testing.T) {
	root := harness.Rootfs(t)
	for _, prog := range []string{"/bin/no-such-program", "no-such-program", "/no/such/dir/prog"} {
		out, errOut, exit := harness.RunSandbox(t, root, nil, prog, "arg")
		if exit != 127 || out != "" || !strings.Contains(errOut, "kvsentry: "+prog+": not found") {
			t.Errorf("%s: exit %d stdout %q stderr %q; want 127 and \"kvsentry: %s: not found\"", prog, exit, out, errOut, prog)
		}
	}
}

// TestNotExecutable: a non-ELF file without #! exits 126 with "exec format error"
// and is never run as a script; a file without x permission exits 126.
func TestNotExecutable(t *testing.T) {
	root := harness.Rootfs(t)
	notelf := harness.InstallContent(t, "echo this-must-not-run\n", "notelf", 0o755)
	out, errOut, exit := harness.RunSandbox(t, root, nil, notelf)
	if exit != 126 || out != "" || !strings.Contains(errOut, "exec format error") {
		t.Errorf("%s: exit %d stdout %q stderr %q; want 126 and \"exec format error\"", notelf, exit, out, errOut)
	}
	noexec := harness.InstallContent(t, "#!/bin/sh\necho this-must-not-run\n", "noexec", 0o644)
	out, errOut, exit = harness.RunSandbox(t, root, nil, noexec)
	if exit != 126 || out != "" || !strings.Contains(errOut, "permission denied") {
		t.Errorf("%s: exit %d stdout %q stderr %q; want 126 and \"permission denied\"", noexec, exit, out, errOut)
	}
	out, errOut, exit = harness.RunSandbox(t, root, nil, "/etc")
	if exit != 126 || out != "" {
		t.Errorf("/etc: exit %d stdout %q stderr %q; want 126", exit, out, errOut)
	}
}

// TestScriptAsProgram: a #! script given as PROG runs through its interpreter.
func TestScriptAsProgram(t *testing.T) {
	root := harness.Rootfs(t)
	script := harness.InstallContent(t, "#!/bin/sh -e\necho \"script $0 $*\"\nexit 3\n", "script.sh", 0o755)
	out, errOut, exit := harness.RunSandbox(t, root, nil, script, "a", "b")
	if want := "script " + script + " a b\n"; out != want || exit != 3 {
		t.Errorf("%s: stdout %q stderr %q exit %d; want %q, 3", script, out, errOut, exit, want)
	}
}

// TestStrace: --strace reports each syscall with its result, and the guest's own
// output is untouched.
func TestStrace(t *testing.T) {
	root := harness.Rootfs(t)
	r := harness.RunKvsentry(t, "run", "--rootfs", root, "--strace", "--", "/bin/echo", "hi")
	if r.Stdout != "hi\n" || r.Exit != 0 {
		t.Errorf("stdout %q exit %d; want \"hi\\n\", 0", r.Stdout, r.Exit)
	}
	if !regexp.MustCompile(`(?m)write\(1, .*\) = 3\s*$`).MatchString(r.Stderr) {
		t.Errorf("strace output has no `write(1, ...) = 3` line:\n%s", r.Stderr)
	}
}

// TestSyscallsTable: `kvsentry syscalls` lists the basic calls with their Linux
// x86-64 numbers and a support level.
func TestSyscallsTable(t *testing.T) {
	r := harness.RunKvsentry(t, "syscalls")
	if r.Exit != 0 {
		t.Fatalf("kvsentry syscalls: exit %d stderr %q", r.Exit, r.Stderr)
	}
	levels := map[string]bool{"full": true, "partial": true, "unsupported": true}
	want := map[string]string{"read": "0", "write": "1", "openat": "257", "execve": "59", "clone": "56"}
	found := map[string]bool{}
	for _, line := range strings.Split(r.Stdout, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		nr, ok := want[f[1]]
		if !ok || f[0] != nr {
			continue
		}
		if !levels[strings.ToLower(f[2])] {
			t.Errorf("%s: support level %q is not one of full/partial/unsupported: %q", f[1], f[2], line)
		}
		if f[1] != "clone" && strings.ToLower(f[2]) == "unsupported" {
			t.Errorf("%s is listed unsupported: %q", f[1], line)
		}
		found[f[1]] = true
	}
	for name, nr := range want {
		if !found[name] {
			t.Errorf("no line \"%s %s <level> ...\" in kvsentry syscalls output:\n%s", nr, name, r.Stdout)
		}
	}
}
