package main

import (
	"flag"
	"io"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"kvsentry/sentry"
	"kvsentry/vfs/tty"
)

// ttyUsage documents the terminal flags of "kvsentry run".
//
// As with docker run, -t gives the guest a terminal of its own (a sandbox
// pseudo-terminal whose master end kvsentry pumps to and from its own
// stdio, the host terminal going into raw mode for the run) and -i sends
// kvsentry's stdin to the guest: -t alone gives a terminal that receives no
// input. Without -t the guest's stdio are kvsentry's own files, stdin
// included, as runc passes them (docker run without -i would give
// /dev/null instead; kvsentry keeps stdin open so that pipelines work).
const ttyUsage = `  -t, --tty          give the guest a terminal (a pseudo-terminal; the host
                     terminal is in raw mode for the run and restored after)
  -i, --interactive  send stdin to the guest's terminal (with -t); -it, -ti
                     set both. Without -t, stdin is passed through as is
`

// ttyOptions are the terminal flags of "kvsentry run".
type ttyOptions struct {
	TTY         bool
	Interactive bool
}

// bothFlag is -it / -ti: a boolean flag that sets -t and -i.
type bothFlag struct{ o *ttyOptions }

// String implements flag.Value.
func (b bothFlag) String() string { return "false" }

// IsBoolFlag makes -it a flag without a value.
func (b bothFlag) IsBoolFlag() bool { return true }

// Set implements flag.Value.
func (b bothFlag) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	b.o.TTY, b.o.Interactive = v, v
	return nil
}

// addTTYFlags registers -t, -i and their combinations on fs.
func addTTYFlags(fs *flag.FlagSet, o *ttyOptions) {
	fs.BoolVar(&o.TTY, "t", false, "")
	fs.BoolVar(&o.TTY, "tty", false, "")
	fs.BoolVar(&o.Interactive, "i", false, "")
	fs.BoolVar(&o.Interactive, "interactive", false, "")
	fs.Var(bothFlag{o}, "it", "")
	fs.Var(bothFlag{o}, "ti", "")
}

// runSentry runs the sandbox with the terminal options: with -t it drives
// the guest's console from kvsentry's stdio, the host terminal in raw mode
// until the run ends (also on errors and on SIGTERM/SIGHUP).
func runSentry(o ttyOptions, cfg sentry.Config) (int, error) {
	cfg.TTY = o.TTY
	cfg.Interactive = o.Interactive || !o.TTY
	if !o.TTY {
		return sentry.Run(cfg)
	}
	c := &console{in: cfg.Stdin, out: cfg.Stdout, interactive: o.Interactive, stop: make(chan struct{}), outDone: make(chan struct{})}
	restore := c.rawMode()
	defer restore()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGHUP)
	defer signal.Stop(sigs)
	go func() {
		s, ok := <-sigs
		if !ok {
			return
		}
		restore()
		os.Exit(128 + int(s.(syscall.Signal)))
	}()
	cfg.OnConsole = c.start
	status, err := sentry.Run(cfg)
	c.finish()
	return status, err
}

// console pumps a sandbox pseudo-terminal's master end to and from the
// host's stdio and forwards window-size changes.
type console struct {
	in, out     *os.File
	interactive bool
	pty         *tty.PTY
	stop        chan struct{} // closed when the run is over
	outDone     chan struct{} // closed when the output pump has ended
	started     bool
}

// termFD is the host terminal among stdin and stdout, -1 if neither is one.
func (c *console) termFD() int {
	for _, f := range []*os.File{c.in, c.out} {
		if f != nil && term.IsTerminal(int(f.Fd())) {
			return int(f.Fd())
		}
	}
	return -1
}

// rawMode puts the host terminal (stdin) into raw mode; the returned
// function restores its previous mode (once, however often called).
func (c *console) rawMode() func() {
	if c.in == nil || !term.IsTerminal(int(c.in.Fd())) {
		return func() {}
	}
	fd := int(c.in.Fd())
	old, err := term.MakeRaw(fd)
	if err != nil {
		logrus.Warnf("terminal raw mode: %v", err)
		return func() {}
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			if err := term.Restore(fd, old); err != nil {
				logrus.Warnf("terminal restore: %v", err)
			}
		})
	}
}

// start is Config.OnConsole: it sets the window size from the host and
// starts the pumps.
func (c *console) start(p *tty.PTY) {
	c.pty, c.started = p, true
	c.resize()
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, unix.SIGWINCH)
	go func() {
		defer signal.Stop(winch)
		for {
			select {
			case <-winch:
				c.resize()
			case <-c.stop:
				return
			}
		}
	}()
	go c.pumpOut()
	if c.interactive && c.in != nil {
		go c.pumpIn()
	}
}

// resize copies the host terminal's window size to the guest's
// (TIOCSWINSZ on the master: SIGWINCH to the foreground group).
func (c *console) resize() {
	fd := c.termFD()
	if fd < 0 {
		return
	}
	ws, err := unix.IoctlGetWinsize(fd, unix.TIOCGWINSZ)
	if err != nil {
		return
	}
	c.pty.SetWinsize(tty.Winsize{Row: ws.Row, Col: ws.Col, Xpixel: ws.Xpixel, Ypixel: ws.Ypixel})
}

// pumpOut copies the guest's terminal output to stdout until every
// replica has closed or the run is over.
func (c *console) pumpOut() {
	defer close(c.outDone)
	buf := make([]byte, 32*1024)
	m := c.pty.Master()
	for {
		n, err := m.Read(buf, false, c.stop)
		if n > 0 {
			if _, werr := c.out.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// pumpIn copies stdin to the guest's terminal as keyboard input.
func (c *console) pumpIn() {
	buf := make([]byte, 4096)
	m := c.pty.Master()
	for {
		n, err := c.in.Read(buf)
		for done := 0; done < n; {
			w, werr := m.Write(buf[done:n], false, c.stop)
			if werr != nil {
				return
			}
			done += w
		}
		if err != nil {
			if err != io.EOF {
				logrus.Debugf("terminal input: %v", err)
			}
			return
		}
	}
}

// finish ends the pumps once the run is over, writing out what the guest
// left in the terminal.
func (c *console) finish() {
	close(c.stop)
	if !c.started {
		return
	}
	<-c.outDone
	buf := make([]byte, 32*1024)
	for {
		n, err := c.pty.Master().Read(buf, true, nil)
		if n > 0 {
			c.out.Write(buf[:n])
		}
		if err != nil || n == 0 {
			break
		}
	}
	c.pty.Master().Release()
}
