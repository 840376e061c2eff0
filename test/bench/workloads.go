package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"kvsentry/test/internal/harness"
)

// measure says how a workload's number is obtained.
type measure int

const (
	selfReported measure = iota // the program prints its own per-op figure
	wallMillis                  // wall time of the whole run, in ms
)

// workload is one benchmark row.
type workload struct {
	name  string
	unit  string
	how   measure
	argv  func(short bool) []string
	skips map[string]string // runner name -> why this runner cannot run it
}

// threadScaleWorkload names the row whose figure is the speed-up of a
// CPU-bound job on 2 threads over 1 (threadscale.c): higher is better, unlike
// the other rows, and about 2 natively on an idle 2-core machine.
const threadScaleWorkload = "speed-up, 2 threads vs 1 (CPU-bound)"

// loopScript is the shell-loop workload.
const loopScript = "i=0; while [ $i -lt 2000 ]; do i=$((i+1)); done"

func workloads() []workload {
	iters := func(short bool, full, few int) string {
		if short {
			return strconv.Itoa(few)
		}
		return strconv.Itoa(full)
	}
	return []workload{
		{name: "getpid round trip", unit: "ns/op", how: selfReported,
			argv: func(s bool) []string { return []string{harness.GuestTestDir + "/getpid", iters(s, 20000, 200)} }},
		{name: "open+read+close small file", unit: "ns/op", how: selfReported,
			argv: func(s bool) []string {
				return []string{harness.GuestTestDir + "/openread", iters(s, 5000, 50), "/etc/hostname"}
			}},
		{name: "fork+exec+wait /bin/true", unit: "µs/op", how: selfReported,
			argv: func(s bool) []string {
				return []string{harness.GuestTestDir + "/forkexec", iters(s, 100, 3), "/bin/true"}
			},
			skips: map[string]string{"qemu-x86_64": "qemu-user does not follow execve into the guest"}},
		{name: "sh while loop (2000 iterations)", unit: "ms", how: wallMillis,
			argv: func(bool) []string { return []string{"/bin/sh", "-c", loopScript} }},
		{name: "start-up: run /bin/true", unit: "ms", how: wallMillis,
			argv: func(bool) []string { return []string{"/bin/true"} }},
		{name: "TCP loopback transfer, 64 MiB", unit: "ms", how: selfReported,
			argv: func(s bool) []string { return []string{harness.GuestTestDir + "/netbench", "xfer", iters(s, 64, 4)} }},
		{name: "TCP request/response round trip", unit: "µs/op", how: selfReported,
			argv: func(s bool) []string { return []string{harness.GuestTestDir + "/netbench", "rr", iters(s, 10000, 100)} }},
		{name: threadScaleWorkload, unit: "x", how: selfReported,
			argv: func(s bool) []string {
				return []string{harness.GuestTestDir + "/threadscale", iters(s, 400000000, 40000000)}
			}},
	}
}

// runner runs guest argv one way (native, kvsentry, a peer).
type runner struct {
	name string
	cmd  func(argv []string) *exec.Cmd
}

// nativeRunner chroots straight into copy B (no shell or mount in between, so
// wall times are not inflated) with the clean guest environment.
func nativeRunner(rootfs string) runner {
	return runner{name: "native", cmd: func(argv []string) *exec.Cmd {
		cmd := exec.Command(argv[0], argv[1:]...) // absolute: resolved inside the chroot
		cmd.Env = append([]string(nil), harness.CleanEnv...)
		cmd.Dir = "/"
		cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: rootfs}
		return cmd
	}}
}

func kvsentryRunner(bin, rootfs string) runner {
	return runner{name: "kvsentry", cmd: func(argv []string) *exec.Cmd {
		return harness.SandboxCmd(bin, rootfs, nil, argv...)
	}}
}

// peerRunners returns the peers found on PATH, and a note for each one missing.
func peerRunners(rootfs string) (peers []runner, notes []string) {
	if p, err := exec.LookPath("proot"); err == nil {
		peers = append(peers, runner{name: "proot", cmd: func(argv []string) *exec.Cmd {
			cmd := exec.Command(p, append([]string{"-r", rootfs, "-w", "/"}, argv...)...)
			cmd.Env = append([]string(nil), harness.CleanEnv...)
			return cmd
		}})
	} else {
		notes = append(notes, "proot: not on PATH, column skipped")
	}
	if q, err := exec.LookPath("qemu-x86_64"); err == nil {
		peers = append(peers, runner{name: "qemu-x86_64", cmd: func(argv []string) *exec.Cmd {
			cmd := exec.Command(q, append([]string{"-L", rootfs, "-0", argv[0], resolveInRoot(rootfs, argv[0])}, argv[1:]...)...)
			cmd.Env = append([]string(nil), harness.CleanEnv...)
			return cmd
		}})
	} else {
		notes = append(notes, "qemu-x86_64: not on PATH, column skipped")
	}
	return peers, notes
}

// resolveInRoot maps a guest path to a host path under root, following symlinks
// of the last component with absolute targets taken relative to root.
func resolveInRoot(root, guest string) string {
	for range 40 {
		target, err := os.Readlink(filepath.Join(root, guest))
		if err != nil {
			break
		}
		if filepath.IsAbs(target) {
			guest = target
		} else {
			guest = filepath.Join(filepath.Dir(guest), target)
		}
	}
	return filepath.Join(root, guest)
}

// runOnce runs one workload once with r and returns its figure.
func runOnce(r runner, w workload, short bool) (float64, error) {
	res, err := harness.Exec(r.cmd(w.argv(short)), harness.Timeout)
	if err != nil {
		return 0, err
	}
	if res.Exit != 0 {
		return 0, fmt.Errorf("exit status %d: %s", res.Exit, firstLine(res.Stderr))
	}
	switch w.how {
	case wallMillis:
		return float64(res.Elapsed.Microseconds()) / 1000, nil
	default:
		v, err := strconv.ParseFloat(strings.TrimSpace(res.Stdout), 64)
		if err != nil || v <= 0 {
			return 0, fmt.Errorf("unexpected output %q", firstLine(res.Stdout))
		}
		return v, nil
	}
}

// measureMedian runs a workload runs times and returns the median figure.
func measureMedian(r runner, w workload, short bool, runs int) (float64, error) {
	var vals []float64
	for range runs {
		v, err := runOnce(r, w, short)
		if err != nil {
			return 0, err
		}
		vals = append(vals, v)
	}
	sort.Float64s(vals)
	n := len(vals)
	if n%2 == 1 {
		return vals[n/2], nil
	}
	return (vals[n/2-1] + vals[n/2]) / 2, nil
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
