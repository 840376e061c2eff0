package tty

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// NCCS is the number of control characters in the kernel's struct termios.
const NCCS = 19

// TermiosSize is the size of the kernel's struct termios (TCGETS, TCSETS).
const TermiosSize = 36

// WinsizeSize is the size of struct winsize (TIOCGWINSZ).
const WinsizeSize = 8

// Termios is the kernel's struct termios (include/uapi/asm-generic/termbits.h).
type Termios struct {
	Iflag, Oflag, Cflag, Lflag uint32
	Line                       uint8
	CC                         [NCCS]uint8
}

// DefaultTermios is a fresh terminal's setting (tty_std_termios in
// drivers/tty/tty_io.c): cooked mode with echo and the usual keys.
func DefaultTermios() Termios {
	t := Termios{
		Iflag: unix.ICRNL | unix.IXON,
		Oflag: unix.OPOST | unix.ONLCR,
		Cflag: unix.B38400 | unix.CS8 | unix.CREAD | unix.HUPCL,
		Lflag: unix.ISIG | unix.ICANON | unix.ECHO | unix.ECHOE | unix.ECHOK |
			unix.ECHOCTL | unix.ECHOKE | unix.IEXTEN,
	}
	// INIT_C_CC (include/linux/tty.h).
	t.CC[unix.VINTR] = 3     // ^C
	t.CC[unix.VQUIT] = 0x1c  // ^\
	t.CC[unix.VERASE] = 0x7f // DEL
	t.CC[unix.VKILL] = 0x15  // ^U
	t.CC[unix.VEOF] = 4      // ^D
	t.CC[unix.VMIN] = 1
	t.CC[unix.VSTART] = 0x11   // ^Q
	t.CC[unix.VSTOP] = 0x13    // ^S
	t.CC[unix.VSUSP] = 0x1a    // ^Z
	t.CC[unix.VREPRINT] = 0x12 // ^R
	t.CC[unix.VDISCARD] = 0x0f // ^O
	t.CC[unix.VWERASE] = 0x17  // ^W
	t.CC[unix.VLNEXT] = 0x16   // ^V
	return t
}

// Marshal encodes t as the guest's struct termios.
func (t *Termios) Marshal() []byte {
	b := make([]byte, TermiosSize)
	binary.LittleEndian.PutUint32(b[0:], t.Iflag)
	binary.LittleEndian.PutUint32(b[4:], t.Oflag)
	binary.LittleEndian.PutUint32(b[8:], t.Cflag)
	binary.LittleEndian.PutUint32(b[12:], t.Lflag)
	b[16] = t.Line
	copy(b[17:], t.CC[:])
	return b
}

// UnmarshalTermios decodes a guest struct termios (len(b) >= TermiosSize).
func UnmarshalTermios(b []byte) Termios {
	var t Termios
	t.Iflag = binary.LittleEndian.Uint32(b[0:])
	t.Oflag = binary.LittleEndian.Uint32(b[4:])
	t.Cflag = binary.LittleEndian.Uint32(b[8:])
	t.Lflag = binary.LittleEndian.Uint32(b[12:])
	t.Line = b[16]
	copy(t.CC[:], b[17:TermiosSize])
	return t
}

// Winsize is struct winsize (TIOCGWINSZ, TIOCSWINSZ).
type Winsize struct {
	Row, Col, Xpixel, Ypixel uint16
}

// Marshal encodes w as the guest's struct winsize.
func (w Winsize) Marshal() []byte {
	b := make([]byte, WinsizeSize)
	binary.LittleEndian.PutUint16(b[0:], w.Row)
	binary.LittleEndian.PutUint16(b[2:], w.Col)
	binary.LittleEndian.PutUint16(b[4:], w.Xpixel)
	binary.LittleEndian.PutUint16(b[6:], w.Ypixel)
	return b
}

// UnmarshalWinsize decodes a guest struct winsize (len(b) >= WinsizeSize).
func UnmarshalWinsize(b []byte) Winsize {
	return Winsize{binary.LittleEndian.Uint16(b[0:]), binary.LittleEndian.Uint16(b[2:]),
		binary.LittleEndian.Uint16(b[4:]), binary.LittleEndian.Uint16(b[6:])}
}

func (t *Termios) iflag(f uint32) bool { return t.Iflag&f != 0 }
func (t *Termios) oflag(f uint32) bool { return t.Oflag&f != 0 }
func (t *Termios) lflag(f uint32) bool { return t.Lflag&f != 0 }

// is reports whether c is the enabled control character cc[i]
// (_POSIX_VDISABLE, 0, disables one).
func (t *Termios) is(c byte, i int) bool { return t.CC[i] != 0 && c == t.CC[i] }
