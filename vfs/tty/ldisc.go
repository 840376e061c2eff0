package tty

import (
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// maxInput is the line discipline's input buffer (N_TTY_BUF_SIZE): a
// canonical line holds at most maxInput-1 characters, and the master's
// writes wait while this much input is unread.
const maxInput = 4096

// maxOutput is how much replica output may wait for the master's reader
// before replica writes block.
const maxOutput = 16384

// inputFull reports whether the master must wait before more input.
func (p *PTY) inputFull() bool {
	n := len(p.raw) + len(p.line)
	for _, l := range p.lines {
		n += len(l)
	}
	return n >= maxInput
}

// inputBlocked reports whether the master's writes must wait: the buffer
// is full, unless a canonical line is still being edited (its excess
// characters are dropped, and its end must still get in).
func (p *PTY) inputBlocked() bool {
	return p.inputFull() && !(p.termios.lflag(unix.ICANON) && len(p.lines) == 0)
}

// inputAvail is what a replica read could take now: in canonical mode the
// completed lines, else the raw queue (input_available_p).
func (p *PTY) inputAvail() int {
	if p.termios.lflag(unix.ICANON) {
		n := 0
		for _, l := range p.lines {
			n += len(l)
		}
		return n
	}
	return len(p.raw)
}

// receive runs one input character through the line discipline
// (n_tty_receive_char and friends); signals to send are appended to sigs.
func (p *PTY) receive(c byte, sigs *[]unix.Signal) {
	t := &p.termios
	if t.iflag(unix.ISTRIP) {
		c &= 0x7f
	}
	if p.lnext {
		p.lnext = false
		p.addInput(c, true)
		return
	}
	if t.iflag(unix.IXON) {
		switch {
		case t.is(c, unix.VSTOP):
			p.stopped = true
			return
		case t.is(c, unix.VSTART):
			p.stopped = false
			return
		case p.stopped && t.iflag(unix.IXANY):
			p.stopped = false
		}
	}
	if t.lflag(unix.ISIG) {
		var sig unix.Signal
		switch {
		case t.is(c, unix.VINTR):
			sig = unix.SIGINT
		case t.is(c, unix.VQUIT):
			sig = unix.SIGQUIT
		case t.is(c, unix.VSUSP):
			sig = unix.SIGTSTP
		}
		if sig != 0 {
			// isig: flush unless NOFLSH, then echo the key.
			if !t.lflag(unix.NOFLSH) {
				p.flushInput()
				p.out = p.out[:0]
			}
			p.stopped = false
			if t.lflag(unix.ECHO) {
				p.echoChar(c)
			}
			*sigs = append(*sigs, sig)
			return
		}
	}
	if c == '\r' {
		if t.iflag(unix.IGNCR) {
			return
		}
		if t.iflag(unix.ICRNL) {
			c = '\n'
		}
	} else if c == '\n' && t.iflag(unix.INLCR) {
		c = '\r'
	}
	if !t.lflag(unix.ICANON) {
		p.addInput(c, false)
		return
	}
	ext := t.lflag(unix.IEXTEN)
	switch {
	case t.is(c, unix.VERASE), t.is(c, unix.VKILL), ext && t.is(c, unix.VWERASE):
		p.erase(c)
	case ext && t.is(c, unix.VLNEXT):
		p.lnext = true
		if t.lflag(unix.ECHO) && t.lflag(unix.ECHOCTL) {
			p.echoRaw('^')
			p.echoRaw('\b')
		}
	case ext && t.is(c, unix.VREPRINT):
		if t.lflag(unix.ECHO) {
			p.echoChar(c)
			p.echoRaw('\n')
			p.lineCol = p.col
			for _, b := range p.line {
				p.echoChar(b)
			}
		}
	case c == '\n' || t.is(c, unix.VEOL) || ext && t.is(c, unix.VEOL2):
		if t.lflag(unix.ECHO) || c == '\n' && t.lflag(unix.ECHONL) {
			if c == '\n' {
				p.echoRaw('\n')
			} else {
				p.echoChar(c)
			}
		}
		p.line = append(p.line, c)
		p.pushLine()
	case t.is(c, unix.VEOF):
		p.pushLine()
	default:
		p.addInput(c, false)
	}
}

// addInput queues an ordinary character, echoing it (ECHO).
func (p *PTY) addInput(c byte, literal bool) {
	t := &p.termios
	if t.lflag(unix.ICANON) {
		if len(p.line) >= maxInput-1 {
			return // the line is full: Linux drops the character
		}
		if len(p.line) == 0 {
			p.lineCol = p.col
		}
		p.line = append(p.line, c)
	} else {
		p.raw = append(p.raw, c)
	}
	if t.lflag(unix.ECHO) {
		if literal && c == '\n' {
			p.echoRaw('\n')
			return
		}
		p.echoChar(c)
	}
}

// pushLine completes the canonical line (an empty one reads as end of file).
func (p *PTY) pushLine() {
	p.lines = append(p.lines, p.line)
	p.line = nil
}

// flushInput discards unread input (TCIFLUSH, isig).
func (p *PTY) flushInput() {
	p.lines, p.line, p.raw, p.lnext = nil, nil, nil, false
}

// erase handles VERASE, VWERASE and VKILL in canonical mode (eraser).
func (p *PTY) erase(c byte) {
	t := &p.termios
	if len(p.line) == 0 {
		return
	}
	echo := t.lflag(unix.ECHO)
	if t.is(c, unix.VKILL) {
		if !echo {
			p.line = nil
			return
		}
		if !t.lflag(unix.ECHOK) || !t.lflag(unix.ECHOKE) || !t.lflag(unix.ECHOE) {
			p.line = nil
			p.echoChar(c)
			if t.lflag(unix.ECHOK) {
				p.echoRaw('\n')
			}
			return
		}
	}
	werase := !t.is(c, unix.VERASE) && !t.is(c, unix.VKILL)
	seenAlnum := false
	for len(p.line) > 0 {
		before := p.width(p.line)
		n := 1
		if t.iflag(unix.IUTF8) {
			for n < len(p.line) && !utf8.RuneStart(p.line[len(p.line)-n]) {
				n++
			}
		}
		last := p.line[len(p.line)-1]
		if werase {
			if isAlnum(last) {
				seenAlnum = true
			} else if seenAlnum {
				break
			}
		}
		p.line = p.line[:len(p.line)-n]
		if echo {
			if t.lflag(unix.ECHOE) {
				cols := before - p.width(p.line)
				for i := 0; i < cols; i++ {
					if last == '\t' {
						p.echoRaw('\b')
					} else {
						p.echoString("\b \b")
					}
				}
			} else {
				p.echoChar(c)
			}
		}
		if t.is(c, unix.VERASE) {
			break
		}
	}
}

// isAlnum is isalnum(c) || c == '_' (VWERASE's word characters).
func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

// width is the screen width of line as echoed from the line's start column.
func (p *PTY) width(line []byte) int {
	col := p.lineCol
	for _, b := range line {
		switch {
		case b == '\t':
			col += 8 - col%8
		case b < 0x20 || b == 0x7f:
			if p.termios.lflag(unix.ECHOCTL) {
				col += 2
			}
		case p.termios.iflag(unix.IUTF8) && b&0xc0 == 0x80:
		default:
			col++
		}
	}
	return col - p.lineCol
}

// echoChar echoes c, as ^X for control characters under ECHOCTL (echo_char).
func (p *PTY) echoChar(c byte) {
	if p.termios.lflag(unix.ECHOCTL) && (c < 0x20 || c == 0x7f) && c != '\t' && c != '\n' {
		p.output('^')
		p.output(c ^ 0x40)
		return
	}
	p.output(c)
}

// echoRaw echoes c through output processing without ^X mapping.
func (p *PTY) echoRaw(c byte) { p.output(c) }

// echoString echoes s byte by byte.
func (p *PTY) echoString(s string) {
	for i := 0; i < len(s); i++ {
		p.output(s[i])
	}
}

// output queues c for the master, with output processing under OPOST
// (do_output_char), tracking the column for erase.
func (p *PTY) output(c byte) {
	t := &p.termios
	if !t.oflag(unix.OPOST) {
		p.out = append(p.out, c)
		return
	}
	switch c {
	case '\n':
		if t.oflag(unix.ONLRET) {
			p.col = 0
		}
		if t.oflag(unix.ONLCR) {
			p.col = 0
			p.out = append(p.out, '\r', '\n')
			return
		}
	case '\r':
		if t.oflag(unix.ONOCR) && p.col == 0 {
			return
		}
		if t.oflag(unix.OCRNL) {
			c = '\n'
			if t.oflag(unix.ONLRET) {
				p.col = 0
			}
		} else {
			p.col = 0
		}
	case '\t':
		spaces := 8 - p.col%8
		if t.Oflag&unix.TABDLY == unix.XTABS {
			p.col += spaces
			for ; spaces > 0; spaces-- {
				p.out = append(p.out, ' ')
			}
			return
		}
		p.col += spaces
	case '\b':
		if p.col > 0 {
			p.col--
		}
	default:
		if c >= 0x20 && c != 0x7f && !(t.iflag(unix.IUTF8) && c&0xc0 == 0x80) {
			p.col++
		}
	}
	p.out = append(p.out, c)
}
