package syscalls

import (
	"testing"

	"kvsentry/test/internal/harness"
)

// TestInotify compares inotify.c: argument errors, create/open/modify/
// access/attrib/close events on a directory and a file watch, coalescing,
// link and unlink, renames with matching cookies and MOVE_SELF, the
// DELETE_SELF of an unlinked open file at its close, directory events with
// ISDIR, IN_ONESHOT, IN_MASK_ADD, IN_MASK_CREATE, rm_watch, IN_EXCL_UNLINK,
// FIONREAD, poll, EAGAIN and EINVAL for a too-small buffer.
func TestInotify(t *testing.T) {
	harness.RequireRoot(t)
	prog := harness.BuildAndInstallC(t, "inotify.c", "inotify", true)
	differential(t, []string{prog}, 0,
		"add_watch unknown bit: -1 EINVAL\n", "add_watch MASK_ADD|MASK_CREATE: -1 EINVAL\n",
		"read empty non-blocking: -1 EAGAIN\n", "read 31-byte buffer: -1 EINVAL\n",
		"poll after events: 1 revents=0x1\n",
		"  D MODIFY name=f len=16 pad_ok=1\n  D CLOSE_WRITE name=f",
		"  D MOVED_TO name=h len=16 pad_ok=1 cookie_matches=1\n  G ATTRIB\n  F MOVE_SELF\n  G DELETE_SELF\n  G IGNORED\n",
		"  F CLOSE_WRITE\n  F DELETE_SELF\n  F IGNORED\n",
		"  D CREATE|ISDIR name=o1 len=16 pad_ok=1\n  D IGNORED\n",
		"== rm_watch (FIONREAD 16)\n  I IGNORED\n", "== IN_EXCL_UNLINK (FIONREAD 32)\n  J OPEN name=e")
}
