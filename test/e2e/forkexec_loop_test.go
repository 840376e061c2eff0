package e2e

import (
	"testing"

	"kvsentry/test/internal/harness"
)

// TestForkExecLoop runs 5,000 fork+exec cycles of /bin/true in one shell.
func TestForkExecLoop(t *testing.T) {
	root := harness.Rootfs(t)
	r := harness.RunSandboxResult(t, root, nil, "/bin/sh", "-c", harness.LoopScript(5000, 0))
	if r.Stdout != "done 5000\n" || r.Stderr != "" || r.Exit != 0 {
		t.Errorf("5000 cycles: stdout %q stderr %q exit %d; want \"done 5000\\n\", \"\", 0", r.Stdout, r.Stderr, r.Exit)
	}
	t.Logf("5000 fork+exec cycles in %v (%.2f ms each)", r.Elapsed, float64(r.Elapsed.Microseconds())/5000/1000)
}

// TestForkExecLoopParallel runs four such loops of 1,000 cycles at once (make
// soak runs four of 5,000).
func TestForkExecLoopParallel(t *testing.T) {
	root := harness.Rootfs(t)
	r := harness.RunSandboxResult(t, root, nil, "/bin/sh", "-c", harness.ParallelLoopsScript(4, 1000))
	want := harness.WantParallelLoops(4, 1000)
	if r.Stdout != want || r.Stderr != "" || r.Exit != 0 {
		t.Errorf("4 x 1000 cycles: stdout %q stderr %q exit %d; want %q, \"\", 0", r.Stdout, r.Stderr, r.Exit, want)
	}
	t.Logf("4 x 1000 fork+exec cycles in parallel in %v", r.Elapsed)
}
