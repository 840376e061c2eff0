// Command kvsentry runs unmodified Linux x86-64 programs (an Alpine userland
// first of all) in a sandbox whose kernel is a Go process, the sentry: every
// guest system call is stopped by a platform (ptrace) and carried out by the
// sentry against its own memory manager, VFS and processes.
//
// Verbs: run, rootfs prepare, syscalls, help, version. The command-line
// contract follows docker run: kvsentry's own failures exit 125, a program
// that cannot be found 127, one that cannot be executed 126; otherwise the
// exit status is the guest's (128+N when it was killed by signal N).
package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
)

// version is kvsentry's version; release builds set it with
// -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// exitUsage is the status for a command line kvsentry cannot make sense of
// outside of "run" (which uses 125, like docker run).
const exitUsage = 2

const usage = `kvsentry - run Linux x86-64 programs under a Go sandbox kernel

Usage:
  kvsentry run [flags] [--] PROG [ARGS...]    run PROG inside a root filesystem
  kvsentry rootfs prepare DIR [--tarball FILE] extract the Alpine minirootfs into DIR
  kvsentry syscalls                            print the syscall table
  kvsentry version                             print the version
  kvsentry help [VERB]                         print help

Environment:
  KVSENTRY_CPUPROFILE=FILE   write a pprof CPU profile of kvsentry to FILE

Run 'kvsentry help run' for the flags of run.
`

func main() {
	os.Exit(mainStatus(os.Args[1:]))
}

// mainStatus runs kvsentry with args and returns its exit status. It exists so
// that deferred work (the CPU profile) finishes before os.Exit.
func mainStatus(args []string) int {
	stop, err := startCPUProfile(os.Getenv("KVSENTRY_CPUPROFILE"))
	if err != nil {
		fmt.Fprintf(os.Stderr, "kvsentry: %v\n", err)
		return 125
	}
	defer stop()
	return dispatch(args, os.Stdout, os.Stderr)
}

// dispatch runs the verb args[0].
func dispatch(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch verb, rest := args[0], args[1:]; verb {
	case "run":
		return runMain(rest, stdout, stderr)
	case "rootfs":
		return rootfsMain(rest, stdout, stderr)
	case "syscalls":
		return syscallsMain(rest, stdout, stderr)
	case "platforms": // platforms_cmd.go
		return platformsMain(rest, stdout, stderr)
	case "version", "--version":
		fmt.Fprintf(stdout, "kvsentry version %s (%s, %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return 0
	case "help", "-h", "-help", "--help":
		return helpMain(rest, stdout, stderr)
	default:
		fmt.Fprintf(stderr, "kvsentry: unknown command %q\nRun 'kvsentry help' for usage.\n", verb)
		return exitUsage
	}
}

// helpMain prints the general help or that of one verb.
func helpMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stdout, usage)
		return 0
	}
	switch args[0] {
	case "run":
		fmt.Fprint(stdout, runUsage)
	case "rootfs":
		fmt.Fprint(stdout, rootfsUsage)
	case "syscalls":
		fmt.Fprint(stdout, syscallsUsage)
	default:
		fmt.Fprintf(stderr, "kvsentry: no help for %q\n", args[0])
		return exitUsage
	}
	return 0
}

// startCPUProfile starts a pprof CPU profile written to file when file is not
// empty (KVSENTRY_CPUPROFILE); the returned function stops and flushes it.
func startCPUProfile(file string) (stop func(), err error) {
	if file == "" {
		return func() {}, nil
	}
	f, err := os.Create(file)
	if err != nil {
		return nil, fmt.Errorf("KVSENTRY_CPUPROFILE: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("KVSENTRY_CPUPROFILE: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "kvsentry: KVSENTRY_CPUPROFILE: %v\n", err)
		}
	}, nil
}
