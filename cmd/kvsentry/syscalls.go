package main

import (
	"fmt"
	"io"
	"strings"

	"kvsentry/sentry"
)

const syscallsUsage = `Usage: kvsentry syscalls

Print the sentry's x86-64 syscall table, one syscall a line:
number, name, support level (supported, partial, unsupported) and a note.
`

// syscallsMain is "kvsentry syscalls": it prints sentry.SyscallTable().
func syscallsMain(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		if args[0] == "-h" || args[0] == "--help" {
			fmt.Fprint(stdout, syscallsUsage)
			return 0
		}
		fmt.Fprintf(stderr, "kvsentry: syscalls takes no arguments\n")
		return exitUsage
	}
	printSyscalls(stdout, sentry.SyscallTable())
	return 0
}

// printSyscalls writes the table in aligned columns: nr, name, support, note.
func printSyscalls(w io.Writer, table []sentry.SyscallInfo) {
	nameW, supW := 0, 0
	for _, s := range table {
		nameW, supW = max(nameW, len(s.Name)), max(supW, len(s.Support))
	}
	for _, s := range table {
		line := fmt.Sprintf("%3d  %-*s  %-*s  %s", s.Nr, nameW, s.Name, supW, s.Support, s.Note)
		fmt.Fprintln(w, strings.TrimRight(line, " "))
	}
}
