package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// printTable writes the aligned table of medians and ratios, the sentry's
// memory, the targets, then the errors and notes.
func printTable(w io.Writer, rep *Report) {
	fmt.Fprintf(w, "kvsentry bench, %s, %d run(s) per cell (median), short=%v, loadavg before: %s\n\n",
		rep.Date, rep.Runs, rep.Short, rep.LoadAvg)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	hdr := []string{"workload", "unit", "native"}
	for _, r := range rep.Runners[1:] {
		hdr = append(hdr, r, "ratio")
	}
	fmt.Fprintln(tw, strings.Join(hdr, "\t")+"\t")
	var errs []string
	group := ""
	for _, row := range rep.Rows {
		if row.Group != group {
			group = row.Group
			fmt.Fprintln(tw, "["+group+"]\t")
		}
		f := []string{row.Workload, row.Unit}
		for i, c := range row.Cells {
			v, ratio := "n/a", "-"
			if strings.HasPrefix(c.Error, "skipped: ") {
				v = "-"
			}
			if c.Error != "" {
				if !strings.HasPrefix(c.Error, "skipped: a host program") && !strings.HasPrefix(c.Error, "skipped: the sentry's") {
					errs = append(errs, fmt.Sprintf("%s / %s: %s", row.Workload, c.Runner, c.Error))
				}
			} else {
				v = formatValue(c.Value)
				if c.Ratio > 0 {
					ratio = fmt.Sprintf("%.2fx", c.Ratio)
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

	fmt.Fprintln(w, "\nsentry memory, peak over the cell's runs (MiB): VmHWM counts the page-pool memfd pages the")
	fmt.Fprintln(w, "sentry touched (guest memory); RssAnon is the sentry's own (the 40 MiB target):")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	hdr = []string{"workload"}
	var cols []int
	for i, r := range rep.Runners {
		if strings.HasPrefix(r, "kvsentry-") {
			hdr = append(hdr, r+" VmHWM", "RssAnon")
			cols = append(cols, i)
		}
	}
	fmt.Fprintln(tw, strings.Join(hdr, "\t")+"\t")
	for _, row := range rep.Rows {
		f := []string{row.Workload}
		any := false
		for _, i := range cols {
			c := row.Cells[i]
			if c.VmHWMKiB == 0 {
				f = append(f, "-", "-")
				continue
			}
			any = true
			f = append(f, fmt.Sprintf("%.1f", float64(c.VmHWMKiB)/1024), fmt.Sprintf("%.1f", float64(c.RssAnonKiB)/1024))
		}
		if any {
			fmt.Fprintln(tw, strings.Join(f, "\t")+"\t")
		}
	}
	tw.Flush()

	fmt.Fprintln(w, "\ntargets (issue 8):")
	for _, t := range rep.Targets {
		fmt.Fprintln(w, "  "+t)
	}
	if len(errs)+len(rep.Notes) > 0 {
		fmt.Fprintln(w)
	}
	for _, e := range errs {
		fmt.Fprintln(w, "note:", e)
	}
	for _, n := range rep.Notes {
		fmt.Fprintln(w, "note:", n)
	}
}

// formatValue prints a figure with about 3-4 significant digits.
func formatValue(v float64) string {
	switch a := max(v, -v); {
	case a >= 1000:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}
