package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"kvsentry/test/internal/harness"
)

// The terminal tests drive "kvsentry run -it" in a tmux pane with
// send-keys and read the screen with capture-pane, as a person at a
// terminal would (issue 7).

// tmuxSeq numbers the tmux servers of this process.
var tmuxSeq atomic.Int64

// tmuxWait is how long a screen may take to show what a test waits for
// (generous: the machine is shared and slow).
const tmuxWait = 60 * time.Second

// prompt is busybox ash's prompt for root in /.
const prompt = "/ # "

// tmuxTerm is a tmux pane on a private tmux server running a command.
type tmuxTerm struct {
	t          *testing.T
	sock, name string
}

// newTmux starts cmd (a host shell command) in a detached cols x rows
// tmux session; the session and its server are killed at cleanup.
func newTmux(t *testing.T, cols, rows int, cmd string) *tmuxTerm {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed: the terminal tests drive kvsentry run -it through it")
	}
	name := fmt.Sprintf("kvsentry-tty-%d-%d", os.Getpid(), tmuxSeq.Add(1))
	m := &tmuxTerm{t: t, sock: name, name: name}
	t.Cleanup(func() {
		exec.Command("tmux", "-L", m.sock, "kill-session", "-t", m.name).Run()
		exec.Command("tmux", "-L", m.sock, "kill-server").Run()
	})
	m.run("new-session", "-d", "-s", name, "-x", fmt.Sprint(cols), "-y", fmt.Sprint(rows), cmd)
	return m
}

// kvsentryShell is the host command running an interactive guest shell.
func kvsentryShell(t *testing.T) string {
	return fmt.Sprintf("%s run -it -e TERM=xterm --rootfs %s /bin/sh", harness.Kvsentry(t), harness.Rootfs(t))
}

// run runs a tmux command on the pane's server.
func (m *tmuxTerm) run(args ...string) string {
	m.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", m.sock}, args...)...).CombinedOutput()
	if err != nil {
		m.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// keys sends tmux key names (C-c, Enter, Escape ...).
func (m *tmuxTerm) keys(keys ...string) {
	m.t.Helper()
	m.run(append([]string{"send-keys", "-t", m.name}, keys...)...)
}

// line types s literally, then Enter, once the screen has settled.
func (m *tmuxTerm) line(s string) {
	m.t.Helper()
	m.settle()
	m.run("send-keys", "-t", m.name, "-l", s)
	m.keys("Enter")
}

// settle waits until the screen has not changed for 300 ms (at most 5 s).
// busybox ash asks the terminal for the cursor position at each prompt
// (ESC [6n); keys arriving within 50 ms of the answer are taken for the
// rest of an unknown escape sequence and dropped, natively too, so a test
// types only once the shell is idle at its prompt.
func (m *tmuxTerm) settle() {
	m.t.Helper()
	last, since := m.screen(), time.Now()
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); {
		time.Sleep(50 * time.Millisecond)
		if s := m.screen(); s != last {
			last, since = s, time.Now()
		} else if time.Since(since) >= 300*time.Millisecond {
			return
		}
	}
}

// screen is the pane's visible text.
func (m *tmuxTerm) screen() string {
	m.t.Helper()
	return m.run("capture-pane", "-p", "-t", m.name)
}

// waitFor polls the screen until ok accepts it, failing after tmuxWait.
func (m *tmuxTerm) waitFor(what string, ok func(string) bool) string {
	m.t.Helper()
	deadline := time.Now().Add(tmuxWait)
	for {
		s := m.screen()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("waiting for %s; the screen is:\n%s", what, s)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitLine waits for a screen line equal to want (trailing blanks aside).
func (m *tmuxTerm) waitLine(want string) string {
	m.t.Helper()
	return m.waitFor(fmt.Sprintf("a line %q", want), func(s string) bool { return hasLine(s, want) })
}

// waitPrompts waits until the prompt has been shown n times.
func (m *tmuxTerm) waitPrompts(n int) {
	m.t.Helper()
	m.waitFor(fmt.Sprintf("prompt #%d", n), func(s string) bool { return promptCount(s) >= n })
}

// promptCount counts the screen lines starting with the prompt
// (capture-pane drops the prompt's trailing blank).
func promptCount(s string) int {
	c := 0
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l+" ", prompt) {
			c++
		}
	}
	return c
}

// hasLine reports whether a line of s is want.
func hasLine(s, want string) bool {
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimRight(l, " ") == want {
			return true
		}
	}
	return false
}

// TestTTYShell: the prompt, a command, tty, and stty size before and
// after a resize of the tmux window.
func TestTTYShell(t *testing.T) {
	t.Parallel()
	m := newTmux(t, 80, 24, kvsentryShell(t))
	m.waitPrompts(1)
	m.line(`echo hel""lo`)
	m.waitLine("hello")
	m.line("tty")
	m.waitFor("a /dev/pts or /dev/console path", func(s string) bool {
		return hasLine(s, "/dev/pts/0") || hasLine(s, "/dev/console")
	})
	m.line("stty size")
	m.waitLine("24 80")
	m.run("resize-window", "-t", m.name, "-x", "100", "-y", "30")
	m.waitFor("the resize", func(s string) bool { return len(strings.Split(s, "\n")) >= 30 })
	m.line("stty size")
	m.waitLine("30 100")
}

// TestTTYJobControl: Ctrl-C and Ctrl-Z on sleep, then jobs, bg, fg and
// kill %1.
func TestTTYJobControl(t *testing.T) {
	t.Parallel()
	m := newTmux(t, 80, 40, kvsentryShell(t))
	m.waitPrompts(1)
	// "go" shows once the shell has left its line editor's raw mode: keys
	// sent before would be data for the editor rather than signals.
	m.line("echo go; sleep 100")
	m.waitLine("go")
	start := time.Now()
	m.keyUntil("C-c", "the prompt after Ctrl-C", func(s string) bool { return promptCount(s) >= 2 })
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("Ctrl-C took %v to give the prompt back", d)
	}
	m.clear()
	m.line("echo go; sleep 100")
	m.waitLine("go")
	m.keyUntil("C-z", "the job stopped", func(s string) bool { return strings.Contains(s, "Stopped") })
	m.line("clear; jobs")
	m.waitFor("jobs to list it", func(s string) bool {
		return strings.Contains(s, "[1]+  Stopped                    sleep 100")
	})
	m.line("clear; bg")
	m.waitLine("[1] sleep 100")
	m.line("clear; jobs")
	m.waitFor("the job running", func(s string) bool { return strings.Contains(s, "[1]+  Running") })
	m.line("clear; fg")
	m.waitLine("sleep 100")
	m.keyUntil("C-c", "the prompt after fg and Ctrl-C", func(s string) bool { return promptCount(s) >= 1 })
	m.line("clear; sleep 100 & echo started")
	m.waitLine("started")
	m.line("kill %1; wait %1; echo status $?")
	m.waitLine("status 143")
	m.line("clear; jobs; echo jobs-done")
	m.waitFor("an empty job list", func(s string) bool { return strings.HasPrefix(s, "jobs-done") })
}

// clear clears the screen and waits for the lone prompt.
func (m *tmuxTerm) clear() {
	m.t.Helper()
	m.line("clear")
	m.waitFor("a cleared screen", func(s string) bool {
		return strings.TrimRight(s, "\n ") == strings.TrimRight(prompt, " ")
	})
}

// keyUntil sends a signal key until the screen satisfies ok: one typed
// before the shell has handed the terminal to its job goes to the shell,
// which ignores SIGTSTP (natively too), so it is sent again after a while.
func (m *tmuxTerm) keyUntil(key, what string, ok func(string) bool) {
	m.t.Helper()
	deadline := time.Now().Add(tmuxWait)
	for {
		m.keys(key)
		retry := time.Now().Add(time.Second)
		for time.Now().Before(retry) {
			if ok(m.screen()) {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("waiting for %s; the screen is:\n%s", what, m.screen())
		}
		m.t.Logf("%s not seen yet: sending %s again", what, key)
	}
}

// TestTTYFullScreen: vi edits and writes a file, less pages one, top
// draws and quits with q.
func TestTTYFullScreen(t *testing.T) {
	t.Parallel()
	m := newTmux(t, 80, 24, kvsentryShell(t))
	m.waitPrompts(1)
	m.line("vi /tmp/f")
	m.waitFor("vi", func(s string) bool { return strings.Contains(s, "/tmp/f") && strings.Contains(s, "~\n~") })
	m.keys("i")
	m.run("send-keys", "-t", m.name, "-l", "typed in vi")
	m.waitFor("the text", func(s string) bool { return strings.Contains(s, "typed in vi") })
	m.keys("Escape")
	// busybox vi takes an ESC followed at once by more keys for an escape
	// sequence, natively too: wait as a typist would.
	time.Sleep(300 * time.Millisecond)
	m.run("send-keys", "-t", m.name, "-l", ":wq")
	m.keys("Enter")
	m.waitPrompts(1)
	m.line("clear; cat /tmp/f")
	m.waitLine("typed in vi")

	m.line("clear; seq 1 100 > /tmp/n; less /tmp/n")
	m.waitFor("less's first page", func(s string) bool { return hasLine(s, "23") && !hasLine(s, "30") })
	m.keys("Space")
	m.waitFor("the second page", func(s string) bool { return hasLine(s, "30") })
	m.keys("q")
	m.waitFor("the prompt after less", func(s string) bool { return strings.HasSuffix(strings.TrimRight(s, "\n "), "#") })

	m.line("clear; top")
	m.waitFor("top's display", func(s string) bool { return strings.Contains(s, "PID") && strings.Contains(s, "COMMAND") })
	m.keys("q")
	m.line("clear; echo top-done")
	m.waitLine("top-done")
}

// TestTTYExitStatus: exit 5 ends the run with status 5 and the host
// terminal is back in its previous mode.
func TestTTYExitStatus(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	before, after := filepath.Join(dir, "before"), filepath.Join(dir, "after")
	cmd := fmt.Sprintf("stty -g > %s; %s; echo EXIT:$?; stty -g > %s; sleep 3600", before, kvsentryShell(t), after)
	m := newTmux(t, 80, 24, cmd)
	m.waitPrompts(1)
	m.line("exit 5")
	m.waitLine("EXIT:5")
	deadline := time.Now().Add(tmuxWait)
	for {
		a, _ := os.ReadFile(after)
		if len(a) > 0 {
			b, _ := os.ReadFile(before)
			if string(a) != string(b) || len(b) == 0 {
				t.Errorf("stty -g before %q, after %q", b, a)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no stty -g after the run; screen:\n%s", m.screen())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
