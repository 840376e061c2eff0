package syscalls

import (
	"testing"

	"kvsentry/test/internal/harness"
)

// TestPTY compares pty.c: a program making its own pseudo-terminal with
// /dev/ptmx, grantpt, unlockpt and ptsname, checking termios defaults,
// echo, canonical editing, ICRNL/ONLCR, VEOF, VMIN, and a child on the
// replica (setsid + TIOCSCTTY) that talks through it and gets SIGINT from
// the VINTR key.
func TestPTY(t *testing.T) {
	harness.RequireRoot(t)
	prog := harness.BuildAndInstallC(t, "pty.c", "pty", true)
	differential(t, []string{prog}, 0,
		"open before unlockpt: -1 EIO\n", "ttyname matches ptsname: 1\n",
		"replica: chr=1 major=136\n", "winsize set on master, read on replica: 30x100\n",
		`master read: "out\r\n"`, `canonical read 1: "ac\n"`, "VEOF on empty line: read=0\n",
		"child: sctty=0 fg-is-me=1 sid-is-me=1 /dev/tty=1", "after VINTR: echo ^C=1 child got SIGINT=1\n",
		"child exit: 7\n", "master read after the replica closed: -1 EIO\n")
}
