package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kvsentry/test/internal/harness"
)

// TestMain removes the shared temporary directory after the tests.
func TestMain(m *testing.M) { harness.Main(m) }

// TestBenchShort runs the benchmark in -short mode, natively and under
// kvsentry (peers are left out to keep it fast), and checks that every row
// produced a figure in every column meant to have one (never a time
// threshold), and that -json wrote the same rows. Only an optional row (apk
// add) may be skipped, with its note.
func TestBenchShort(t *testing.T) {
	harness.RequireRoot(t)
	harness.MuslGCC(t)
	var out bytes.Buffer
	jsonPath := filepath.Join(t.TempDir(), "bench.json")
	rep, err := run(options{short: true, noPeers: true, jsonPath: jsonPath, out: &out})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", out.String())
	ws := workloads(benchEnv{})
	if len(rep.Rows) != len(ws) {
		t.Fatalf("%d rows, want %d", len(rep.Rows), len(ws))
	}
	for i, row := range rep.Rows {
		w := ws[i]
		if len(row.Cells) != len(rep.Runners) {
			t.Errorf("%s: %d cells for %d runners", row.Workload, len(row.Cells), len(rep.Runners))
		}
		for _, c := range row.Cells {
			meant := c.Runner == "native" || strings.HasPrefix(c.Runner, "kvsentry-")
			switch {
			case w.how == hostFloor:
				meant = c.Runner == "native"
			case w.how == memGrowth:
				meant = strings.HasPrefix(c.Runner, "kvsentry-")
			}
			if !meant {
				continue
			}
			if w.optional && strings.HasPrefix(c.Error, "skipped: ") {
				t.Logf("%s / %s: %s", row.Workload, c.Runner, c.Error)
				continue
			}
			if c.Error != "" || (w.how != memGrowth && c.Value <= 0) {
				t.Errorf("%s / %s: no figure (value %v, error %q)", row.Workload, c.Runner, c.Value, c.Error)
			}
			if c.Runner != "native" && w.how != memGrowth && w.how != hostFloor && c.Error == "" && c.Ratio <= 0 {
				t.Errorf("%s / %s: no ratio to native", row.Workload, c.Runner)
			}
			if c.Runner == "kvsentry-ptrace" && w.how != wallMillis && c.Error == "" && c.RssAnonKiB <= 0 {
				t.Errorf("%s / %s: no sentry memory sampled", row.Workload, c.Runner)
			}
		}
	}
	if len(rep.Targets) == 0 {
		t.Errorf("no target evaluated")
	}
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("-json output does not parse: %v", err)
	}
	if len(back.Rows) != len(rep.Rows) || back.Rows[0].Workload != rep.Rows[0].Workload {
		t.Errorf("-json rows differ from the table's")
	}
}
