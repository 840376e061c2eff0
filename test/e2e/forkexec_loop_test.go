package e2e

import (
	"fmt"
	"strings"
	"testing"

	"kvsentry/test/internal/harness"
)

// loopScript returns a shell loop that runs /bin/true n times (a fork and an
// exec each) and then prints the count; every report lines > 0 it also prints
// "progress I" (for the soak test's samples).
func loopScript(n, report int) string {
	progress := ""
	if report > 0 {
		progress = fmt.Sprintf(`; [ $((i %% %d)) -eq 0 ] && echo "progress $i"`, report)
	}
	return fmt.Sprintf(`i=0; while [ $i -lt %d ]; do /bin/true; i=$((i+1))%s; done; echo "done $i"`, n, progress)
}

// TestForkExecLoop runs 5,000 fork+exec cycles of /bin/true in one shell.
func TestForkExecLoop(t *testing.T) {
	root := harness.Rootfs(t)
	r := harness.RunSandboxResult(t, root, nil, "/bin/sh", "-c", loopScript(5000, 0))
	if r.Stdout != "done 5000\n" || r.Stderr != "" || r.Exit != 0 {
		t.Errorf("5000 cycles: stdout %q stderr %q exit %d; want \"done 5000\\n\", \"\", 0", r.Stdout, r.Stderr, r.Exit)
	}
	t.Logf("5000 fork+exec cycles in %v (%.2f ms each)", r.Elapsed, float64(r.Elapsed.Microseconds())/5000/1000)
}

// TestForkExecLoopParallel runs four such loops of 1,000 cycles at once.
func TestForkExecLoopParallel(t *testing.T) {
	root := harness.Rootfs(t)
	script := parallelLoops(4, 1000)
	r := harness.RunSandboxResult(t, root, nil, "/bin/sh", "-c", script)
	want := wantParallel(4, 1000)
	if r.Stdout != want || r.Stderr != "" || r.Exit != 0 {
		t.Errorf("4 x 1000 cycles: stdout %q stderr %q exit %d; want %q, \"\", 0", r.Stdout, r.Stderr, r.Exit, want)
	}
	t.Logf("4 x 1000 fork+exec cycles in parallel in %v", r.Elapsed)
}

// parallelLoops returns a script running k loops of n cycles in parallel; each
// loop prints "loop J done N" and the output is sorted.
func parallelLoops(k, n int) string {
	return fmt.Sprintf(`{ for j in $(seq 1 %d); do (%s | sed "s/^/loop $j /") & done; wait; echo "all waited $?"; } | sort`,
		k, loopScript(n, 0))
}

// wantParallel is the output of parallelLoops(k, n).
func wantParallel(k, n int) string {
	var b strings.Builder
	b.WriteString("all waited 0\n")
	for j := 1; j <= k; j++ {
		fmt.Fprintf(&b, "loop %d done %d\n", j, n)
	}
	return b.String()
}
