package main

import (
	"fmt"
	"io"

	"golang.org/x/sys/unix"

	"kvsentry/platform"
)

const platformsUsage = `Usage: kvsentry platforms

List the platforms kvsentry can run guests on and whether each works on
this machine: each is started on a small throw-away page pool, and the
reason it cannot run (no /dev/kvm, no permission, ptrace forbidden ...)
is printed when it fails. Exit status 0 when at least one works.
`

// probePoolSize is the size of the throw-away pool each platform starts on.
const probePoolSize = 1 << 20

// platformsMain is "kvsentry platforms".
func platformsMain(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		if args[0] == "-h" || args[0] == "--help" {
			fmt.Fprint(stdout, platformsUsage)
			return 0
		}
		fmt.Fprintf(stderr, "kvsentry: platforms takes no arguments\n")
		return exitUsage
	}
	ok := 0
	for _, name := range platform.Names() {
		if err := probePlatform(name); err != nil {
			fmt.Fprintf(stdout, "%-8s unavailable: %v\n", name, err)
			continue
		}
		ok++
		fmt.Fprintf(stdout, "%-8s works\n", name)
	}
	if ok == 0 {
		return 1
	}
	return 0
}

// probePlatform builds platform name on a throw-away memfd pool.
func probePlatform(name string) error {
	fd, err := unix.MemfdCreate("kvsentry-probe", unix.MFD_CLOEXEC)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.Ftruncate(fd, probePoolSize); err != nil {
		return err
	}
	_, err = platform.New(name, platform.Options{PoolFD: fd})
	return err
}
