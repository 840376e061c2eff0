// Package platform is the narrow contract between the sentry and the mechanism
// that runs guest code (ptrace stub processes, later KVM). It mirrors the shape of
// gVisor's pkg/sentry/platform/platform.go: a platform only runs guest code and
// reports why it stopped; it never decides policy.
//
// Threading rule: on platforms that need it (ptrace), each Context belongs to
// one OS thread: callers lock their goroutine with runtime.LockOSThread before
// NewContext and keep it locked. Several such threads may use one
// AddressSpace at once (the threads of a guest process). A thread that used
// an AddressSpace calls Context.Release before its goroutine ends. A thread
// that runs guest threads one after another (a pool of such threads) may
// end each one's Context with ThreadKeeper.Keep instead, so that the next
// Context of the thread reuses what the platform set up for it.
package platform

import (
	"fmt"
	"sort"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// AccessType is a set of memory access permissions (read, write, execute).
type AccessType uint8

const (
	// Read allows loads.
	Read AccessType = 1 << iota
	// Write allows stores.
	Write
	// Execute allows instruction fetch.
	Execute
)

// NoAccess is the empty permission set.
const NoAccess AccessType = 0

// ReadWrite is Read|Write.
const ReadWrite = Read | Write

// AnyAccess is Read|Write|Execute.
const AnyAccess = Read | Write | Execute

// String renders the access set like /proc/self/maps does ("rwx", "r--").
func (a AccessType) String() string {
	b := []byte("---")
	if a&Read != 0 {
		b[0] = 'r'
	}
	if a&Write != 0 {
		b[1] = 'w'
	}
	if a&Execute != 0 {
		b[2] = 'x'
	}
	return string(b)
}

// Registers is the guest's user-visible CPU state: the general registers as
// Linux's struct user_regs_struct (fs_base and gs_base included) and the
// FP/SSE/AVX state in XSAVE layout (the first 512 bytes are the FXSAVE area).
type Registers struct {
	unix.PtraceRegs
	// FPState is the XSAVE area; its length is FPStateSize() of the platform.
	// A platform loads it on entry to Switch and, on return, either stores
	// the guest's FP state back into it or leaves it in the CPU and sets
	// FPStale.
	FPState []byte
	// FPStale says FPState does not hold the guest's current FP state (a
	// platform that saves it lazily left it in the CPU). Before reading or
	// changing FPState, call SyncFP on the Context (FPSyncer); a caller
	// that replaces FPState outright clears FPStale.
	FPStale bool
}

// FPSyncer is implemented by contexts that may return from Switch with
// Registers.FPStale set.
type FPSyncer interface {
	// SyncFP stores the guest's current FP state into regs.FPState and
	// clears regs.FPStale.
	SyncFP(regs *Registers) error
}

// EventKind says why Switch returned.
type EventKind int

const (
	// EventSyscall: the guest executed a system call. Orig_rax holds the
	// number, the arguments are in rdi, rsi, rdx, r10, r8, r9; rip points after
	// the syscall instruction. The sentry writes the result into Rax.
	EventSyscall EventKind = iota
	// EventFault: a page fault at Event.Addr (the guest touched memory that is not
	// mapped in the platform address space, or mapped without the needed access).
	EventFault
	// EventSignal: a synchronous hardware exception other than a page fault
	// (SIGILL, SIGFPE, SIGTRAP, SIGBUS, or SIGSEGV from a general-protection fault).
	EventSignal
	// EventInterrupt: Interrupt was called, or the guest's time slice ended.
	EventInterrupt
)

func (k EventKind) String() string {
	switch k {
	case EventSyscall:
		return "syscall"
	case EventFault:
		return "fault"
	case EventSignal:
		return "signal"
	case EventInterrupt:
		return "interrupt"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event describes why Switch returned.
type Event struct {
	Kind EventKind
	// Addr is the faulting address (EventFault, and si_addr of EventSignal).
	Addr uint64
	// Access is the kind of access that faulted, when the platform knows it;
	// NoAccess when it does not (ptrace cannot tell a read from a write).
	Access AccessType
	// Signo and Code are the host signal number and si_code (EventSignal), or
	// SIGSEGV with SEGV_MAPERR/SEGV_ACCERR for EventFault.
	Signo int32
	Code  int32
}

// AddressSpace is one guest address space as the platform holds it.
type AddressSpace interface {
	// MapFile maps [poolOffset, poolOffset+length) of the page pool at guest
	// address addr with perms, replacing whatever was there. All values are
	// page-aligned.
	MapFile(addr, length, poolOffset uint64, perms AccessType) error
	// Unmap removes any mapping in [addr, addr+length).
	Unmap(addr, length uint64) error
	// Release frees the address space; it must not be used afterwards.
	Release()
}

// Mapping is one range of a MapFiles batch: as MapFile's arguments.
type Mapping struct {
	Addr, Length, PoolOffset uint64
	Perms                    AccessType
}

// BatchMapper is implemented by address spaces that can establish several
// mappings for the price of one (a ptrace stub maps a batch with one stop).
type BatchMapper interface {
	// MapFiles applies the mappings in order, stopping at the first error.
	MapFiles(ms []Mapping) error
}

// CPUTimer is implemented by address spaces that can tell how much CPU
// time guest code has used in them (getrusage, times, wait4's rusage).
type CPUTimer interface {
	// CPUTime returns the user and system time consumed so far.
	CPUTime() (user, sys time.Duration)
	// CPUClock returns their sum at the finest resolution the platform
	// has (CLOCK_PROCESS_CPUTIME_ID), cheaply.
	CPUClock() time.Duration
}

// Context is a virtual CPU: it runs guest code in an address space.
type Context interface {
	// Switch runs the guest with regs in as until an event, then stores the
	// guest's registers back into regs.
	Switch(as AddressSpace, regs *Registers) (Event, error)
	// Interrupt makes a running (or the next) Switch return EventInterrupt
	// promptly. It may be called from any goroutine.
	Interrupt()
	// Release frees the context.
	Release()
}

// ThreadKeeper is implemented by contexts whose platform keeps state per OS
// thread (ptrace: the stub thread the calling tracer thread drives in each
// address space it used).
type ThreadKeeper interface {
	// Keep frees the context like Release, called on its thread, but leaves
	// the thread's platform state to the next Context created on the same
	// thread. Release of any later Context of the thread frees it all, and
	// must come before the thread ends.
	Keep()
}

// Platform creates address spaces and contexts.
type Platform interface {
	// Name is the name the platform was registered under.
	Name() string
	// NewAddressSpace creates an empty guest address space.
	NewAddressSpace() (AddressSpace, error)
	// NewContext creates a virtual CPU.
	NewContext() (Context, error)
	// MaxUserAddress is the end of the range guest mappings may use
	// (exclusive); the platform keeps anything of its own above it.
	MaxUserAddress() uint64
	// FPStateSize is the size in bytes of Registers.FPState.
	FPStateSize() int
	// InitialFPState returns a fresh FP state as a new process starts with it
	// (FCW 0x37f, MXCSR 0x1f80, the XSAVE header as the CPU expects it).
	InitialFPState() []byte
}

// Options configure a platform.
type Options struct {
	// PoolFD is the memfd of the page pool; pool offsets passed to MapFile
	// are offsets in this file.
	PoolFD int
}

// Constructor builds a platform, or says why it cannot work on this machine.
type Constructor func(Options) (Platform, error)

var (
	mu           sync.Mutex
	constructors = map[string]Constructor{}
)

// Register makes a platform available by name; platforms call it from init.
func Register(name string, c Constructor) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := constructors[name]; dup {
		panic("platform: duplicate registration of " + name)
	}
	constructors[name] = c
}

// New builds the platform registered as name.
func New(name string, opts Options) (Platform, error) {
	mu.Lock()
	c, ok := constructors[name]
	mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("unknown platform %q (available: %v)", name, Names())
	}
	return c(opts)
}

// Names lists the registered platforms, sorted.
func Names() []string {
	mu.Lock()
	defer mu.Unlock()
	var n []string
	for k := range constructors {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}
