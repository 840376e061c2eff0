package harness

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Timeout bounds every single run (sandbox or native).
const Timeout = 60 * time.Second

// Result is what one run produced.
type Result struct {
	Stdout, Stderr string
	// Exit is the shell-style status: the exit code, or 128+N if killed by signal N.
	Exit int
	// Signaled is true when the host process itself was killed by a signal.
	Signaled bool
	// Elapsed is the wall time of the run.
	Elapsed time.Duration
}

// Exec runs cmd with the given timeout in its own process group, killing the whole
// group on timeout; stdin is /dev/null unless cmd.Stdin is set. A timeout or a
// failure to start is an error; a non-zero exit is not.
func Exec(cmd *exec.Cmd, timeout time.Duration) (Result, error) {
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return Result{}, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var timedOut bool
	var err error
	select {
	case err = <-done:
	case <-time.After(timeout):
		timedOut = true
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		err = <-done
	}
	r := Result{Stdout: stdout.String(), Stderr: stderr.String(), Elapsed: time.Since(start)}
	// Whatever the leader did, leave no stray member of the group behind.
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if timedOut {
		return r, fmt.Errorf("timed out after %v (killed); stdout so far %q, stderr so far %q",
			timeout, clip(r.Stdout), clip(r.Stderr))
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return r, err
	}
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	switch {
	case ws.Exited():
		r.Exit = ws.ExitStatus()
	case ws.Signaled():
		r.Exit = 128 + int(ws.Signal())
		r.Signaled = true
	}
	return r, nil
}

func clip(s string) string {
	if len(s) > 2000 {
		return s[:2000] + "...(clipped)"
	}
	return s
}

// SandboxCmd builds `kvsentry run --rootfs ROOTFS [--platform $KVSENTRY_PLATFORM]
// -e K=V... -- ARGV...`; env nil
// means CleanEnv. kvsentry itself gets only the host PATH, so nothing of the
// test runner's environment can leak into the guest unnoticed.
func SandboxCmd(bin, rootfs string, env []string, argv ...string) *exec.Cmd {
	if env == nil {
		env = CleanEnv
	}
	args := []string{"run", "--rootfs", rootfs}
	if p := os.Getenv("KVSENTRY_PLATFORM"); p != "" {
		// The same suites run on every platform: make test-kvm.
		args = append(args, "--platform", p)
	}
	for _, kv := range env {
		args = append(args, "-e", kv)
	}
	args = append(args, "--")
	args = append(args, argv...)
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	return cmd
}

// NativeCmd builds the native twin of a sandbox run: in a private mount namespace
// (so nothing leaks onto the host), mount proc at ROOTFS/proc and tmpfs at
// ROOTFS/tmp and ROOTFS/run, then chroot(8) into
// ROOTFS (cwd /) and exec ARGV with exactly CleanEnv, as uid 0, gid 0 and the
// supplementary groups {0}.
func NativeCmd(rootfs string, argv ...string) *exec.Cmd {
	// The host shell exports PWD and reorders its environment, so the guest's
	// environment is set by env -i, after the shell, in CleanEnv's order.
	// /tmp and /run are tmpfs in the sandbox, so they are here too.
	mount := shellQuote(hostTool("mount"))
	script := mount + ` -t proc proc "$0/proc" && ` +
		mount + ` -t tmpfs -o nosuid,nodev tmpfs "$0/tmp" && ` +
		mount + ` -t tmpfs -o nosuid,nodev,mode=755 tmpfs "$0/run" && exec ` + shellQuote(hostTool("env")) + ` -i ` + shellQuote(CleanEnv...) + " " + shellQuote(hostTool("chroot")) + ` "$0" "$@"`
	args := append([]string{"-c", script, rootfs}, argv...)
	cmd := exec.Command("/bin/sh", args...)
	cmd.Env = append([]string(nil), CleanEnv...)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Unshareflags: syscall.CLONE_NEWNS, // Go also makes / MS_REC|MS_PRIVATE
		Credential:   &syscall.Credential{Uid: 0, Gid: 0, Groups: []uint32{0}},
	}
	return cmd
}

// RunSandbox runs argv under kvsentry on rootfs (copy A) with env (nil: CleanEnv)
// and returns stdout, stderr and the shell-style exit status. It fails the test
// on timeout, and when kvsentry itself is killed by a signal (a guest killed by a
// signal must show as an exit status 128+N of kvsentry, never as a dead kvsentry).
func RunSandbox(t testing.TB, rootfs string, env []string, argv ...string) (stdout, stderr string, exit int) {
	t.Helper()
	r := RunSandboxResult(t, rootfs, env, argv...)
	return r.Stdout, r.Stderr, r.Exit
}

// RunSandboxResult is RunSandbox returning the whole Result.
func RunSandboxResult(t testing.TB, rootfs string, env []string, argv ...string) Result {
	t.Helper()
	return RunKvsentryCmd(t, SandboxCmd(Kvsentry(t), rootfs, env, argv...))
}

// RunKvsentry runs the kvsentry binary with raw arguments (any subcommand) and a
// host environment of only PATH.
func RunKvsentry(t testing.TB, args ...string) Result {
	t.Helper()
	cmd := exec.Command(Kvsentry(t), args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	return RunKvsentryCmd(t, cmd)
}

// RunKvsentryCmd runs a prepared kvsentry command with the checks of RunSandbox.
func RunKvsentryCmd(t testing.TB, cmd *exec.Cmd) Result {
	t.Helper()
	r, err := Exec(cmd, Timeout)
	if err != nil {
		t.Fatalf("kvsentry %q: %v", cmd.Args[1:], err)
	}
	if r.Signaled {
		t.Fatalf("kvsentry %q: kvsentry itself was killed by signal %d\nstdout: %q\nstderr: %q",
			cmd.Args[1:], r.Exit-128, clip(r.Stdout), clip(r.Stderr))
	}
	return r
}

// RunNative runs argv natively, chrooted into rootfs (copy B), with CleanEnv and
// cwd /; it returns stdout, stderr and the shell-style exit status.
func RunNative(t testing.TB, rootfs string, argv ...string) (stdout, stderr string, exit int) {
	t.Helper()
	RequireRoot(t)
	r, err := Exec(NativeCmd(rootfs, argv...), Timeout)
	if err != nil {
		t.Fatalf("native %q: %v", argv, err)
	}
	return r.Stdout, r.Stderr, r.Exit
}

// shellQuote quotes words for a POSIX shell.
func shellQuote(words ...string) string {
	var b strings.Builder
	for i, w := range words {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("'" + strings.ReplaceAll(w, "'", `'\''`) + "'")
	}
	return b.String()
}

// hostTool returns the host path of a tool (host PATH first, then the usual
// sbin directories), or the bare name if it is nowhere to be found.
func hostTool(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, d := range []string{"/usr/sbin", "/sbin", "/usr/bin", "/bin"} {
		if _, err := os.Stat(d + "/" + name); err == nil {
			return d + "/" + name
		}
	}
	return name
}
