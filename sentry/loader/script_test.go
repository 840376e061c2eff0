package loader

import (
	"fmt"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseShebang(t *testing.T) {
	cases := []struct {
		line      string
		name, arg string
		hasArg    bool
		err       error
	}{
		{"#!/bin/sh\n", "/bin/sh", "", false, nil},
		{"#!/bin/sh", "/bin/sh", "", false, nil},
		{"#! \t/bin/sh  \t\nrest", "/bin/sh", "", false, nil},
		{"#!/usr/bin/env python3 -u  -x \n", "/usr/bin/env", "python3 -u  -x", true, nil},
		{"#!/bin/busybox\tsh\n", "/bin/busybox", "sh", true, nil},
		{"#!/bin/sh\x00 ignored\n", "/bin/sh", "", false, nil},
		{"#!/bin/awk -f\x00junk\n", "/bin/awk", "-f", true, nil},
		{"#!\n", "", "", false, unix.ENOEXEC},
		{"#!   \t \n", "", "", false, unix.ENOEXEC},
		{"#!" + strings.Repeat(" ", 300), "", "", false, unix.ENOEXEC},
		// The name fills the whole 256-byte buffer: truncated, refused.
		{"#!/" + strings.Repeat("a", 300), "", "", false, unix.ENOEXEC},
		// The name fits, the argument is cut at the buffer's end.
		{"#!/bin/x " + strings.Repeat("b", 300), "/bin/x", strings.Repeat("b", 255-9), true, nil},
		{"# /bin/sh\n", "", "", false, unix.ENOEXEC},
	}
	for _, c := range cases {
		name, arg, hasArg, err := parseShebang([]byte(c.line))
		if err != c.err || name != c.name || arg != c.arg || hasArg != c.hasArg {
			t.Errorf("parseShebang(%q) = %q %q %v %v; want %q %q %v %v",
				c.line, name, arg, hasArg, err, c.name, c.arg, c.hasArg, c.err)
		}
	}
}

func TestLoadScript(t *testing.T) {
	elfImg := buildELF(goodSpec())
	files := map[string][]byte{
		"/bin/busybox": elfImg,
		"/s1":          []byte("#!/bin/busybox\necho hi\n"),
		"/s2":          []byte("#!/bin/busybox sh -e\n"),
		"/s3":          []byte("#!/s2 extra\n"),
	}
	cases := []struct {
		path string
		argv []string
		want []string
	}{
		{"/s1", []string{"s1", "a", "b"}, []string{"/bin/busybox", "/s1", "a", "b"}},
		{"/s2", []string{"whatever"}, []string{"/bin/busybox", "sh -e", "/s2"}},
		{"/s2", nil, []string{"/bin/busybox", "sh -e", "/s2"}},
		{"/s3", []string{"s3", "z"}, []string{"/bin/busybox", "sh -e", "/s2", "extra", "/s3", "z"}},
	}
	for _, c := range cases {
		a := testArgs(c.path, c.argv...)
		res, mem := mustLoad(t, files, a)
		if fmt.Sprint(res.Argv) != fmt.Sprint(c.want) {
			t.Errorf("%s %q: argv %q, want %q", c.path, c.argv, res.Argv, c.want)
		}
		d := decodeStack(t, mem, res.Stack)
		if fmt.Sprint(d.argv) != fmt.Sprint(c.want) {
			t.Errorf("%s: stack argv %q", c.path, d.argv)
		}
		if res.ExePath != "/root/bin/busybox" || res.Entry != 0x401000 {
			t.Errorf("%s: exe %q entry %#x", c.path, res.ExePath, res.Entry)
		}
		if v, _ := auxval(res, atExecFn); mem.cstring(t, v) != c.path {
			t.Errorf("%s: AT_EXECFN %q", c.path, mem.cstring(t, v))
		}
	}
}

// TestLoadScriptNesting checks exec_binprm's limit, measured on Linux 6.18:
// a chain of five scripts runs, six is ELOOP.
func TestLoadScriptNesting(t *testing.T) {
	files := map[string][]byte{"/s0": buildELF(goodSpec())}
	for i := 1; i <= 6; i++ {
		files[fmt.Sprintf("/s%d", i)] = []byte(fmt.Sprintf("#!/s%d\n", i-1))
	}
	res, _, err := loadOne(t, files, testArgs("/s5", "s5"))
	if err != nil {
		t.Fatalf("5 nested scripts: %v", err)
	}
	if want := "[/s0 /s1 /s2 /s3 /s4 /s5]"; fmt.Sprint(res.Argv) != want {
		t.Errorf("argv %q, want %s", res.Argv, want)
	}
	if _, _, err := loadOne(t, files, testArgs("/s6", "s6")); err != unix.ELOOP {
		t.Errorf("6 nested scripts: %v, want ELOOP", err)
	}
	// A script naming itself loops.
	self := map[string][]byte{"/me": []byte("#!/me\n")}
	if _, _, err := loadOne(t, self, testArgs("/me", "me")); err != unix.ELOOP {
		t.Errorf("self-interpreting script: %v, want ELOOP", err)
	}
}

func TestLoadScriptErrors(t *testing.T) {
	cases := []struct {
		name string
		data string
		want unix.Errno
	}{
		{"missing interpreter", "#!/nonexistent\n", unix.ENOENT},
		{"no interpreter name", "#!\n", unix.ENOEXEC},
		{"text file", "echo hello\n", unix.ENOEXEC},
		{"empty file", "", unix.ENOEXEC},
		{"one byte", "#", unix.ENOEXEC},
		{"ELF magic only", "\x7fELF", unix.ENOEXEC},
		{"interpreter is text", "#!/text\n", unix.ENOEXEC},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			files := map[string][]byte{"/x": []byte(c.data), "/text": []byte("hello\n")}
			if _, _, err := loadOne(t, files, testArgs("/x", "x")); err != c.want {
				t.Errorf("Load = %v, want %v", err, c.want)
			}
		})
	}
}
