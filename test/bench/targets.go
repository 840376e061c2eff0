package main

import (
	"fmt"
)

// cellOf returns the cell of runner in row, if it holds a figure.
func cellOf(row Row, runner string) (Cell, bool) {
	for _, c := range row.Cells {
		if c.Runner == runner && c.Error == "" {
			return c, true
		}
	}
	return Cell{}, false
}

// rowOf returns the row of a workload.
func rowOf(rep *Report, name string) (Row, bool) {
	for _, r := range rep.Rows {
		if r.Workload == name {
			return r, true
		}
	}
	return Row{}, false
}

// verdict says met or missed, and by how much: got against the bound want
// (lower is better).
func verdict(what string, got, want float64, unit string) string {
	if got <= want {
		return fmt.Sprintf("MET     %s: %.4g %s <= %.4g %s", what, got, unit, want, unit)
	}
	return fmt.Sprintf("MISSED  %s: %.4g %s > %.4g %s (%.2fx the bound)", what, got, unit, want, unit, got/want)
}

// syscallHeavy are the macro rows held to runsc-ptrace rather than to 3x native.
var syscallHeavy = map[string]bool{
	"300 fork+exec of /bin/true from sh":  true,
	"tar xzf of the minirootfs tarball":   true,
	"apk add curl closure (local mirror)": true,
}

// evaluateTargets checks the targets against the ptrace column, each
// as a ratio or figure from this run; rows or peers missing are said so.
func evaluateTargets(rep *Report) []string {
	const k, peer = "kvsentry-ptrace", "runsc-ptrace"
	var out []string
	hasPeer := false
	for _, r := range rep.Runners {
		hasPeer = hasPeer || r == peer
	}
	for _, row := range rep.Rows {
		kc, ok := cellOf(row, k)
		switch {
		case row.Group == groupMicro || (row.Group == groupMacro && syscallHeavy[row.Workload]):
			if !ok {
				out = append(out, fmt.Sprintf("n/a     %s: no %s figure", row.Workload, k))
			} else if pc, ok := cellOf(row, peer); ok {
				out = append(out, verdict(row.Workload+" vs "+peer, kc.Value, pc.Value, row.Unit))
			} else if !hasPeer {
				out = append(out, fmt.Sprintf("n/a     %s: runsc not measured", row.Workload))
			} else {
				out = append(out, fmt.Sprintf("n/a     %s: no %s figure", row.Workload, peer))
			}
		case row.Workload == shLoopWorkload || row.Workload == gzipWorkload:
			if ok && kc.Ratio > 0 {
				out = append(out, verdict(row.Workload+", ratio to native", kc.Ratio, 3, "x"))
			}
		case row.Workload == startupWorkload:
			if ok {
				out = append(out, verdict("start-up of /bin/true", kc.Value, 50, "ms"))
			}
		case row.Workload == growthWorkload:
			if ok {
				out = append(out, verdict("sentry RssAnon growth per 1000 exited processes", kc.Value, 256, "KiB"))
			}
		}
	}
	if gp, ok := rowOf(rep, getpidWorkload); ok {
		fr, _ := rowOf(rep, floorWorkload)
		kc, ok1 := cellOf(gp, k)
		fc, ok2 := cellOf(fr, "native")
		if ok1 && ok2 {
			out = append(out, verdict("getpid round trip vs 1.5x the bare PTRACE_SYSEMU floor", kc.Value, 1.5*fc.Value, "ns"))
		}
	}
	for _, name := range []string{shLoopWorkload, forkLoopWorkload} {
		if sh, ok := rowOf(rep, name); ok {
			if kc, ok := cellOf(sh, k); ok && kc.RssAnonKiB > 0 {
				out = append(out, verdict("sentry RssAnon, sh session: "+name, float64(kc.RssAnonKiB)/1024, 40, "MiB")+
					fmt.Sprintf(" [VmHWM %.1f MiB]", float64(kc.VmHWMKiB)/1024))
			}
		}
	}
	return out
}
