// Command bench runs the same workloads natively (chroot into a prepared Alpine
// rootfs), under kvsentry on each working platform, and under the peers found
// on the machine (proot, qemu-x86_64, gVisor's runsc on its ptrace and
// systrap platforms), all in one run, and prints each figure's median with
// its ratio to native, the sentry's peak memory and the targets.
//
// Usage: go run ./test/bench [-short] [-json FILE] [-runs N] [-only SUBSTR] [-no-peers]
//
// See README.md in this directory.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"kvsentry/test/internal/harness"
)

// options configures one benchmark run.
type options struct {
	short    bool      // 1 run per cell, few iterations
	runs     int       // runs per cell (median); 0 means the default
	jsonPath string    // also write the rows as JSON here
	only     string    // run only the workloads whose name contains this
	noPeers  bool      // native and kvsentry columns only
	out      io.Writer // the table goes here
}

// Cell is one workload measured one way.
type Cell struct {
	Runner string  `json:"runner"`
	Value  float64 `json:"value"`
	Ratio  float64 `json:"ratio_to_native,omitempty"`
	Error  string  `json:"error,omitempty"`
	// Sentry memory (kvsentry columns): peak VmHWM and peak sampled RssAnon
	// of the kvsentry process over the cell's runs, in KiB.
	VmHWMKiB   int64 `json:"sentry_vmhwm_kib,omitempty"`
	RssAnonKiB int64 `json:"sentry_rss_anon_kib,omitempty"`
}

// Row is one workload measured every way.
type Row struct {
	Workload string `json:"workload"`
	Group    string `json:"group"`
	Unit     string `json:"unit"`
	Cells    []Cell `json:"cells"`
}

// Report is the whole result, as written by -json.
type Report struct {
	Date    string   `json:"date"`
	Short   bool     `json:"short"`
	Runs    int      `json:"runs"`
	LoadAvg string   `json:"loadavg_before"`
	Runners []string `json:"runners"`
	Rows    []Row    `json:"rows"`
	Targets []string `json:"targets"`
	Notes   []string `json:"notes,omitempty"`
}

func main() {
	var o options
	flag.BoolVar(&o.short, "short", false, "one quick run per cell with few iterations")
	flag.IntVar(&o.runs, "runs", 0, "runs per cell, the median is reported (default 5, -short 1)")
	flag.StringVar(&o.jsonPath, "json", "", "also write the results as JSON to `FILE`")
	flag.StringVar(&o.only, "only", "", "run only the workloads whose name contains `SUBSTR` (or one of several separated by |)")
	flag.BoolVar(&o.noPeers, "no-peers", false, "measure natively and under kvsentry only")
	flag.Parse()
	o.out = os.Stdout
	_, err := run(o)
	harness.Cleanup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// run measures every workload every available way and prints the table.
func run(o options) (*Report, error) {
	if o.runs <= 0 {
		o.runs = 5
		if o.short {
			o.runs = 1
		}
	}
	if o.out == nil {
		o.out = io.Discard
	}
	load, _ := os.ReadFile("/proc/loadavg")
	p, err := setup()
	if err != nil {
		return nil, err
	}
	env, stop, err := serveMirror()
	if err != nil {
		return nil, err
	}
	defer stop()
	rep := &Report{Date: time.Now().UTC().Format(time.RFC3339), Short: o.short, Runs: o.runs,
		LoadAvg: strings.TrimSpace(string(load))}
	runners := []runner{nativeRunner(p.rootB)}
	ks, notes := kvsentryRunners(p.bin, p.rootA)
	runners = append(runners, ks...)
	rep.Notes = append(rep.Notes, notes...)
	if !o.noPeers {
		peers, notes := peerRunners(p.rootB)
		runners = append(runners, peers...)
		rep.Notes = append(rep.Notes, notes...)
	}
	for _, r := range runners {
		rep.Runners = append(rep.Runners, r.name)
	}
	for _, w := range workloads(env) {
		if o.only != "" && !matchAny(w.name, o.only) {
			continue
		}
		rep.Rows = append(rep.Rows, measureRow(p, runners, w, o))
	}
	rep.Targets = evaluateTargets(rep)
	printTable(o.out, rep)
	if o.jsonPath != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return rep, err
		}
		if err := os.WriteFile(o.jsonPath, append(b, '\n'), 0o644); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// measureRow measures one workload with every runner, native first.
func measureRow(p *prepared, runners []runner, w workload, o options) Row {
	row := Row{Workload: w.name, Group: w.group, Unit: w.unit}
	var native float64
	for _, r := range runners {
		c := Cell{Runner: r.name}
		var v float64
		var mem memPeak
		var err error
		switch {
		case w.skips[r.name] != "":
			c.Error = "skipped: " + w.skips[r.name]
		case w.how == hostFloor && r.name != "native":
			c.Error = "skipped: a host program, in the native column"
		case w.how == hostFloor:
			v, err = measureFloor(p.sysemu, w, o)
		case w.how == memGrowth && !r.sentry:
			c.Error = "skipped: the sentry's memory"
		case w.how == memGrowth:
			v, mem, err = measureGrowth(r, w, o.short)
		default:
			v, mem, err = measureMedian(r, w, o.short, o.runs)
		}
		c.VmHWMKiB, c.RssAnonKiB = mem.VmHWM, mem.RssAnon
		switch {
		case c.Error != "":
		case err != nil && w.optional:
			c.Error = "skipped: " + err.Error()
		case err != nil:
			c.Error = err.Error()
		default:
			c.Value = v
			if r.name == "native" {
				native = v
			}
			if native > 0 && w.how != memGrowth {
				c.Ratio = v / native
			}
		}
		row.Cells = append(row.Cells, c)
	}
	return row
}

// measureFloor runs the minimal PTRACE_SYSEMU tracer on the host runs times.
func measureFloor(sysemu string, w workload, o options) (float64, error) {
	argv := w.argv(o.short)
	var vals []float64
	for range o.runs {
		r := runner{cmd: func([]string, bool) *exec.Cmd { return exec.Command(sysemu, argv[1:]...) }}
		v, _, err := runOnce(r, workload{argv: w.argv}, o.short)
		if err != nil {
			return 0, err
		}
		vals = append(vals, v)
	}
	return median(vals), nil
}

// measureGrowth runs sh loops of /bin/true of two lengths under the sentry
// and returns the growth of its peak RssAnon per 1000 extra exited
// processes (KiB); the memory returned is the longer run's.
func measureGrowth(r runner, w workload, short bool) (float64, memPeak, error) {
	counts := w.argv(short)
	var peaks [2]memPeak
	var ns [2]int
	for i, c := range counts[:2] {
		fmt.Sscan(c, &ns[i])
		lw := workload{argv: func(bool) []string { return []string{"/bin/sh", "-c", trueLoop(ns[i])} }, how: wallMillis}
		_, m, err := runOnce(r, lw, short)
		if err != nil {
			return 0, m, err
		}
		peaks[i] = m
	}
	growth := float64(peaks[1].RssAnon-peaks[0].RssAnon) * 1000 / float64(ns[1]-ns[0])
	return growth, peaks[1], nil
}

// matchAny reports whether name contains one of the |-separated substrings.
func matchAny(name, only string) bool {
	for _, o := range strings.Split(only, "|") {
		if strings.Contains(name, o) {
			return true
		}
	}
	return false
}
