package loader

import "kvsentry/platform"

// Mappable is file content that can back a private mapping (kvsentry/mm's
// Mappable has the same method set, so values convert implicitly).
type Mappable = interface {
	ReadAt(p []byte, off int64) (int, error)
}

// File is an executable opened for execution, supplied by the sentry.
type File interface {
	// ReadAt reads file content like io.ReaderAt.
	ReadAt(p []byte, off int64) (int, error)
	// Size is the file size in bytes.
	Size() int64
	// Mappable returns what backs mappings of the file, and the device and
	// inode numbers shown in /proc/pid/maps.
	Mappable() (mapp interface {
		ReadAt([]byte, int64) (int, error)
	}, dev, ino uint64, err error)
}

// Opener opens executables on behalf of the task doing execve.
type Opener interface {
	// OpenExec resolves path (relative to the task's cwd) and opens it for
	// execution as Linux's open_exec does: ENOENT, EACCES (not a regular
	// file or no x bit), ELOOP ... It also returns the resolved absolute
	// guest path (for /proc/self/exe).
	OpenExec(path string) (File, string, error)
}

// MapRequest asks for one mapping, like mmap(2) with MAP_PRIVATE. The
// loader always sets Private and Fixed, and page-aligned Addr, Length and
// Offset.
type MapRequest struct {
	Addr, Length, Offset uint64
	// Perms are the mapping's protections.
	Perms platform.AccessType
	// Private is MAP_PRIVATE (always true from the loader).
	Private bool
	// Fixed is MAP_FIXED: map exactly at Addr, replacing what is there.
	Fixed bool
	// NoReplace is MAP_FIXED_NOREPLACE: fail with EEXIST if Addr is in use.
	NoReplace bool
	// File backs the mapping; nil means anonymous zero pages.
	File Mappable
	// Name is the /proc/pid/maps name ("[stack]", a path, or "").
	Name string
	// Dev and Ino are shown in /proc/pid/maps for file mappings.
	Dev, Ino uint64
}

// Memory is the subset of an address space (kvsentry/mm's *MM) the loader
// drives. Load expects it to be empty.
type Memory interface {
	// Map creates a mapping (mm.MM.Mmap) and returns its address.
	Map(r MapRequest) (uint64, error)
	// CopyOut writes src at addr, honouring VMA permissions.
	CopyOut(addr uint64, src []byte) (int, error)
	// ForceCopyOut writes src at addr, ignoring VMA write permission.
	ForceCopyOut(addr uint64, src []byte) (int, error)
	// SetBrk sets the start (and current end) of the heap.
	SetBrk(start uint64)
	// SetMmapBase sets the top of the area searched for mmap addresses.
	SetMmapBase(base uint64)
	// FindUnmapped returns the address of a free range of length bytes
	// below the mmap base.
	FindUnmapped(length uint64) (uint64, error)
}

// Args describes one execve.
type Args struct {
	// Path is the path as passed to execve; AT_EXECFN and the argv of a
	// script's interpreter use it.
	Path string
	// Argv and Envv are the argument and environment strings.
	Argv, Envv []string
	// Random is the 16 bytes AT_RANDOM points at.
	Random [16]byte
	// UID, EUID, GID and EGID are reported in the auxiliary vector.
	UID, EUID, GID, EGID uint32
	// HWCap and HWCap2 are AT_HWCAP and AT_HWCAP2.
	HWCap, HWCap2 uint64
	// MinSigStkSz is AT_MINSIGSTKSZ; 0 means 2048.
	MinSigStkSz uint64
	// StackTop is the end of the stack mapping, e.g. 0x7ffffffde000.
	StackTop uint64
	// StackSize is the size of the stack mapping [StackTop-StackSize, StackTop).
	StackSize uint64
	// MmapBase is the top of the mmap area (below the stack gap).
	MmapBase uint64
	// ExecBase is where an ET_DYN main program's first segment is loaded.
	ExecBase uint64
}

// Result describes the new address space after a successful Load.
type Result struct {
	// Entry is the initial rip: the interpreter's entry if there is a
	// PT_INTERP, else the program's.
	Entry uint64
	// Stack is the initial rsp; it points at argc and is 16-byte aligned.
	Stack uint64
	// ExePath is the resolved path of the ELF program finally loaded (for a
	// script, its interpreter), for /proc/self/exe.
	ExePath string
	// BrkStart is the start of the heap.
	BrkStart uint64
	// Argv is the final argv (after #! rewriting), for cmdline and comm.
	Argv []string
	// Phdr, Phnum are AT_PHDR and AT_PHNUM; Base is AT_BASE (the
	// interpreter's load bias, 0 without one).
	Phdr, Phnum, Base uint64
	// ProgEntry is AT_ENTRY, the main program's (biased) entry point.
	ProgEntry uint64
	// Auxv is the auxiliary vector as written, key/value pairs ending with
	// AT_NULL (for /proc/pid/auxv).
	Auxv []uint64
	// ArgStart, ArgEnd, EnvStart, EnvEnd delimit the argv and envp strings
	// on the stack (Linux's mm->arg_start ...), for /proc/pid/cmdline and
	// /proc/pid/environ.
	ArgStart, ArgEnd, EnvStart, EnvEnd uint64
}
