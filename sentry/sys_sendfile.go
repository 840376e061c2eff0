package sentry

import (
	"golang.org/x/sys/unix"

	"kvsentry/vfs"
)

func init() {
	register(unix.SYS_SENDFILE, "ffpd", Full, "", sysSendfile)
	register(unix.SYS_COPY_FILE_RANGE, "fpfpdx", Full, "", sysCopyFileRange)
}

// filePair returns the input file (open for reading) and the output file
// (open for writing) of a copying call — sendfile, copy_file_range,
// splice, tee — each with a reference the caller drops.
func (t *Task) filePair(inFD, outFD int32) (in, out *vfs.File, err error) {
	if in, err = t.fileFor(inFD, false); err != nil {
		return nil, nil, err
	}
	if out, err = t.fileFor(outFD, true); err != nil {
		in.DecRef()
		return nil, nil, err
	}
	return in, out, nil
}

// copyBetween moves up to n bytes from in to out through a sentry buffer.
// inOff/outOff, when non-nil, are positional offsets advanced as data moves.
func (t *Task) copyBetween(out, in *vfs.File, n uint64, inOff, outOff *int64) (uint64, error) {
	if err := t.ttyCopyCheck(in, out); err != nil { // job control (sys_tty.go)
		return 0, err
	}
	if n > maxRW {
		n = maxRW
	}
	var done uint64
	for done < n {
		chunk := n - done
		if chunk > 128<<10 {
			chunk = 128 << 10
		}
		buf := t.scratchBuf(int(chunk))
		var r int
		var err error
		if inOff != nil {
			r, err = in.Pread(buf, *inOff)
		} else {
			r, err = in.ReadCancel(buf, t.intr)
		}
		if err != nil {
			if done > 0 {
				return done, nil
			}
			return 0, err
		}
		if r == 0 {
			break
		}
		var w int
		if outOff != nil {
			w, err = out.Pwrite(buf[:r], *outOff)
			*outOff += int64(w)
		} else {
			w, err = out.WriteCancel(buf[:r], t.intr)
		}
		if inOff != nil {
			*inOff += int64(w)
		} else if w < r {
			// Put back what was read but not written (seekable inputs).
			in.Seek(int64(w-r), unix.SEEK_CUR)
		}
		done += uint64(w)
		if err != nil {
			if err == unix.EPIPE {
				t.sendSelf(int(unix.SIGPIPE))
			}
			if done > 0 {
				return done, nil
			}
			return 0, err
		}
		if r < int(chunk) {
			break
		}
	}
	return done, nil
}

// sysSendfile implements sendfile(2).
func sysSendfile(t *Task, a *sysArgs) (uint64, error) {
	in, out, err := t.filePair(int32(a[1]), int32(a[0]))
	if err != nil {
		return 0, err
	}
	defer in.DecRef()
	defer out.DecRef()
	if out.Flags()&unix.O_APPEND != 0 {
		return 0, unix.EINVAL
	}
	if a[2] == 0 {
		return t.copyBetween(out, in, a[3], nil, nil)
	}
	v, err := t.copyInUint64(a[2])
	if err != nil {
		return 0, err
	}
	off := int64(v)
	if off < 0 {
		return 0, unix.EINVAL
	}
	n, err := t.copyBetween(out, in, a[3], &off, nil)
	if err != nil {
		return 0, err
	}
	return n, t.copyOutUint64(a[2], uint64(off))
}

// sysCopyFileRange implements copy_file_range(2) for regular files.
func sysCopyFileRange(t *Task, a *sysArgs) (uint64, error) {
	if a[5] != 0 {
		return 0, unix.EINVAL
	}
	in, out, err := t.filePair(int32(a[0]), int32(a[2]))
	if err != nil {
		return 0, err
	}
	defer in.DecRef()
	defer out.DecRef()
	if out.Flags()&unix.O_APPEND != 0 {
		return 0, unix.EBADF
	}
	for _, f := range []*vfs.File{in, out} {
		st, err := f.Stat()
		if err != nil {
			return 0, err
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
		case unix.S_IFDIR:
			return 0, unix.EISDIR
		default:
			return 0, unix.EINVAL
		}
	}
	var inOff, outOff *int64
	if a[1] != 0 {
		v, err := t.copyInUint64(a[1])
		if err != nil {
			return 0, err
		}
		o := int64(v)
		inOff = &o
	}
	if a[3] != 0 {
		v, err := t.copyInUint64(a[3])
		if err != nil {
			return 0, err
		}
		o := int64(v)
		outOff = &o
	}
	if inOff == nil {
		cur, err := in.Seek(0, unix.SEEK_CUR)
		if err != nil {
			return 0, err
		}
		inOff = &cur
		defer func() { in.Seek(*inOff, unix.SEEK_SET) }()
	}
	n, err := t.copyBetween(out, in, a[4], inOff, outOff)
	if err != nil {
		return 0, err
	}
	if a[1] != 0 {
		t.copyOutUint64(a[1], uint64(*inOff))
	}
	if a[3] != 0 {
		t.copyOutUint64(a[3], uint64(*outOff))
	}
	return n, nil
}
