package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/sirupsen/logrus"

	"kvsentry/rootfs"
)

const rootfsUsage = `Usage: kvsentry rootfs prepare DIR [--tarball FILE]

Extract the Alpine minirootfs ` + rootfs.AlpineTarball + ` into DIR, which
must be empty or absent. The tarball is read from FILE, or downloaded from
` + rootfs.AlpineURL + `
when --tarball is not given; either way its sha512 must match the one built
into kvsentry, or nothing is extracted.
`

// prepareArgs is the parsed command line of "kvsentry rootfs prepare".
type prepareArgs struct {
	Dir     string
	Tarball string
}

// parsePrepareArgs parses "DIR [--tarball FILE]"; flags may come before or
// after DIR, "--tarball=FILE" works too. It returns errHelp for -h/--help.
func parsePrepareArgs(args []string) (*prepareArgs, error) {
	p := &prepareArgs{}
	var dirs []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-h" || a == "--help" || a == "-help":
			return nil, errHelp
		case a == "--tarball" || a == "-tarball":
			if i+1 >= len(args) {
				return nil, errors.New("--tarball needs a FILE")
			}
			i++
			if p.Tarball = args[i]; p.Tarball == "" {
				return nil, errors.New("--tarball needs a FILE")
			}
		case strings.HasPrefix(a, "--tarball=") || strings.HasPrefix(a, "-tarball="):
			if _, p.Tarball, _ = strings.Cut(a, "="); p.Tarball == "" {
				return nil, errors.New("--tarball needs a FILE")
			}
		case a == "--":
			dirs = append(dirs, args[i+1:]...)
			i = len(args)
		case strings.HasPrefix(a, "-") && a != "-":
			return nil, fmt.Errorf("unknown flag %s", a)
		default:
			dirs = append(dirs, a)
		}
	}
	if len(dirs) != 1 || dirs[0] == "" {
		return nil, errors.New("want exactly one DIR")
	}
	p.Dir = dirs[0]
	return p, nil
}

// errHelp asks for the usage text.
var errHelp = errors.New("help requested")

// rootfsMain is "kvsentry rootfs SUBVERB ...". Failures exit 1.
func rootfsMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, rootfsUsage)
		return exitUsage
	}
	switch args[0] {
	case "prepare":
	case "-h", "--help", "help":
		fmt.Fprint(stdout, rootfsUsage)
		return 0
	default:
		fmt.Fprintf(stderr, "kvsentry: rootfs: unknown command %q\nSee 'kvsentry help rootfs'.\n", args[0])
		return exitUsage
	}
	p, err := parsePrepareArgs(args[1:])
	if errors.Is(err, errHelp) {
		fmt.Fprint(stdout, rootfsUsage)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "kvsentry: rootfs prepare: %v\nSee 'kvsentry help rootfs'.\n", err)
		return exitUsage
	}
	logrus.SetOutput(stderr)
	logrus.SetLevel(logrus.WarnLevel)
	if err := rootfs.Prepare(p.Dir, p.Tarball, stderr); err != nil {
		fmt.Fprintf(stderr, "kvsentry: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "prepared Alpine %s rootfs in %s\n", strings.TrimSuffix(
		strings.TrimPrefix(rootfs.AlpineTarball, "alpine-minirootfs-"), "-x86_64.tar.gz"), p.Dir)
	return 0
}
