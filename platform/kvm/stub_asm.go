package kvm

import "fmt"

// A tiny x86-64 assembler for the ring-0 stub: only the instruction forms
// stub.go uses, with RIP-relative operands given as offsets in the vCPU
// block (the code sits at blkCode, so an instruction's block offset is its
// code offset) and rel32 jumps to labels. Encodings: Intel SDM vol. 2.

// x86-64 general registers by encoding number.
const (
	rAX = iota
	rCX
	rDX
	rBX
	rSP
	rBP
	rSI
	rDI
	rR8
	rR9
	rR10
	rR11
	rR12
	rR13
	rR14
	rR15
)

// Condition codes for jcc.
const (
	ccE  = 0x4
	ccNE = 0x5
)

type asmFixup struct {
	at    int // position of the rel32
	label string
}

type assembler struct {
	b      []byte
	labels map[string]int
	fixups []asmFixup
}

func newAssembler() *assembler { return &assembler{labels: map[string]int{}} }

func (a *assembler) raw(b ...byte) { a.b = append(a.b, b...) }

// label defines name at the current position.
func (a *assembler) label(name string) {
	if _, dup := a.labels[name]; dup {
		panic("kvm: duplicate stub label " + name)
	}
	a.labels[name] = len(a.b)
}

// ripOp emits [prefix] [REX] opcode modrm(00, reg, 101) disp32 [imm] for a
// memory operand at block offset target.
func (a *assembler) ripOp(prefix byte, w bool, opcode []byte, reg int, target int, imm []byte) {
	if prefix != 0 {
		a.raw(prefix)
	}
	rex := byte(0x40)
	if w {
		rex |= 8
	}
	if reg >= 8 {
		rex |= 4
	}
	if rex != 0x40 {
		a.raw(rex)
	}
	a.raw(opcode...)
	a.raw(byte((reg&7)<<3 | 5))
	end := len(a.b) + 4 + len(imm)
	disp := int32(target - end)
	a.raw(byte(disp), byte(disp>>8), byte(disp>>16), byte(disp>>24))
	a.raw(imm...)
}

// store: mov %reg, target(%rip)
func (a *assembler) store(reg, target int) { a.ripOp(0, true, []byte{0x89}, reg, target, nil) }

// load: mov target(%rip), %reg
func (a *assembler) load(reg, target int) { a.ripOp(0, true, []byte{0x8b}, reg, target, nil) }

// lea: lea target(%rip), %reg
func (a *assembler) lea(reg, target int) { a.ripOp(0, true, []byte{0x8d}, reg, target, nil) }

// cmpRegMem: cmp target(%rip), %reg
func (a *assembler) cmpRegMem(reg, target int) { a.ripOp(0, true, []byte{0x3b}, reg, target, nil) }

// cmpMemImm8: cmpq $imm, target(%rip)
func (a *assembler) cmpMemImm8(target int, imm int8) {
	a.ripOp(0, true, []byte{0x83}, 7, target, []byte{byte(imm)})
}

// movMemImm32: movq $imm, target(%rip)
func (a *assembler) movMemImm32(target int, imm int32) {
	a.ripOp(0, true, []byte{0xc7}, 0, target, []byte{byte(imm), byte(imm >> 8), byte(imm >> 16), byte(imm >> 24)})
}

// fxsave64 / fxrstor64 target(%rip)
func (a *assembler) fxsave64(target int)  { a.ripOp(0, true, []byte{0x0f, 0xae}, 0, target, nil) }
func (a *assembler) fxrstor64(target int) { a.ripOp(0, true, []byte{0x0f, 0xae}, 1, target, nil) }

// pushMem: pushq target(%rip)
func (a *assembler) pushMem(target int) { a.ripOp(0, false, []byte{0xff}, 6, target, nil) }

// pushImm8: pushq $imm (sign-extended)
func (a *assembler) pushImm8(imm int8) { a.raw(0x6a, byte(imm)) }

// pop: pop %reg
func (a *assembler) pop(reg int) {
	if reg >= 8 {
		a.raw(0x41)
	}
	a.raw(0x58 + byte(reg&7))
}

// jmp: jmp label (rel32)
func (a *assembler) jmp(label string) {
	a.raw(0xe9)
	a.rel32(label)
}

// jcc: j<cc> label (rel32)
func (a *assembler) jcc(cc byte, label string) {
	a.raw(0x0f, 0x80|cc)
	a.rel32(label)
}

func (a *assembler) rel32(label string) {
	a.fixups = append(a.fixups, asmFixup{at: len(a.b), label: label})
	a.raw(0, 0, 0, 0)
}

// finish resolves the jumps and returns the code.
func (a *assembler) finish() []byte {
	for _, f := range a.fixups {
		t, ok := a.labels[f.label]
		if !ok {
			panic(fmt.Sprintf("kvm: undefined stub label %q", f.label))
		}
		d := int32(t - (f.at + 4))
		a.b[f.at], a.b[f.at+1], a.b[f.at+2], a.b[f.at+3] = byte(d), byte(d>>8), byte(d>>16), byte(d>>24)
	}
	return a.b
}
