package harness

import (
	"fmt"
	"strings"
)

// LoopScript returns a shell loop that runs /bin/true n times (one fork and
// one exec each) and then prints "done N"; when report > 0 it also prints
// "progress I" after every report-th cycle.
func LoopScript(n, report int) string {
	progress := ""
	if report > 0 {
		progress = fmt.Sprintf(`; [ $((i %% %d)) -eq 0 ] && echo "progress $i"`, report)
	}
	return fmt.Sprintf(`i=0; while [ $i -lt %d ]; do /bin/true; i=$((i+1))%s; done; echo "done $i"`, n, progress)
}

// ParallelLoopsScript returns a script running k LoopScript(n, 0) loops at
// once; each prints "loop J done N", then "all waited 0" once all are waited
// for, and the whole output is sorted (see WantParallelLoops).
func ParallelLoopsScript(k, n int) string {
	return fmt.Sprintf(`{ for j in $(seq 1 %d); do (%s | sed "s/^/loop $j /") & done; wait; echo "all waited $?"; } | sort`,
		k, LoopScript(n, 0))
}

// WantParallelLoops is the output of a successful ParallelLoopsScript(k, n), k < 10.
func WantParallelLoops(k, n int) string {
	var b strings.Builder
	b.WriteString("all waited 0\n")
	for j := 1; j <= k; j++ {
		fmt.Fprintf(&b, "loop %d done %d\n", j, n)
	}
	return b.String()
}
