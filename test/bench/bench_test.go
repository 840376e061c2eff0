package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"kvsentry/test/internal/harness"
)

// TestMain removes the shared temporary directory after the tests.
func TestMain(m *testing.M) { harness.Main(m) }

// TestBenchShort runs the benchmark in -short mode and checks that every row
// produced a positive number natively and under kvsentry, and that -json wrote
// the same rows.
func TestBenchShort(t *testing.T) {
	harness.RequireRoot(t)
	harness.MuslGCC(t)
	var out bytes.Buffer
	jsonPath := filepath.Join(t.TempDir(), "bench.json")
	rep, err := run(options{short: true, jsonPath: jsonPath, out: &out})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", out.String())
	if len(rep.Rows) != len(workloads()) {
		t.Fatalf("%d rows, want %d", len(rep.Rows), len(workloads()))
	}
	for _, row := range rep.Rows {
		for _, c := range row.Cells {
			if c.Runner != "native" && c.Runner != "kvsentry" {
				continue
			}
			if c.Error != "" || c.Value <= 0 {
				t.Errorf("%s / %s: no number (value %v, error %q)", row.Workload, c.Runner, c.Value, c.Error)
			}
			if c.Runner == "kvsentry" && c.Error == "" && c.Ratio <= 0 {
				t.Errorf("%s: kvsentry has no ratio to native", row.Workload)
			}
		}
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
