package vfs

import (
	"bytes"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestPipe(t *testing.T) {
	r, w := NewPipe()
	if n, err := w.Write([]byte("hello")); n != 5 || err != nil {
		t.Fatal(n, err)
	}
	if n, _ := r.Ioctl(FIONREAD, 0); n != 5 {
		t.Fatalf("FIONREAD %d", n)
	}
	if rd, _ := r.Readiness(); !rd {
		t.Fatal("not readable")
	}
	buf := make([]byte, 10)
	if n, _ := r.Read(buf); string(buf[:n]) != "hello" {
		t.Fatal("read")
	}
	_, err := r.Seek(0, unix.SEEK_SET)
	wantErr(t, "seek", err, unix.ESPIPE)
	_, err = r.Pread(buf, 0)
	wantErr(t, "pread", err, unix.ESPIPE)
	r.SetFlags(unix.O_NONBLOCK)
	_, err = r.Read(buf)
	wantErr(t, "nonblock", err, unix.EAGAIN)
	r.SetFlags(0)
	// A blocked read is woken by a write from another goroutine.
	done := make(chan string)
	go func() {
		n, _ := r.Read(buf)
		done <- string(buf[:n])
	}()
	time.Sleep(20 * time.Millisecond)
	w.Write([]byte("late"))
	select {
	case s := <-done:
		if s != "late" {
			t.Fatalf("woken read %q", s)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("blocked read never woken")
	}
	// Cancellation gives EINTR.
	cancel := make(chan struct{})
	go func() { time.Sleep(10 * time.Millisecond); close(cancel) }()
	_, err = r.ReadCancel(buf, cancel)
	wantErr(t, "cancel", err, unix.EINTR)
	// A full pipe: non-blocking write of more than fits is partial, then EAGAIN.
	w.SetFlags(unix.O_NONBLOCK)
	big := bytes.Repeat([]byte{'x'}, pipeCap+100)
	n, err := w.Write(big)
	if n != pipeCap || err != nil {
		t.Fatalf("big write %d %v", n, err)
	}
	_, err = w.Write([]byte("y"))
	wantErr(t, "full", err, unix.EAGAIN)
	if _, wr := w.Readiness(); wr {
		t.Fatal("full pipe writable")
	}
	got := 0
	for got < pipeCap {
		n, _ := r.Read(make([]byte, 8192))
		got += n
	}
	// EOF once the writer is gone.
	w.DecRef()
	n, err = r.Read(buf)
	if n != 0 || err != nil {
		t.Fatalf("EOF: %d %v", n, err)
	}
	// EPIPE once the reader is gone.
	r2, w2 := NewPipe()
	r2.DecRef()
	_, err = w2.Write([]byte("x"))
	wantErr(t, "epipe", err, unix.EPIPE)
	if w2.Name(nil)[:6] != "pipe:[" {
		t.Fatal(w2.Name(nil))
	}
	st, _ := w2.Stat()
	if st.Mode&unix.S_IFMT != unix.S_IFIFO {
		t.Fatal("pipe mode")
	}
}

func TestPipeAtomicWrites(t *testing.T) {
	r, w := NewPipe()
	w2 := w
	w2.IncRef()
	chunk := bytes.Repeat([]byte{'a'}, pipeBuf)
	other := bytes.Repeat([]byte{'b'}, pipeBuf)
	go func() {
		for i := 0; i < 40; i++ {
			w.Write(chunk)
		}
		w.DecRef()
	}()
	go func() {
		for i := 0; i < 40; i++ {
			w2.Write(other)
		}
		w2.DecRef()
	}()
	var all []byte
	buf := make([]byte, 3000)
	for {
		n, _ := r.Read(buf)
		if n == 0 {
			break
		}
		all = append(all, buf[:n]...)
	}
	if len(all) != 80*pipeBuf {
		t.Fatalf("got %d bytes", len(all))
	}
	for i := 0; i < len(all); i += pipeBuf {
		for _, c := range all[i : i+pipeBuf] {
			if c != all[i] {
				t.Fatalf("write interleaved at block %d", i/pipeBuf)
			}
		}
	}
}

func TestFIFO(t *testing.T) {
	v, c, _ := setup(t, nil)
	wantErr(t, "mkfifo", v.Mknod(c, Path{}, "/tmp/fifo", unix.S_IFIFO|0o644, 0), nil)
	_, err := v.Open(c, Path{}, "/tmp/fifo", unix.O_WRONLY|unix.O_NONBLOCK, 0)
	wantErr(t, "nonblock writer without reader", err, unix.ENXIO)
	got := make(chan string)
	go func() {
		r, err := v.Open(c, Path{}, "/tmp/fifo", unix.O_RDONLY, 0)
		if err != nil {
			got <- err.Error()
			return
		}
		b := make([]byte, 8)
		n, _ := r.Read(b)
		r.DecRef()
		got <- string(b[:n])
	}()
	w, err := v.Open(c, Path{}, "/tmp/fifo", unix.O_WRONLY, 0)
	wantErr(t, "open writer", err, nil)
	w.Write([]byte("fifo"))
	if s := <-got; s != "fifo" {
		t.Fatalf("fifo read %q", s)
	}
	w.DecRef()
	if st, _ := w.Stat(); st.Mode != unix.S_IFIFO|0o644 {
		t.Fatalf("fifo stat %o", st.Mode)
	}
}
