package ptrace

import "encoding/binary"

// Stub layout. The stub process keeps exactly two pages of its own, at the
// very top of the x86-64 user address space (Linux TASK_SIZE is
// 0x7ffffffff000): a code page (r-x) and a scratch page (rw-) used to pass
// batches of system calls. Everything below stubBase belongs to the guest.
const (
	pageSize = 0x1000

	// stubBase is the address of the stub's code page once set up; it is
	// also MaxUserAddress.
	stubBase = 0x7fffffffd000
	// stubScratch is the scratch page, right above the code page.
	stubScratch = stubBase + pageSize
	// stubEnd is the end of the stub region (Linux's TASK_SIZE on x86-64).
	stubEnd = stubScratch + pageSize

	// stubLoadAddr is where the ELF loader maps the stub image at exec. It is
	// low, far from where exec places the stack, vdso and heap; setup moves
	// the page up to stubBase with mremap (see setupStub).
	stubLoadAddr = 0x200000

	// Offsets inside the code page.
	codeOff       = 0x100
	offSyscall    = codeOff + 0x00 // syscall; int3
	offEntry      = codeOff + 0x08 // int3; jmp .-1 (never runs under ptrace)
	offBatch      = codeOff + 0x10 // batch loop over the scratch page
	offBatchDone  = codeOff + 0x44 // int3 ending the batch loop
	offZeroSigset = codeOff + 0x50 // 8 zero bytes: an empty sigset_t
	offPark       = codeOff + 0x58 // pause(2) loop of threads nobody traces yet
	imageSize     = codeOff + 0x68
)

// stubCode is the stub's machine code (x86-64), placed at codeOff.
//
//	+0x00 inj:   syscall                 ; one injected system call
//	+0x02        int3                    ; ... reports back with SIGTRAP
//	+0x08 entry: int3; jmp entry         ; ELF entry point
//	+0x10 loop:  mov (%rbx),%rax         ; batch: entries of 8 quadwords
//	             test %rax,%rax          ;   {nr, a0..a5, result} at %rbx;
//	             jz done                 ;   nr == 0 ends the batch
//	             mov 8..48(%rbx),%rdi,%rsi,%rdx,%r10,%r8,%r9
//	             syscall
//	             mov %rax,56(%rbx)
//	             cmp $-4095,%rax         ; stop at the first error
//	             jae done
//	             add $64,%rbx
//	             jmp loop
//	+0x44 done:  int3
var stubCode = []byte{
	0x0f, 0x05, // syscall
	0xcc,                         // int3
	0xcc, 0xcc, 0xcc, 0xcc, 0xcc, // pad
	0xcc,       // entry: int3
	0xeb, 0xfd, // jmp entry
	0xcc, 0xcc, 0xcc, 0xcc, 0xcc, // pad
	0x48, 0x8b, 0x03, // loop: mov (%rbx),%rax
	0x48, 0x85, 0xc0, // test %rax,%rax
	0x74, 0x2c, // je done
	0x48, 0x8b, 0x7b, 0x08, // mov 0x8(%rbx),%rdi
	0x48, 0x8b, 0x73, 0x10, // mov 0x10(%rbx),%rsi
	0x48, 0x8b, 0x53, 0x18, // mov 0x18(%rbx),%rdx
	0x4c, 0x8b, 0x53, 0x20, // mov 0x20(%rbx),%r10
	0x4c, 0x8b, 0x43, 0x28, // mov 0x28(%rbx),%r8
	0x4c, 0x8b, 0x4b, 0x30, // mov 0x30(%rbx),%r9
	0x0f, 0x05, // syscall
	0x48, 0x89, 0x43, 0x38, // mov %rax,0x38(%rbx)
	0x48, 0x3d, 0x01, 0xf0, 0xff, 0xff, // cmp $-4095,%rax
	0x73, 0x06, // jae done
	0x48, 0x83, 0xc3, 0x40, // add $0x40,%rbx
	0xeb, 0xcc, // jmp loop
	0xcc, // done: int3
}

// stubPark is the loop a stub thread waits in while it changes tracer (see
// stub_clone.go): it only ever sleeps in pause(2), so it runs no guest code
// and touches no memory while no one traces it.
//
//	park: mov $34,%eax   ; __NR_pause
//	      syscall
//	      jmp park
var stubPark = []byte{0xb8, 0x22, 0, 0, 0, 0x0f, 0x05, 0xeb, 0xf7}

// stubELF builds the stub executable: an ELF64 header, a PT_LOAD (r-x) of
// the first imageSize bytes at stubLoadAddr and a PT_GNU_STACK (rw-), as
// described in elf(5) and loaded by Linux's load_elf_binary.
func stubELF() []byte {
	const (
		ehdrSize = 64
		phdrSize = 56
	)
	img := make([]byte, imageSize)
	le := binary.LittleEndian
	copy(img, []byte{0x7f, 'E', 'L', 'F', 2 /* ELFCLASS64 */, 1 /* LSB */, 1 /* EV_CURRENT */})
	le.PutUint16(img[16:], 2)                     // e_type = ET_EXEC
	le.PutUint16(img[18:], 62)                    // e_machine = EM_X86_64
	le.PutUint32(img[20:], 1)                     // e_version
	le.PutUint64(img[24:], stubLoadAddr+offEntry) // e_entry
	le.PutUint64(img[32:], ehdrSize)              // e_phoff
	le.PutUint16(img[52:], ehdrSize)              // e_ehsize
	le.PutUint16(img[54:], phdrSize)              // e_phentsize
	le.PutUint16(img[56:], 2)                     // e_phnum
	ph := img[ehdrSize:]
	le.PutUint32(ph[0:], 1)             // p_type = PT_LOAD
	le.PutUint32(ph[4:], 5)             // p_flags = PF_R|PF_X
	le.PutUint64(ph[8:], 0)             // p_offset
	le.PutUint64(ph[16:], stubLoadAddr) // p_vaddr
	le.PutUint64(ph[24:], stubLoadAddr) // p_paddr
	le.PutUint64(ph[32:], imageSize)    // p_filesz
	le.PutUint64(ph[40:], imageSize)    // p_memsz
	le.PutUint64(ph[48:], pageSize)     // p_align
	ph = ph[phdrSize:]
	le.PutUint32(ph[0:], 0x6474e551) // p_type = PT_GNU_STACK
	le.PutUint32(ph[4:], 6)          // p_flags = PF_R|PF_W
	le.PutUint64(ph[48:], 16)        // p_align
	copy(img[codeOff:], stubCode)
	copy(img[offPark:], stubPark)
	return img
}
