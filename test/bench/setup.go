package main

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"kvsentry/test/internal/harness"
)

// guestPrograms are the C workload programs compiled (static musl) and
// installed into both rootfs copies as GuestTestDir/NAME.
var guestPrograms = []string{"getpid", "openread", "forkexit", "forkexec", "true", "pingpong",
	"mmaptouch", "sigrt", "pthread", "seqio", "timeit", "threadscale", "netbench"}

// prepared is what setup made: the kvsentry binary, the two rootfs copies
// (A for kvsentry, B for native and the peers) and the host floor program.
type prepared struct {
	bin, rootA, rootB string
	sysemu            string // host path of the minimal PTRACE_SYSEMU tracer
}

// setup builds kvsentry, prepares the two rootfs copies and installs the C
// workload programs and the input files into both.
func setup() (*prepared, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("needs root (native runs chroot)")
	}
	bin, err := harness.BuildKvsentry()
	if err != nil {
		return nil, err
	}
	rootA, rootB, err := harness.PrepareRootfsPair()
	if err != nil {
		return nil, err
	}
	p := &prepared{bin: bin, rootA: rootA, rootB: rootB}
	musl, err := exec.LookPath("musl-gcc")
	if err != nil {
		return nil, errors.New("musl-gcc not found on PATH (apt install musl-tools)")
	}
	dir, err := sourceDir()
	if err != nil {
		return nil, err
	}
	install := func(src, name string) error {
		for _, r := range []string{rootA, rootB} {
			if _, err := harness.InstallFile(r, src, name, 0o755); err != nil {
				return err
			}
		}
		return nil
	}
	for _, prog := range guestPrograms {
		exe, err := harness.CompileC(musl, filepath.Join(dir, prog+".c"), "bench-"+prog, true, "-pthread")
		if err != nil {
			return nil, err
		}
		if err := install(exe, prog); err != nil {
			return nil, err
		}
	}
	if p.sysemu, err = harness.CompileC(musl, filepath.Join(dir, "sysemu.c"), "bench-sysemu", true); err != nil {
		return nil, err
	}
	wd, err := harness.WorkDir()
	if err != nil {
		return nil, err
	}
	tarball, err := harness.TarballPath()
	if err != nil {
		return nil, err
	}
	inputs := []struct {
		name string
		make func(path string) error
	}{
		{filepath.Base(file4kPath), func(path string) error { return writeText(path, 4096) }},
		{filepath.Base(gzipFullPath), func(path string) error { return writeText(path, 50<<20) }},
		{filepath.Base(gzipShortPath), func(path string) error { return writeText(path, 2<<20) }},
	}
	if err := install(tarball, filepath.Base(tarballPath)); err != nil {
		return nil, err
	}
	for _, in := range inputs {
		path := filepath.Join(wd, "bench-input-"+in.name)
		if _, err := os.Stat(path); err != nil {
			if err := in.make(path); err != nil {
				return nil, err
			}
		}
		if err := install(path, in.name); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// writeText writes size bytes of deterministic pseudo-text (words drawn from
// a fixed vocabulary), which gzip compresses about as well as real text.
func writeText(path string, size int) error {
	rng := rand.New(rand.NewPCG(8, 42))
	vocab := make([]string, 4096)
	for i := range vocab {
		var b strings.Builder
		for range 2 + rng.IntN(9) {
			b.WriteByte(byte('a' + rng.IntN(26)))
		}
		vocab[i] = b.String()
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for n := 0; n < size; {
		word := vocab[int(rng.ExpFloat64()*300)%len(vocab)]
		sep := " "
		if rng.IntN(12) == 0 {
			sep = "\n"
		}
		s := word + sep
		if n+len(s) > size {
			s = strings.Repeat("\n", size-n)
		}
		w.WriteString(s)
		n += len(s)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// sourceDir returns test/bench in the repository.
func sourceDir() (string, error) {
	root, err := harness.RepoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "test", "bench"), nil
}

// serveMirror serves ../shared/apk-mirror over HTTP on the host's 127.0.0.1
// (net/http FileServer) and returns the workloads' view of it and a stop
// function.
func serveMirror() (benchEnv, func(), error) {
	shared, err := harness.SharedDir()
	if err != nil {
		return benchEnv{}, nil, err
	}
	dir := filepath.Join(shared, "apk-mirror")
	key, err := os.ReadFile(filepath.Join(dir, "keys", "apkrepo-test-20261127.rsa.pub"))
	if err != nil {
		return benchEnv{}, nil, fmt.Errorf("apk mirror: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return benchEnv{}, nil, err
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(dir))}
	go srv.Serve(ln)
	return benchEnv{mirrorURL: "http://" + ln.Addr().String(), apkKey: string(key)}, func() { srv.Close() }, nil
}
