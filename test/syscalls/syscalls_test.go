// Package syscalls holds kvsentry's differential syscall tests: small C programs
// (this directory's *.c, built with musl-gcc) run natively in a chroot of the
// Alpine rootfs and under kvsentry; stdout, stderr and exit status must match.
// The .c files carry a `//go:build ignore` line so the Go tool leaves them alone.
package syscalls

import (
	"strings"
	"testing"

	"kvsentry/test/internal/harness"
)

// TestMain removes the shared temporary directory after the tests.
func TestMain(m *testing.M) { harness.Main(m) }

// differential runs argv both ways, then checks that the native output contains
// each of wantNative (so a broken native side cannot make the comparison vacuous).
func differential(t *testing.T, argv []string, wantExit int, wantNative ...string) {
	t.Helper()
	r := harness.Differential(t, argv)
	if r.Exit != wantExit {
		t.Errorf("%q: native exit %d, want %d (stderr %q)", argv, r.Exit, wantExit, r.Stderr)
	}
	for _, w := range wantNative {
		if !strings.Contains(r.Stdout, w) {
			t.Errorf("%q: native stdout lacks %q:\n%s", argv, w, r.Stdout)
		}
	}
}

// TestHello compares hello.c (argv, envp, auxv), built static and dynamic.
func TestHello(t *testing.T) {
	harness.RequireRoot(t)
	for _, v := range []struct {
		name   string
		static bool
		flags  []string
	}{
		{"hello_static", true, nil},
		{"hello_dynamic", false, []string{"-DDYNAMIC"}},
	} {
		t.Run(v.name, func(t *testing.T) {
			prog := harness.BuildAndInstallC(t, "hello.c", v.name, v.static, v.flags...)
			differential(t, []string{prog}, 0,
				"argc=1\n", `argv[0]="`+prog+`"`, "AT_PAGESZ=4096\n", "AT_RANDOM non-null=1\n",
				`AT_EXECFN="`+prog+`"`, "env: PATH="+harness.GuestPATH+"\nenv: HOME=/root\nAT_PAGESZ")
			differential(t, []string{prog, "a b", "", "c"}, 3,
				"argc=4\n", `argv[1]="a b"`, `argv[2]=""`, `argv[3]="c"`, "argv[argc]=NULL")
		})
	}
}

// TestBadPointers compares badptr.c: EFAULT, mmap/brk/mprotect checks, fork COW, dup/fcntl.
func TestBadPointers(t *testing.T) {
	harness.RequireRoot(t)
	prog := harness.BuildAndInstallC(t, "badptr.c", "badptr", true)
	differential(t, []string{prog}, 0,
		"write(1, 0x10, 5): ret=-1 EFAULT\n", "read(passwd, 0x10, 5): ret=-1 EFAULT\n",
		"open(0x10): ret=-1 EFAULT\n", "mmap(1 TiB): MAP_FAILED ENOMEM\n", "mmap(len 0): MAP_FAILED EINVAL\n",
		"munmap(0x1001, 4096): ret=-1 EINVAL\n", "brk grow by 65536, delta: 65536\n",
		"read after mprotect: 42\n", "child writing a read-only page: killed by signal 11\n",
		"child: global=2 anon=c\n", "parent: global=1 anon=p shared=c\n", "cow child: exited 5\n",
		"pipe child: exited 3\n", "dup3(fd, fd, 0): ret=-1 EINVAL\n", "fcntl(20, F_GETFD): ret=1 OK\n",
		"write(pipe without reader): ret=-1 EPIPE\n")
}

// TestFiles compares files.c: file and directory syscalls and their errno values.
func TestFiles(t *testing.T) {
	harness.RequireRoot(t)
	prog := harness.BuildAndInstallC(t, "files.c", "files", true)
	differential(t, []string{prog}, 0,
		"  data=world\n", "open(missing): ret=-1 ENOENT\n", "open(f, O_CREAT|O_EXCL): ret=-1 EEXIST\n",
		"open(f/x): ret=-1 ENOTDIR\n", "open(., O_WRONLY): ret=-1 EISDIR\n", "rmdir(d) not empty: ret=-1 ENOTEMPTY\n",
		"readdir(.): . .. a b c d2 e g lnk\n", "getcwd(buf, 2)=NULL ERANGE\n", "getcwd=/tmp/kvfiles/e\n", "  target=nowhere\n",
		"access(g, X_OK) mode 0600 as root: ret=-1 EACCES\n", "open(loop): ret=-1 ELOOP\n",
		"stat /tmp/kvfiles after cleanup: ret=-1 ENOENT\n")
}

// TestMisc compares misc.c: identity, clocks, limits, prctl and signal delivery.
func TestMisc(t *testing.T) {
	harness.RequireRoot(t)
	prog := harness.BuildAndInstallC(t, "misc.c", "misc", true)
	differential(t, []string{prog}, 0,
		"  sysname=Linux machine=x86_64\n", "getpid>0=1 getppid>=0=1 differ=1\n", "uid=0 euid=0 gid=0 egid=0\n",
		"nanosleep(10ms): ret=0 OK\n", "getrandom(16): ret=16 OK\n", "umask(027) returned 022\n",
		"  soft<=hard=1", "sysinfo: ret=0 OK\n", "  handled signal=10 si_code is SI_USER=1\n",
		"  child killed by signal=15\n")
}

// TestExec compares exec.c: execve of scripts, missing files, non-ELF files and bad pointers.
func TestExec(t *testing.T) {
	harness.RequireRoot(t)
	harness.InstallContent(t, "#!/bin/sh\necho \"script: $0 $# [$1] [$2] KVTEST=$KVTEST\"\nexit 4\n", "script.sh", 0o755)
	harness.InstallContent(t, "echo this is not an executable\n", "notelf.txt", 0o755)
	harness.InstallContent(t, "#!/nonexistent/interpreter\necho never\n", "badinterp.sh", 0o755)
	prog := harness.BuildAndInstallC(t, "exec.c", "exec", true)
	differential(t, []string{prog}, 0,
		"script: /opt/kvtest/script.sh 2 [one] [two words] KVTEST=1\n#! script: execve OK, exited 4\n",
		"missing file: execve ENOENT, exited 127\n", "non-ELF without #!: execve ENOEXEC, exited 127\n",
		"directory: execve EACCES", "no x permission: execve EACCES", "#! with missing interpreter: execve ENOENT",
		"sh: zero 0 1\n/bin/sh -c: execve OK, exited 9\n", "via symlink\n", "child killed by SIGKILL: execve OK, killed by signal 9\n",
		"execve(path 0x10): ret=-1 EFAULT\n")
}
