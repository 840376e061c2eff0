package harness

import (
	"fmt"
	"strings"
	"testing"
)

// Normalizer rewrites an output before comparison. Each carries a name so that a
// test shows exactly which normalisation it applied; keep them narrow.
type Normalizer struct {
	Name string
	Fn   func(string) string
}

// Differential runs argv natively (copy B) and in the sandbox (copy A), applies the
// normalisers to both stdouts and stderrs, and fails the test unless stdout,
// stderr and exit status are identical. It returns the native result.
func Differential(t testing.TB, argv []string, norms ...Normalizer) Result {
	t.Helper()
	a, b, err := PrepareRootfsPair()
	if err != nil {
		t.Fatalf("preparing rootfs: %v", err)
	}
	nout, nerr, nexit := RunNative(t, b, argv...)
	sout, serr, sexit := RunSandbox(t, a, nil, argv...)
	for _, n := range norms {
		nout, nerr, sout, serr = n.Fn(nout), n.Fn(nerr), n.Fn(sout), n.Fn(serr)
	}
	CompareResults(t, strings.Join(argv, " "),
		Result{Stdout: nout, Stderr: nerr, Exit: nexit},
		Result{Stdout: sout, Stderr: serr, Exit: sexit})
	return Result{Stdout: nout, Stderr: nerr, Exit: nexit}
}

// CompareResults fails the test unless native and sandbox agree byte for byte on
// stdout, stderr and exit status; the message shows both sides.
func CompareResults(t testing.TB, what string, native, sandbox Result) {
	t.Helper()
	var diffs []string
	if native.Stdout != sandbox.Stdout {
		diffs = append(diffs, fmt.Sprintf("stdout differs (first difference at byte %d):\n--- native ---\n%s\n--- kvsentry ---\n%s",
			firstDiff(native.Stdout, sandbox.Stdout), clip(native.Stdout), clip(sandbox.Stdout)))
	}
	if native.Stderr != sandbox.Stderr {
		diffs = append(diffs, fmt.Sprintf("stderr differs:\n--- native ---\n%s\n--- kvsentry ---\n%s",
			clip(native.Stderr), clip(sandbox.Stderr)))
	}
	if native.Exit != sandbox.Exit {
		diffs = append(diffs, fmt.Sprintf("exit status differs: native %d, kvsentry %d", native.Exit, sandbox.Exit))
	}
	if len(diffs) > 0 {
		t.Errorf("%s:\n%s", what, strings.Join(diffs, "\n"))
	}
}

func firstDiff(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}
