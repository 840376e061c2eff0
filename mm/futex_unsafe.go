package mm

import (
	"sync/atomic"
	"unsafe"
)

// atomicLoad32 loads the 4-byte aligned word b[0:4] of pool memory.
func atomicLoad32(b []byte) uint32 {
	return atomic.LoadUint32((*uint32)(unsafe.Pointer(&b[0])))
}

// atomicCAS32 compares-and-swaps the 4-byte aligned word b[0:4].
func atomicCAS32(b []byte, old, new uint32) bool {
	return atomic.CompareAndSwapUint32((*uint32)(unsafe.Pointer(&b[0])), old, new)
}
