package vfs

import "golang.org/x/sys/unix"

// IsPipe reports whether f is a pipe or FIFO end (splice(2) needs one).
func (f *File) IsPipe() bool { return f.kind == fkPipe }

// PeekPipe copies up to len(dst) bytes from the front of a pipe without
// consuming them (what tee(2) duplicates), waiting while the pipe is empty
// and has writers: 0 at end of file, EAGAIN with nonblock, EINTR when
// cancel closes.
func (f *File) PeekPipe(dst []byte, nonblock bool, cancel <-chan struct{}) (int, error) {
	if f.kind != fkPipe || !f.readable() {
		return 0, unix.EINVAL
	}
	p := f.pipe
	for {
		p.mu.Lock()
		if len(p.buf) > 0 {
			n := copy(dst, p.buf)
			p.mu.Unlock()
			return n, nil
		}
		if p.writers == 0 {
			p.mu.Unlock()
			return 0, nil
		}
		if nonblock || f.nonblock() {
			p.mu.Unlock()
			return 0, unix.EAGAIN
		}
		ch := p.ch
		p.mu.Unlock()
		if err := wait(ch, cancel); err != nil {
			return 0, err
		}
	}
}

// SamePipe reports whether f and g are ends of one pipe (tee(2) refuses it).
func (f *File) SamePipe(g *File) bool {
	return f.kind == fkPipe && g.kind == fkPipe && f.pipe == g.pipe
}
