package sentry

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// marshaler is a Linux ABI struct that can lay itself out in guest memory
// (gvisor.dev/gvisor/pkg/abi/linux types implement it).
type marshaler interface {
	SizeBytes() int
	MarshalBytes(dst []byte) []byte
}

// unmarshaler is a Linux ABI struct that can be read from guest bytes.
type unmarshaler interface {
	SizeBytes() int
	UnmarshalBytes(src []byte) []byte
}

// copyOutStruct writes v's Linux layout to guest address addr.
func (t *Task) copyOutStruct(addr uint64, v marshaler) error {
	b := make([]byte, v.SizeBytes())
	v.MarshalBytes(b)
	_, err := t.mm.CopyOut(addr, b)
	return err
}

// copyInStruct reads v's Linux layout from guest address addr.
func (t *Task) copyInStruct(addr uint64, v unmarshaler) error {
	b := make([]byte, v.SizeBytes())
	if _, err := t.mm.CopyIn(addr, b); err != nil {
		return err
	}
	v.UnmarshalBytes(b)
	return nil
}

// copyOutUint64 writes a 64-bit value to the guest.
func (t *Task) copyOutUint64(addr, v uint64) error {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	_, err := t.mm.CopyOut(addr, b[:])
	return err
}

// copyOutUint32 writes a 32-bit value to the guest.
func (t *Task) copyOutUint32(addr uint64, v uint32) error {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], v)
	_, err := t.mm.CopyOut(addr, b[:])
	return err
}

// copyInUint64 reads a 64-bit value from the guest.
func (t *Task) copyInUint64(addr uint64) (uint64, error) {
	var b [8]byte
	if _, err := t.mm.CopyIn(addr, b[:]); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b[:]), nil
}

// copyInUint32 reads a 32-bit value from the guest.
func (t *Task) copyInUint32(addr uint64) (uint32, error) {
	var b [4]byte
	if _, err := t.mm.CopyIn(addr, b[:]); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b[:]), nil
}

// copyInPath reads a NUL-terminated path (at most PATH_MAX bytes, as
// Linux's getname does: ENAMETOOLONG beyond it, ENOENT when empty is left to
// the caller since AT_EMPTY_PATH allows it).
func (t *Task) copyInPath(addr uint64) (string, error) {
	return t.mm.CopyInString(addr, unix.PathMax)
}

// Linux's limits on execve arguments (include/uapi/linux/binfmts.h).
const (
	maxArgStrlen = 32 * 4096
	maxArgCount  = 0x7fffffff
)

// copyInStrings reads a NULL-terminated array of string pointers (argv,
// envp) as execve does; total bounds the bytes taken (E2BIG beyond it).
func (t *Task) copyInStrings(addr uint64, total *int) ([]string, error) {
	var out []string
	if addr == 0 {
		return nil, nil
	}
	for i := uint64(0); ; i++ {
		p, err := t.copyInUint64(addr + 8*i)
		if err != nil {
			return nil, err
		}
		if p == 0 {
			return out, nil
		}
		s, err := t.mm.CopyInString(p, maxArgStrlen)
		if err == unix.ENAMETOOLONG {
			return nil, unix.E2BIG
		}
		if err != nil {
			return nil, err
		}
		*total -= len(s) + 1 + 8
		if *total < 0 {
			return nil, unix.E2BIG
		}
		out = append(out, s)
	}
}
