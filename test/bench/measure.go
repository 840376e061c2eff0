package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"kvsentry/test/internal/harness"
)

// memPeak is the peak memory of one kvsentry process, from /proc/PID/status
// (proc(5)): VmHWM is the peak resident set, including the pages of the
// shared page-pool memfd the sentry touches (they are the guest's memory);
// RssAnon is the sentry's own anonymous memory (Go heap, stacks), sampled.
type memPeak struct {
	VmHWM, RssAnon int64 // KiB
}

func (m *memPeak) max(o memPeak) {
	m.VmHWM = max(m.VmHWM, o.VmHWM)
	m.RssAnon = max(m.RssAnon, o.RssAnon)
}

// readStatus reads VmHWM and RssAnon (KiB) of pid.
func readStatus(pid int) (memPeak, bool) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memPeak{}, false
	}
	defer f.Close()
	var m memPeak
	ok := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, found := strings.Cut(sc.Text(), ":")
		if !found {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		switch k {
		case "VmHWM":
			m.VmHWM, ok = n, true
		case "RssAnon":
			m.RssAnon = n
		}
	}
	return m, ok
}

// runResult is one run: its output, status, wall time and, when sampled, the
// process's peak memory.
type runResult struct {
	harness.Result
	mem memPeak
}

// execSampled runs cmd like harness.Exec (own process group, killed on
// timeout) and, if sample is set, polls /proc/PID/status every 2 ms while it
// runs, keeping the peaks.
func execSampled(cmd *exec.Cmd, timeout time.Duration, sample bool) (runResult, error) {
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return runResult{}, err
	}
	pid := cmd.Process.Pid
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var tick <-chan time.Time
	if sample {
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		tick = t.C
	}
	deadline := time.After(timeout)
	var r runResult
	var err error
	timedOut := false
wait:
	for {
		select {
		case err = <-done:
			break wait
		case <-tick:
			if m, ok := readStatus(pid); ok {
				r.mem.max(m)
			}
		case <-deadline:
			timedOut = true
			syscall.Kill(-pid, syscall.SIGKILL)
			err = <-done
			break wait
		}
	}
	r.Result = harness.Result{Stdout: stdout.String(), Stderr: stderr.String(), Elapsed: time.Since(start)}
	syscall.Kill(-pid, syscall.SIGKILL) // leave no stray member of the group
	if timedOut {
		return r, fmt.Errorf("timed out after %v (killed); stderr %q", timeout, firstLine(r.Stderr))
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

// runOnce runs one workload once with r and returns its figure and, for
// kvsentry, the sentry's peak memory.
func runOnce(r runner, w workload, short bool) (float64, memPeak, error) {
	if w.hostNet && r.noHostNet != "" {
		return 0, memPeak{}, errors.New(r.noHostNet)
	}
	argv, how := w.argv(short), w.how
	if how == timedInside {
		if r.noExec {
			how = wallMillis
		} else {
			argv = append([]string{timeitPath}, argv...)
			how = selfReported
		}
	}
	if w.setup != "" || w.cleanup != "" {
		// One sandbox run: kvsentry and runsc keep root-filesystem writes in
		// a memory overlay that lasts as long as the run.
		argv = []string{"/bin/sh", "-c", withSetup(w.setup, argv, w.cleanup)}
	}
	res, err := execSampled(r.cmd(argv, w.hostNet), harness.Timeout, r.sentry)
	if err != nil {
		return 0, res.mem, err
	}
	if res.Exit != 0 {
		return 0, res.mem, fmt.Errorf("exit status %d: %s", res.Exit, firstLine(res.Stderr))
	}
	if how == wallMillis {
		return float64(res.Elapsed.Microseconds()) / 1000, res.mem, nil
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(res.Stdout), 64)
	if err != nil || v <= 0 {
		return 0, res.mem, fmt.Errorf("unexpected output %q", firstLine(res.Stdout))
	}
	return v, res.mem, nil
}

// withSetup is an sh script running setup (its stdout discarded), then argv
// (whose stdout, the figure, is kept), then cleanup, exiting with argv's
// status; a failed setup fails the run.
func withSetup(setup string, argv []string, cleanup string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	s := ""
	if setup != "" {
		s = "{\n" + setup + "\n} >/dev/null || { echo set-up failed >&2; exit 99; }\n"
	}
	s += strings.Join(q, " ") + "\nrc=$?\n"
	if cleanup != "" {
		s += "{\n" + cleanup + "\n} >/dev/null 2>&1\n"
	}
	return s + "exit $rc\n"
}

// measureMedian runs a workload runs times and returns the median figure and
// the peak memory over all runs.
func measureMedian(r runner, w workload, short bool, runs int) (float64, memPeak, error) {
	var vals []float64
	var peak memPeak
	for range runs {
		v, m, err := runOnce(r, w, short)
		peak.max(m)
		if err != nil {
			return 0, peak, err
		}
		vals = append(vals, v)
	}
	return median(vals), peak, nil
}

// median of a non-empty slice (sorted in place).
func median(vals []float64) float64 {
	sort.Float64s(vals)
	n := len(vals)
	if n%2 == 1 {
		return vals[n/2]
	}
	return (vals[n/2-1] + vals[n/2]) / 2
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	if s == "" {
		return "(no output)"
	}
	return s
}
