package e2e

import (
	"testing"

	"kvsentry/test/internal/harness"
)

// sigShellCases are shell scripts about signals, compared byte for byte
// between a native chroot run and a sandbox run: traps, kill, timeout,
// job-control stop and continue, SIGPIPE, and deaths by signal reported
// as 128+N.
var sigShellCases = []bbCase{
	{name: "trap_usr1_exit", script: "trap 'echo got USR1' USR1; trap 'echo on exit' EXIT; kill -USR1 $$; echo body"},
	{name: "trap_reset_ignore", script: "trap '' USR2; kill -USR2 $$; echo ignored; trap 'echo caught' USR2; kill -USR2 $$; trap - USR2; sh -c 'kill -USR2 $$'; echo $?"},
	{name: "trap_during_sleep", script: "trap 'echo caught' USR1; (sleep 0.2; kill -USR1 $$) & sleep 1; echo after; wait"},
	{name: "kill_term_self", script: "sh -c 'kill -TERM $$; echo not reached'; echo $?; sh -c 'kill -INT $$'; echo $?; sh -c 'kill -HUP $$'; echo $?"},
	{name: "killed_by_segv_abrt", script: "sh -c 'kill -SEGV $$'; echo $?; sh -c 'kill -ABRT $$'; echo $?; sh -c 'kill -FPE $$'; echo $?; sh -c 'kill -KILL $$'; echo $?"},
	{name: "timeout_sleep", script: "timeout 1 sleep 5; echo $?; timeout 5 sleep 0.1; echo $?"},
	{name: "stop_cont", script: "sh -c 'kill -STOP $$; echo resumed' & p=$!; sleep 0.3; kill -CONT $p; wait $p; echo status $?"},
	// ash reports a killed job ("Terminated") on stderr at a moment that races
	// with its reaping, natively too: the waits' stderr is dropped, the
	// statuses are compared.
	{name: "kill_stopped_child", script: "sleep 5 & p=$!; kill -STOP $p; kill -TERM $p; kill -CONT $p; wait $p 2>/dev/null; echo status $?"},
	{name: "sigpipe_yes_head", script: "yes | head -n 3; (yes; echo \"yes exit $?\" >&2) | head -n 1"},
	{name: "sigpipe_ignored", script: "trap '' PIPE; (yes 2>/dev/null; echo \"yes exit $?\" >&2) | head -n 1"},
	{name: "background_kill_wait", script: "sleep 10 & p=$!; kill $p; wait $p 2>/dev/null; echo $?; sleep 10 & kill -9 $!; wait $! 2>/dev/null; echo $?"},
	{name: "kill_list_errors", script: "kill -l 15; kill -l 9; kill -0 $$; echo $?; kill -0 999999 2>/dev/null; echo $?; kill -s USR1 999999 2>/dev/null; echo $?"},
}

// TestSignalsShell runs every signal shell case natively and in the sandbox.
func TestSignalsShell(t *testing.T) {
	harness.RequireRoot(t)
	for _, c := range sigShellCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := harness.Differential(t, []string{"/bin/sh", "-c", c.script}, c.norms...)
			t.Logf("native: exit %d stdout %q stderr %q", r.Exit, r.Stdout, r.Stderr)
		})
	}
}
