package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"kvsentry/platform"
	"kvsentry/sentry"
	"kvsentry/vfs"
)

// Exit statuses of "kvsentry run" for failures that are not the guest's, as
// docker run uses them (and as sh(1) does for 126/127).
const (
	exitKvsentry      = 125 // kvsentry itself failed: bad flags, missing rootfs ...
	exitNotExecutable = 126 // PROG exists but cannot be executed
	exitNotFound      = 127 // PROG was not found in the guest
)

const runUsage = `Usage: kvsentry run [flags] [--] PROG [ARGS...]

Run PROG with ARGS inside the root filesystem DIR, under the sentry.
Flags stop at the first argument that is not a flag ("--" is optional).

Flags:
  --rootfs DIR       root filesystem of the guest (required)
  --platform NAME    platform running guest code (default ptrace)
  --strace           print every guest system call on stderr
  --debug-log FILE   write kvsentry's debug log to FILE
  -e K=V             set guest environment variable K (repeatable);
                     -e K copies K from the host environment
  -w DIR             working directory of PROG (default /)
  --overlay MODE     where writes to the rootfs go: memory (default; lost
                     at exit), DIR (kept in host directory DIR for later
                     runs), none (written into the rootfs itself)
  --mount HOST:GUEST[:ro]
                     bind-mount host directory HOST at GUEST (repeatable)

Exit status: PROG's status (128+N if killed by signal N); 125 if kvsentry
itself failed, 126 if PROG cannot be executed, 127 if it was not found.
`

// runOptions is the parsed command line of "kvsentry run".
type runOptions struct {
	Rootfs   string
	Platform string
	Strace   bool
	DebugLog string
	Env      []string
	Cwd      string
	Argv     []string
	Net      networkOptions
	Overlay  string
	Mounts   []vfs.BindMount
	TTY      ttyOptions // -t, -i (run_tty.go)
}

// mountFlag collects repeated --mount HOST:GUEST[:ro] flags.
type mountFlag struct{ mounts *[]vfs.BindMount }

// String implements flag.Value.
func (m mountFlag) String() string {
	if m.mounts == nil {
		return ""
	}
	var s []string
	for _, b := range *m.mounts {
		s = append(s, b.Source+":"+b.Target)
	}
	return strings.Join(s, ",")
}

// Set implements flag.Value: HOST and GUEST are absolute, GUEST is not "/".
func (m mountFlag) Set(s string) error {
	parts := strings.Split(s, ":")
	b := vfs.BindMount{}
	switch {
	case len(parts) == 3 && (parts[2] == "ro" || parts[2] == "rw"):
		b.ReadOnly = parts[2] == "ro"
	case len(parts) != 2:
		return fmt.Errorf("--mount %q: want HOST:GUEST[:ro]", s)
	}
	b.Source, b.Target = parts[0], filepath.Clean(parts[1])
	if b.Source == "" || !strings.HasPrefix(parts[1], "/") || b.Target == "/" {
		return fmt.Errorf("--mount %q: HOST must be given and GUEST must be an absolute path other than /", s)
	}
	abs, err := filepath.Abs(b.Source)
	if err != nil {
		return fmt.Errorf("--mount %q: %w", s, err)
	}
	b.Source = abs
	*m.mounts = append(*m.mounts, b)
	return nil
}

// envFlag collects repeated -e flags; -e K takes K's value from lookup.
type envFlag struct {
	env    *[]string
	lookup func(string) (string, bool)
}

// String implements flag.Value.
func (e envFlag) String() string {
	if e.env == nil {
		return ""
	}
	return strings.Join(*e.env, ",")
}

// Set implements flag.Value: a later value for the same K replaces the earlier.
func (e envFlag) Set(s string) error {
	k, v, hasValue := strings.Cut(s, "=")
	if k == "" || strings.ContainsRune(k, 0) || strings.ContainsRune(v, 0) {
		return fmt.Errorf("invalid environment variable %q", s)
	}
	if !hasValue {
		hv, ok := e.lookup(k)
		if !ok {
			return nil // like docker run: an unset host variable is left out
		}
		v = hv
	}
	kv := k + "=" + v
	for i, old := range *e.env {
		if strings.HasPrefix(old, k+"=") {
			(*e.env)[i] = kv
			return nil
		}
	}
	*e.env = append(*e.env, kv)
	return nil
}

// parseRunArgs parses the arguments of "kvsentry run"; lookupEnv reads the
// host environment for "-e K". It returns flag.ErrHelp for -h/--help.
func parseRunArgs(args []string, lookupEnv func(string) (string, bool)) (*runOptions, error) {
	o := &runOptions{}
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.Rootfs, "rootfs", "", "")
	fs.StringVar(&o.Platform, "platform", "ptrace", "")
	fs.BoolVar(&o.Strace, "strace", false, "")
	fs.StringVar(&o.DebugLog, "debug-log", "", "")
	fs.Var(envFlag{env: &o.Env, lookup: lookupEnv}, "e", "")
	fs.StringVar(&o.Cwd, "w", "/", "")
	addNetworkFlags(fs, &o.Net)
	fs.StringVar(&o.Overlay, "overlay", "memory", "")
	fs.Var(mountFlag{mounts: &o.Mounts}, "mount", "")
	addTTYFlags(fs, &o.TTY)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	o.Argv = fs.Args()
	switch {
	case o.Rootfs == "":
		return nil, errors.New("--rootfs DIR is required")
	case len(o.Argv) == 0:
		return nil, errors.New("missing PROG to run")
	case o.Argv[0] == "":
		return nil, errors.New("PROG is empty")
	case !strings.HasPrefix(o.Cwd, "/"):
		return nil, fmt.Errorf("-w %s: the working directory must be an absolute path", o.Cwd)
	case o.Platform == "":
		return nil, errors.New("--platform NAME is empty")
	case o.Overlay == "":
		return nil, errors.New("--overlay MODE is empty (memory, none or a directory)")
	}
	if o.Overlay != "memory" && o.Overlay != "none" {
		abs, err := filepath.Abs(o.Overlay)
		if err != nil {
			return nil, fmt.Errorf("--overlay %s: %w", o.Overlay, err)
		}
		o.Overlay = abs
	}
	return o, nil
}

// runMain is "kvsentry run": it parses args, checks the rootfs and platform,
// sets up logging, runs the sandbox and returns the exit status.
func runMain(args []string, stdout, stderr io.Writer) int {
	o, err := parseRunArgs(args, os.LookupEnv)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, runUsage+"\nNetwork flags:\n"+networkUsage+"\nTerminal flags:\n"+ttyUsage)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "kvsentry: run: %v\nSee 'kvsentry help run'.\n", err)
		return exitKvsentry
	}
	if err := checkRootfs(o); err != nil {
		fmt.Fprintf(stderr, "kvsentry: %v\n", err)
		return exitKvsentry
	}
	if err := checkMounts(o); err != nil {
		fmt.Fprintf(stderr, "kvsentry: %v\n", err)
		return exitKvsentry
	}
	if names := platform.Names(); !slices.Contains(names, o.Platform) {
		fmt.Fprintf(stderr, "kvsentry: unknown platform %q (available: %s)\n", o.Platform, strings.Join(names, ", "))
		return exitKvsentry
	}
	closeLog, err := setupLogging(o.DebugLog, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "kvsentry: %v\n", err)
		return exitKvsentry
	}
	defer closeLog()
	logrus.WithFields(logrus.Fields{"version": version, "rootfs": o.Rootfs, "platform": o.Platform,
		"argv": o.Argv, "cwd": o.Cwd}).Debug("kvsentry run")

	status, err := runSentry(o.TTY, sentry.Config{
		RootfsDir: o.Rootfs,
		Platform:  o.Platform,
		Argv:      o.Argv,
		Env:       o.Env,
		Cwd:       o.Cwd,
		Strace:    o.Strace,
		StraceOut: os.Stderr,
		Stdin:     os.Stdin,
		Stdout:    os.Stdout,
		Stderr:    os.Stderr,
		Network:   o.Net.Mode,
		DNS:       o.Net.DNS,
		Hostname:  o.Net.Hostname,
		Overlay:   o.Overlay,
		Mounts:    o.Mounts,
	})
	code, msg := exitStatus(o.Argv[0], status, err)
	if msg != "" {
		fmt.Fprintln(stderr, msg)
	}
	if err != nil {
		logrus.WithError(err).Debugf("kvsentry run: failed, exit status %d", code)
	} else {
		logrus.Debugf("kvsentry run: guest status %d", status)
	}
	return code
}

// checkRootfs makes o.Rootfs absolute and checks that it is a directory.
func checkRootfs(o *runOptions) error {
	abs, err := filepath.Abs(o.Rootfs)
	if err != nil {
		return fmt.Errorf("rootfs %s: %w", o.Rootfs, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return fmt.Errorf("rootfs %s: %w", o.Rootfs, errors.Unwrap(err))
	}
	if !fi.IsDir() {
		return fmt.Errorf("rootfs %s: not a directory", o.Rootfs)
	}
	o.Rootfs = abs
	return nil
}

// checkMounts checks that every --mount source is a directory and that an
// --overlay DIR is not inside the rootfs (the rootfs must stay unmodified).
func checkMounts(o *runOptions) error {
	for _, b := range o.Mounts {
		fi, err := os.Stat(b.Source)
		if err != nil {
			return fmt.Errorf("--mount %s: %w", b.Source, errors.Unwrap(err))
		}
		if !fi.IsDir() {
			return fmt.Errorf("--mount %s: not a directory", b.Source)
		}
	}
	if o.Overlay != "memory" && o.Overlay != "none" {
		if rel, err := filepath.Rel(o.Rootfs, o.Overlay); err == nil && !strings.HasPrefix(rel, "..") {
			return fmt.Errorf("--overlay %s: inside the rootfs %s", o.Overlay, o.Rootfs)
		}
	}
	return nil
}

// exitStatus maps the result of sentry.Run to kvsentry's exit status and the
// message to print on stderr ("" for none).
func exitStatus(prog string, status int, err error) (int, string) {
	var ee *sentry.ExecError
	switch {
	case errors.As(err, &ee):
		if ee.Path != "" {
			prog = ee.Path
		}
		if ee.Errno == unix.ENOENT {
			return exitNotFound, fmt.Sprintf("kvsentry: %s: not found", prog)
		}
		return exitNotExecutable, fmt.Sprintf("kvsentry: %s: %s", prog, ee.Errno.Error())
	case err != nil:
		return exitKvsentry, fmt.Sprintf("kvsentry: %v", err)
	case status < 0 || status > 255:
		return exitKvsentry, fmt.Sprintf("kvsentry: guest exit status %d out of range", status)
	}
	return status, ""
}

// setupLogging sends logrus at debug level to the file debugLog, or at warn
// level to stderr when debugLog is "". The returned function closes the file.
func setupLogging(debugLog string, stderr io.Writer) (func(), error) {
	if debugLog == "" {
		logrus.SetOutput(stderr)
		logrus.SetLevel(logrus.WarnLevel)
		return func() {}, nil
	}
	f, err := os.OpenFile(debugLog, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("--debug-log: %w", err)
	}
	logrus.SetOutput(f)
	logrus.SetLevel(logrus.DebugLevel)
	logrus.SetFormatter(&logrus.TextFormatter{DisableColors: true, FullTimestamp: true})
	return func() { _ = f.Close() }, nil
}
