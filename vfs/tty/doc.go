// Package tty is kvsentry's terminal layer: pseudo-terminal pairs
// (drivers/tty/pty.c) whose replica side runs the N_TTY line discipline
// (drivers/tty/n_tty.c): canonical line editing (VERASE, VKILL, VWERASE,
// VEOF, VREPRINT, VLNEXT), echo (ECHO, ECHOE, ECHOK, ECHOKE, ECHOCTL,
// ECHONL), input mapping (ICRNL, INLCR, IGNCR, ISTRIP), output processing
// (OPOST, ONLCR, OCRNL, ONOCR, ONLRET, XTABS), signal keys (VINTR, VQUIT,
// VSUSP with ISIG, NOFLSH), flow control (IXON, IXANY) and the VMIN/VTIME
// rules of non-canonical reads.
//
// Both ends are vfs.FileImpls. What depends on processes (the caller's
// session and process group, SIGTTIN/SIGTTOU, TIOCSCTTY) is decided in the
// sentry, which reaches the terminal's state through the PTY methods; the
// terminal sends signals back through the Signaler the sentry provides.
//
// Lock order: PTY.mu is a leaf. It is never held while calling the
// Signaler or a release callback, so the sentry may call PTY methods with
// its own locks (Kernel.mu) held.
package tty
