package tty

import (
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// sigRecorder is a Signaler that records what it is asked to send.
type sigRecorder struct {
	mu       sync.Mutex
	sent     []unix.Signal
	hungUp   []int32
	lastPGID int32
}

func (s *sigRecorder) SignalGroup(pgid int32, sig unix.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, sig)
	s.lastPGID = pgid
}

func (s *sigRecorder) HangUp(sid int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hungUp = append(s.hungUp, sid)
}

// newPair returns an unlocked pair with one open replica and a recorder.
func newPair(t *testing.T) (*PTY, *Replica, *sigRecorder) {
	t.Helper()
	s := &sigRecorder{}
	p := New(Options{Index: 3, Signaler: s})
	r, err := p.OpenReplica(nil)
	if err != nil {
		t.Fatal(err)
	}
	p.SetSession(7, 7)
	return p, r, s
}

// typeIn writes keys to the master.
func typeIn(t *testing.T, p *PTY, keys string) {
	t.Helper()
	if n, err := p.Master().Write([]byte(keys), true, nil); err != nil || n != len(keys) {
		t.Fatalf("master write %q: %d, %v", keys, n, err)
	}
}

// screen drains what the master would show.
func screen(p *PTY) string {
	buf := make([]byte, 65536)
	n, _ := p.Master().Read(buf, true, nil)
	return string(buf[:max(n, 0)])
}

// readNB reads the replica without blocking.
func readNB(r *Replica) (string, error) {
	buf := make([]byte, 256)
	n, err := r.Read(buf, true, nil)
	return string(buf[:max(n, 0)]), err
}

func TestCanonicalEditingAndEcho(t *testing.T) {
	p, r, _ := newPair(t)
	typeIn(t, p, "helo\x7flo wor\x17world\r")
	if got, err := readNB(r); got != "hello world\n" || err != nil {
		t.Errorf("line = %q, %v; want \"hello world\\n\"", got, err)
	}
	if got, want := screen(p), "helo\b \blo wor\b \b\b \b\b \bworld\r\n"; got != want {
		t.Errorf("echo = %q, want %q", got, want)
	}
	// No line yet: EAGAIN; VKILL empties the line; VEOF gives the line
	// without a newline, then an empty read (end of file).
	typeIn(t, p, "junk\x15ab")
	if _, err := readNB(r); err != unix.EAGAIN {
		t.Errorf("partial line read: %v, want EAGAIN", err)
	}
	typeIn(t, p, "\x04\x04")
	if got, _ := readNB(r); got != "ab" {
		t.Errorf("VEOF line = %q", got)
	}
	if got, err := readNB(r); got != "" || err != nil {
		t.Errorf("VEOF on empty line = %q, %v; want end of file", got, err)
	}
	// A control character echoes as ^X under ECHOCTL.
	screen(p)
	typeIn(t, p, "\x01\n")
	if got := screen(p); got != "^A\r\n" {
		t.Errorf("ECHOCTL echo = %q", got)
	}
}

func TestSignalKeys(t *testing.T) {
	p, r, s := newPair(t)
	typeIn(t, p, "abc\x03")
	typeIn(t, p, "\x1c\x1a")
	if len(s.sent) != 3 || s.sent[0] != unix.SIGINT || s.sent[1] != unix.SIGQUIT || s.sent[2] != unix.SIGTSTP || s.lastPGID != 7 {
		t.Errorf("signals %v to %d, want INT QUIT TSTP to 7", s.sent, s.lastPGID)
	}
	if got := screen(p); got != "^Z" { // each key flushes the output first
		t.Errorf("echo after flush = %q", got)
	}
	typeIn(t, p, "\n")
	if got, _ := readNB(r); got != "\n" {
		t.Errorf("input after VINTR = %q, want the flushed line gone", got)
	}
	// Without ISIG, ^C is data.
	tm := p.Termios()
	tm.Lflag &^= unix.ISIG | unix.ICANON
	p.SetTermios(tm, false)
	typeIn(t, p, "\x03")
	if got, _ := readNB(r); got != "\x03" || len(s.sent) != 3 {
		t.Errorf("raw ^C = %q, signals %v", got, s.sent)
	}
}

func TestOutputProcessing(t *testing.T) {
	p, r, _ := newPair(t)
	r.Write([]byte("a\nb\r\n"), true, nil)
	if got := screen(p); got != "a\r\nb\r\r\n" {
		t.Errorf("ONLCR output = %q", got)
	}
	tm := p.Termios()
	tm.Oflag &^= unix.OPOST
	p.SetTermios(tm, false)
	r.Write([]byte("a\n"), true, nil)
	if got := screen(p); got != "a\n" {
		t.Errorf("raw output = %q", got)
	}
	// ICRNL off: CR stays CR, and a raw read sees it.
	tm.Iflag &^= unix.ICRNL
	tm.Lflag &^= unix.ICANON | unix.ECHO
	p.SetTermios(tm, false)
	typeIn(t, p, "x\r")
	if got, _ := readNB(r); got != "x\r" {
		t.Errorf("no ICRNL = %q", got)
	}
}

func TestVMinVTime(t *testing.T) {
	p, r, _ := newPair(t)
	tm := p.Termios()
	tm.Lflag &^= unix.ICANON | unix.ECHO
	tm.CC[unix.VMIN], tm.CC[unix.VTIME] = 0, 0
	p.SetTermios(tm, false)
	buf := make([]byte, 10)
	// VMIN 0, VTIME 0: a poll, 0 at once even when blocking.
	if n, err := r.Read(buf, false, nil); n != 0 || err != nil {
		t.Errorf("MIN 0 TIME 0 = %d, %v", n, err)
	}
	// VMIN 0, VTIME 1: waits 0.1 s, then 0.
	tm.CC[unix.VTIME] = 1
	p.SetTermios(tm, false)
	start := time.Now()
	if n, err := r.Read(buf, false, nil); n != 0 || err != nil || time.Since(start) < 90*time.Millisecond {
		t.Errorf("MIN 0 TIME 1 = %d, %v after %v", n, err, time.Since(start))
	}
	// VMIN 3, VTIME 0: waits for three bytes.
	tm.CC[unix.VMIN], tm.CC[unix.VTIME] = 3, 0
	p.SetTermios(tm, false)
	done := make(chan int)
	go func() {
		n, _ := r.Read(buf, false, nil)
		done <- n
	}()
	typeIn(t, p, "ab")
	select {
	case n := <-done:
		t.Fatalf("MIN 3 returned %d after two bytes", n)
	case <-time.After(50 * time.Millisecond):
	}
	typeIn(t, p, "c")
	if n := <-done; n != 3 || string(buf[:3]) != "abc" {
		t.Errorf("MIN 3 = %d %q", n, buf[:n])
	}
	// VMIN 5, VTIME 1: the inter-byte timer ends the read after "xy".
	tm.CC[unix.VMIN], tm.CC[unix.VTIME] = 5, 1
	p.SetTermios(tm, false)
	typeIn(t, p, "xy")
	if n, _ := r.Read(buf, false, nil); n != 2 {
		t.Errorf("MIN 5 TIME 1 = %d, want 2 after the timer", n)
	}
	// A cancelled blocking read is EINTR.
	tm.CC[unix.VMIN], tm.CC[unix.VTIME] = 1, 0
	p.SetTermios(tm, false)
	cancel := make(chan struct{})
	close(cancel)
	if _, err := r.Read(buf, false, cancel); err != unix.EINTR {
		t.Errorf("cancelled read: %v, want EINTR", err)
	}
}

func TestWinsizeAndHangup(t *testing.T) {
	p, r, s := newPair(t)
	p.SetWinsize(Winsize{Row: 24, Col: 80})
	p.SetWinsize(Winsize{Row: 24, Col: 80})
	if len(s.sent) != 1 || s.sent[0] != unix.SIGWINCH {
		t.Errorf("resize signals %v, want one SIGWINCH", s.sent)
	}
	if w := UnmarshalWinsize(p.Winsize().Marshal()); w.Row != 24 || w.Col != 80 {
		t.Errorf("winsize round trip %+v", w)
	}
	tm := DefaultTermios()
	if got := UnmarshalTermios(tm.Marshal()); got != tm {
		t.Errorf("termios round trip %+v", got)
	}
	// Closing the replica: the master reads EIO once the output is drained.
	r.Write([]byte("bye"), true, nil)
	r.Release()
	if got := screen(p); got != "bye" {
		t.Errorf("drain = %q", got)
	}
	if _, err := p.Master().Read(make([]byte, 8), true, nil); err != unix.EIO {
		t.Errorf("master read with no replica: %v, want EIO", err)
	}
	// Closing the master hangs the replica up: SIGHUP to session 7.
	r2, _ := p.OpenReplica(nil)
	p.Master().Release()
	if len(s.hungUp) != 1 || s.hungUp[0] != 7 {
		t.Errorf("hang-up sessions %v", s.hungUp)
	}
	if _, err := r2.Write([]byte("x"), true, nil); err != unix.EIO {
		t.Errorf("write after hang-up: %v, want EIO", err)
	}
	if got, err := readNB(r2); got != "" || err != nil {
		t.Errorf("read after hang-up: %q, %v; want end of file", got, err)
	}
	if _, err := p.OpenReplica(nil); err != unix.EIO {
		t.Errorf("open after hang-up: %v", err)
	}
}
