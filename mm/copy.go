package mm

import (
	"math"

	"golang.org/x/sys/unix"

	"kvsentry/platform"
)

// pageFor returns the pool offset backing the page holding addr, populating
// it and, for writes, breaking copy-on-write (Linux get_user_pages with
// FOLL_WRITE, or FOLL_FORCE when force ignores the area's permissions). New
// pages are not mapped into the platform address space (the guest's next
// fault maps them, a window at a time); a stale mapping left by a COW break
// is replaced.
func (m *MM) pageFor(addr uint64, write, force bool) (uint64, error) {
	v := m.vmas.find(addr)
	if v == nil {
		return 0, unix.EFAULT
	}
	if !force {
		if write && v.perms&platform.Write == 0 || !write && effPerms(v.perms)&platform.Read == 0 {
			return 0, unix.EFAULT
		}
	}
	page := pageRoundDown(addr)
	p := m.pages.get(page)
	if p == nil {
		var err error
		if p, err = m.populate(v, page, false); err != nil {
			return 0, unix.EFAULT
		}
	}
	if write && p.cow {
		if m.breakCOW(v, p, false) != nil {
			return 0, unix.EFAULT
		}
	}
	return p.off + addr%PageSize, nil
}

// copyPages walks [addr, addr+n) page by page, calling fn with the pool
// bytes of each piece and the offset into the caller's buffer.
func (m *MM) copyPages(addr uint64, n int, write, force bool, fn func(pool []byte, done int) bool) (int, error) {
	done := 0
	for done < n {
		a := addr + uint64(done)
		if a < addr {
			return done, unix.EFAULT
		}
		off, err := m.pageFor(a, write, force)
		if err != nil {
			return done, err
		}
		k := min(uint64(n-done), PageSize-a%PageSize)
		if !fn(m.pool.Bytes(off, k), done) {
			return done, nil
		}
		done += int(k)
	}
	return done, nil
}

// CopyIn copies guest memory at addr into dst (Linux copy_from_user). It
// returns the number of bytes copied and EFAULT at the first unreadable byte.
func (m *MM) CopyIn(addr uint64, dst []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.copyPages(addr, len(dst), false, false, func(b []byte, done int) bool {
		copy(dst[done:], b)
		return true
	})
}

// CopyOut copies src to guest memory at addr (Linux copy_to_user), breaking
// copy-on-write and populating pages. It returns the bytes copied and EFAULT
// at the first unwritable byte.
func (m *MM) CopyOut(addr uint64, src []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.copyPages(addr, len(src), true, false, func(b []byte, done int) bool {
		copy(b, src[done:])
		return true
	})
}

// ForceCopyOut is CopyOut ignoring the areas' write permission (Linux
// access_process_vm with FOLL_FORCE, as ptrace and the ELF loader use it);
// private pages get a private copy. Unmapped addresses still give EFAULT.
func (m *MM) ForceCopyOut(addr uint64, src []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.copyPages(addr, len(src), true, true, func(b []byte, done int) bool {
		copy(b, src[done:])
		return true
	})
}

// CopyInString reads a NUL-terminated string of at most max bytes (NUL
// excluded) at addr (Linux strncpy_from_user as getname uses it):
// ENAMETOOLONG if no NUL within max bytes, EFAULT if memory runs out first.
func (m *MM) CopyInString(addr uint64, max int) (string, error) {
	if max < 0 {
		return "", unix.ENAMETOOLONG
	}
	n := max
	if n < math.MaxInt {
		n++ // room to find the NUL after max bytes
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []byte
	found := false
	_, err := m.copyPages(addr, n, false, false, func(b []byte, done int) bool {
		for i, c := range b {
			if c == 0 {
				out = append(out, b[:i]...)
				found = true
				return false
			}
		}
		out = append(out, b...)
		return true
	})
	if found {
		return string(out), nil
	}
	if err != nil {
		return "", err
	}
	return "", unix.ENAMETOOLONG
}
