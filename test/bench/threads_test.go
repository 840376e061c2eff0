package main

import (
	"testing"

	"kvsentry/test/internal/harness"
)

// TestBenchThreadScaling runs only the 2-threads-vs-1 row, natively and under
// kvsentry, and checks that each produced a number; the figures are logged
// (the machine is shared, so no speed-up is required here).
func TestBenchThreadScaling(t *testing.T) {
	harness.RequireRoot(t)
	harness.MuslGCC(t)
	p, err := setup()
	if err != nil {
		t.Fatal(err)
	}
	var w *workload
	for _, x := range workloads(benchEnv{}) {
		if x.name == threadScaleWorkload {
			w = &x
		}
	}
	if w == nil {
		t.Fatalf("no %q row among the workloads", threadScaleWorkload)
	}
	for _, r := range []runner{nativeRunner(p.rootB), kvsentryRunner(p.bin, p.rootA, "ptrace")} {
		v, _, err := measureMedian(r, *w, true, 1)
		if err != nil || v <= 0 {
			t.Errorf("%s / %s: no number (value %v, error %v)", w.name, r.name, v, err)
			continue
		}
		t.Logf("%s / %s: %.2f%s", w.name, r.name, v, w.unit)
	}
}
