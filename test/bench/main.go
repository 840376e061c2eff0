// Command bench runs the same workloads natively (chroot into a prepared Alpine
// rootfs), under kvsentry, and under the peers found on PATH (proot,
// qemu-x86_64), all in one run, and prints each figure with its ratio to native.
//
// Usage: go run ./test/bench [-short] [-json FILE] [-runs N]
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"kvsentry/test/internal/harness"
)

// options configures one benchmark run.
type options struct {
	short    bool      // 1 run per cell, few iterations
	runs     int       // runs per cell (median); 0 means the default
	jsonPath string    // also write the rows as JSON here
	out      io.Writer // the table goes here
}

// Cell is one workload measured one way.
type Cell struct {
	Runner string  `json:"runner"`
	Value  float64 `json:"value,omitempty"`
	Ratio  float64 `json:"ratio_to_native,omitempty"`
	Error  string  `json:"error,omitempty"`
}

// Row is one workload measured every way.
type Row struct {
	Workload string `json:"workload"`
	Unit     string `json:"unit"`
	Cells    []Cell `json:"cells"`
}

// Report is the whole result, as written by -json.
type Report struct {
	Rows  []Row    `json:"rows"`
	Notes []string `json:"notes,omitempty"`
}

func main() {
	var o options
	flag.BoolVar(&o.short, "short", false, "one quick run per cell with few iterations")
	flag.IntVar(&o.runs, "runs", 0, "runs per cell, the median is reported (default 5, -short 1)")
	flag.StringVar(&o.jsonPath, "json", "", "also write the results as JSON to `FILE`")
	flag.Parse()
	o.out = os.Stdout
	_, err := run(o)
	harness.Cleanup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// setup builds kvsentry, prepares the two rootfs copies and installs the C
// workload programs into both.
func setup() (bin, rootA, rootB string, err error) {
	if os.Geteuid() != 0 {
		return "", "", "", errors.New("needs root (native runs chroot)")
	}
	bin, err = harness.BuildKvsentry()
	if err != nil {
		return "", "", "", err
	}
	rootA, rootB, err = harness.PrepareRootfsPair()
	if err != nil {
		return "", "", "", err
	}
	musl, err := findMusl()
	if err != nil {
		return "", "", "", err
	}
	dir, err := sourceDir()
	if err != nil {
		return "", "", "", err
	}
	for _, prog := range []string{"getpid", "openread", "forkexec", "threadscale", "netbench"} {
		exe, err := harness.CompileC(musl, filepath.Join(dir, prog+".c"), "bench-"+prog, true)
		if err != nil {
			return "", "", "", err
		}
		for _, r := range []string{rootA, rootB} {
			if _, err := harness.InstallFile(r, exe, prog, 0o755); err != nil {
				return "", "", "", err
			}
		}
	}
	return bin, rootA, rootB, nil
}

func findMusl() (string, error) {
	p, err := exec.LookPath("musl-gcc")
	if err != nil {
		return "", errors.New("musl-gcc not found on PATH (apt install musl-tools)")
	}
	return p, nil
}

// sourceDir returns test/bench in the repository.
func sourceDir() (string, error) {
	root, err := harness.RepoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "test", "bench"), nil
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
	bin, rootA, rootB, err := setup()
	if err != nil {
		return nil, err
	}
	peers, notes := peerRunners(rootB)
	runners := append([]runner{nativeRunner(rootB), kvsentryRunner(bin, rootA)}, peers...)
	rep := &Report{Notes: notes}
	for _, w := range workloads() {
		row := Row{Workload: w.name, Unit: w.unit}
		var native float64
		for _, r := range runners {
			c := Cell{Runner: r.name}
			if why, ok := w.skips[r.name]; ok {
				c.Error = "skipped: " + why
			} else if v, err := measureMedian(r, w, o.short, o.runs); err != nil {
				c.Error = err.Error()
			} else {
				c.Value = v
				if r.name == "native" {
					native = v
				}
				if native > 0 {
					c.Ratio = v / native
				}
			}
			row.Cells = append(row.Cells, c)
		}
		rep.Rows = append(rep.Rows, row)
	}
	printTable(o.out, rep, runners)
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

// printTable writes the aligned table, then the errors and notes below it.
func printTable(w io.Writer, rep *Report, runners []runner) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	hdr := []string{"workload", "unit", "native"}
	for _, r := range runners[1:] {
		hdr = append(hdr, r.name, "ratio")
	}
	fmt.Fprintln(tw, strings.Join(hdr, "\t")+"\t")
	var errs []string
	for _, row := range rep.Rows {
		f := []string{row.Workload, row.Unit}
		for i, c := range row.Cells {
			v, ratio := "n/a", "-"
			if c.Error != "" {
				errs = append(errs, fmt.Sprintf("%s / %s: %s", row.Workload, c.Runner, c.Error))
			} else {
				v = fmt.Sprintf("%.1f", c.Value)
				if c.Ratio > 0 {
					ratio = fmt.Sprintf("%.1fx", c.Ratio)
				}
			}
			f = append(f, v)
			if i > 0 {
				f = append(f, ratio)
			}
		}
		fmt.Fprintln(tw, strings.Join(f, "\t")+"\t")
	}
	tw.Flush()
	for _, e := range errs {
		fmt.Fprintln(w, "note:", e)
	}
	for _, n := range rep.Notes {
		fmt.Fprintln(w, "note:", n)
	}
}
