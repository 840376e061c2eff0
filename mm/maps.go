package mm

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"

	"kvsentry/platform"
)

// mapsNameColumn is where Linux pads a maps line to before the name
// (show_vma_header_prefix: seq_setwidth(m, 25 + sizeof(void *) * 6 - 1)).
const mapsNameColumn = 25 + 8*6 - 1

// formatMapsLine renders one /proc/pid/maps line without the newline, as
// Linux's show_map_vma does.
func formatMapsLine(start, end uint64, perms platform.AccessType, shared bool, off uint64, major, minor uint32, ino uint64, name string) string {
	flag := 'p'
	if shared {
		flag = 's'
	}
	s := fmt.Sprintf("%08x-%08x %s%c %08x %02x:%02x %d ", start, end, perms.String(), flag, off, major, minor, ino)
	if name != "" {
		if len(s) < mapsNameColumn {
			s += strings.Repeat(" ", mapsNameColumn-len(s))
		}
		s += " " + name
	}
	return s
}

// Maps renders /proc/pid/maps for this address space.
func (m *MM) Maps() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b strings.Builder
	m.vmas.each(func(v *vma) bool {
		var off uint64
		if v.file != nil || v.shm != nil {
			off = v.off
		}
		b.WriteString(formatMapsLine(v.start, v.end, v.perms, !v.private, off,
			unix.Major(v.dev), unix.Minor(v.dev), v.ino, v.name))
		b.WriteByte('\n')
		return true
	})
	return []byte(b.String())
}
