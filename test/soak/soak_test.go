// Package soak holds kvsentry's long-running tests, run by `make soak` and
// skipped otherwise (they need KVSENTRY_SOAK=1): 100,000 fork+exec cycles of
// /bin/true in one shell, with the sentry's resident memory sampled from
// /proc/PID/status along the way, and four loops of 5,000 cycles in parallel.
package soak

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"kvsentry/test/internal/harness"
)

// TestMain removes the shared temporary directory after the tests.
func TestMain(m *testing.M) { harness.Main(m) }

const (
	soakCycles  = 100000
	sampleEvery = 10000
	soakTimeout = 45 * time.Minute
	// rssMarginFrac and rssMarginMin bound how much the sentry's RSS may grow
	// between the first sample (after 10,000 cycles) and the last.
	rssMarginFrac = 0.10
	rssMarginMin  = 16 << 20
)

func requireSoak(t *testing.T) {
	t.Helper()
	if os.Getenv("KVSENTRY_SOAK") != "1" {
		t.Skip("soak test: set KVSENTRY_SOAK=1 (make soak) to run it")
	}
}

// memSample is the sentry's memory after a number of cycles.
type memSample struct {
	cycles     int
	rss, hwm   int64 // bytes: VmRSS, VmHWM
	elapsed    time.Duration
	sampledErr error // reading /proc/PID/status failed
}

// procStatus returns the VmRSS and VmHWM of pid in bytes (proc(5)).
func procStatus(pid int) (rss, hwm int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		v, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case "VmRSS:":
			rss = v << 10
		case "VmHWM:":
			hwm = v << 10
		}
	}
	if rss == 0 || hwm == 0 {
		return 0, 0, fmt.Errorf("no VmRSS/VmHWM in /proc/%d/status", pid)
	}
	return rss, hwm, nil
}

// soakRun is the outcome of one long sandbox run.
type soakRun struct {
	stdout   []string // every line the guest printed
	stderr   string
	exit     int
	signaled bool
	elapsed  time.Duration
	samples  []memSample // one per "progress N" line
	peakRSS  int64       // highest VmRSS seen by the periodic sampler
	lastHWM  int64       // VmHWM at the sampler's last look
}

// runSampled runs argv under kvsentry with a long timeout; each "progress N"
// line the guest prints is answered by a sample of the sentry's memory, and
// a sampler records the highest VmRSS every 200 ms.
func runSampled(t *testing.T, argv ...string) soakRun {
	t.Helper()
	cmd := harness.SandboxCmd(harness.Kvsentry(t), harness.Rootfs(t), nil, argv...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	killer := time.AfterFunc(soakTimeout, func() { syscall.Kill(-pid, syscall.SIGKILL) })
	defer killer.Stop()
	defer syscall.Kill(-pid, syscall.SIGKILL)

	// The sampler alone writes peakRSS and lastHWM until it is stopped.
	var r soakRun
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if rss, hwm, err := procStatus(pid); err == nil {
					r.peakRSS = max(r.peakRSS, rss)
					r.lastHWM = hwm
				}
			}
		}
	}()
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		r.stdout = append(r.stdout, line)
		if n, ok := strings.CutPrefix(line, "progress "); ok {
			cycles, _ := strconv.Atoi(n)
			s := memSample{cycles: cycles, elapsed: time.Since(start)}
			s.rss, s.hwm, s.sampledErr = procStatus(pid)
			r.samples = append(r.samples, s)
			t.Logf("after %6d cycles (%v): sentry VmRSS %.1f MiB, VmHWM %.1f MiB", cycles, s.elapsed.Round(time.Second),
				mib(s.rss), mib(s.hwm))
		}
	}
	close(stop)
	<-sampled
	err = cmd.Wait()
	r.elapsed = time.Since(start)
	r.stderr = stderr.String()
	if err != nil && cmd.ProcessState == nil {
		t.Fatalf("kvsentry: %v", err)
	}
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	switch {
	case ws.Exited():
		r.exit = ws.ExitStatus()
	case ws.Signaled():
		r.exit, r.signaled = 128+int(ws.Signal()), true
	}
	if r.elapsed >= soakTimeout {
		t.Fatalf("timed out after %v", soakTimeout)
	}
	return r
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// TestSoakForkExec runs 100,000 fork+exec cycles and fails if the sentry's
// resident memory after the last cycle exceeds that after 10,000 cycles by
// more than the margin.
func TestSoakForkExec(t *testing.T) {
	requireSoak(t)
	r := runSampled(t, "/bin/sh", "-c", harness.LoopScript(soakCycles, sampleEvery))
	if r.signaled || r.exit != 0 {
		t.Fatalf("kvsentry exit %d (signaled %v); stderr %q; last output %q", r.exit, r.signaled, r.stderr, tail(r.stdout))
	}
	done := fmt.Sprintf("done %d", soakCycles)
	if len(r.stdout) == 0 || r.stdout[len(r.stdout)-1] != done {
		t.Fatalf("last line %q, want %q", tail(r.stdout), done)
	}
	if len(r.samples) != soakCycles/sampleEvery {
		t.Fatalf("%d memory samples, want %d", len(r.samples), soakCycles/sampleEvery)
	}
	first, last := r.samples[0], r.samples[len(r.samples)-1]
	for _, s := range []memSample{first, last} {
		if s.sampledErr != nil {
			t.Fatalf("sampling after %d cycles: %v", s.cycles, s.sampledErr)
		}
	}
	// Report: the count, the time and the peak, in one line for the logs.
	fmt.Printf("soak: %d fork+exec cycles in %v (%.2f ms each); sentry VmRSS %.1f MiB after %d, %.1f MiB after %d; peak VmRSS %.1f MiB, VmHWM %.1f MiB\n",
		soakCycles, r.elapsed.Round(time.Second), float64(r.elapsed.Microseconds())/soakCycles/1000,
		mib(first.rss), first.cycles, mib(last.rss), last.cycles, mib(r.peakRSS), mib(last.hwm))
	margin := max(int64(float64(first.rss)*rssMarginFrac), rssMarginMin)
	if last.rss-first.rss > margin {
		t.Errorf("sentry VmRSS grew from %.1f MiB (after %d cycles) to %.1f MiB (after %d): more than the %.1f MiB margin",
			mib(first.rss), first.cycles, mib(last.rss), last.cycles, mib(margin))
	}
	hwmMargin := max(int64(float64(first.hwm)*rssMarginFrac), rssMarginMin)
	if last.hwm-first.hwm > hwmMargin {
		t.Errorf("sentry VmHWM grew from %.1f MiB (after %d cycles) to %.1f MiB (after %d): more than the %.1f MiB margin",
			mib(first.hwm), first.cycles, mib(last.hwm), last.cycles, mib(hwmMargin))
	}
}

// TestSoakForkExecParallel runs four loops of 5,000 cycles at once.
func TestSoakForkExecParallel(t *testing.T) {
	requireSoak(t)
	r := runSampled(t, "/bin/sh", "-c", harness.ParallelLoopsScript(4, 5000))
	got := strings.Join(r.stdout, "\n") + "\n"
	if want := harness.WantParallelLoops(4, 5000); got != want || r.exit != 0 {
		t.Fatalf("4 x 5000 cycles: stdout %q exit %d stderr %q; want %q, 0", got, r.exit, r.stderr, want)
	}
	fmt.Printf("soak: 4 x 5000 fork+exec cycles in parallel in %v; sentry peak VmRSS %.1f MiB, VmHWM %.1f MiB\n",
		r.elapsed.Round(time.Second), mib(r.peakRSS), mib(r.lastHWM))
}

// tail returns the last line of lines, or "" if there is none.
func tail(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	return lines[len(lines)-1]
}
