package mm

import "golang.org/x/sys/unix"

// Pool I/O by system call: pread(2)/pwrite(2) on the pool's memfd move bytes
// between a pool range and a sentry buffer through the host kernel's own
// mapping of the memfd, so the sentry's view of the pool gains no page-table
// entries (each costs a fault, expensive under shadow paging). File content
// kept in the pool (vfs) moves this way.

// ReadAt fills b from the pool at off (pread(2), retried on EINTR and short
// counts). Reading never-written pool memory yields zeros.
func (p *Pool) ReadAt(b []byte, off uint64) error { return p.rw(unix.Pread, b, off) }

// WriteAt stores b into the pool at off (pwrite(2), retried on EINTR and
// short counts).
func (p *Pool) WriteAt(b []byte, off uint64) error { return p.rw(unix.Pwrite, b, off) }

// rw moves b to or from the pool at off with op (unix.Pread or
// unix.Pwrite) until done, retrying on EINTR and short counts.
func (p *Pool) rw(op func(fd int, b []byte, off int64) (int, error), b []byte, off uint64) error {
	if off+uint64(len(b)) < off || off+uint64(len(b)) > p.size {
		return unix.EINVAL
	}
	for len(b) > 0 {
		n, err := op(p.fd, b, int64(off))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return unix.EIO
		}
		b, off = b[n:], off+uint64(n)
	}
	return nil
}

// zeroPage is a page of zeros for ZeroAt.
var zeroPage [PageSize]byte

// zeroIovecs is how many pages of zeros one pwritev(2) of ZeroAt writes.
const zeroIovecs = 256

// ZeroAt clears n bytes of the pool at off with pwritev(2) of zeros, up to
// zeroIovecs pages a call.
func (p *Pool) ZeroAt(off, n uint64) error {
	if off+n < off || off+n > p.size {
		return unix.EINVAL
	}
	var iov [zeroIovecs][]byte
	for n > 0 {
		k, cnt := uint64(0), 0
		for cnt < zeroIovecs && k < n {
			l := min(n-k, PageSize)
			iov[cnt] = zeroPage[:l]
			k, cnt = k+l, cnt+1
		}
		w, err := unix.Pwritev(p.fd, iov[:cnt], int64(off))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if w == 0 {
			return unix.EIO
		}
		off, n = off+uint64(w), n-uint64(w)
	}
	return nil
}
