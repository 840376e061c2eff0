package main

import (
	"fmt"
	"strconv"

	"kvsentry/test/internal/harness"
)

// measure says how a workload's number is obtained.
type measure int

const (
	selfReported measure = iota // the program prints its own per-op figure
	wallMillis                  // wall time of the whole run (sandbox start-up included), in ms
	timedInside                 // run under timeit inside the guest: ms from fork to reaping
	hostFloor                   // a host program (not a guest): only the native column
	memGrowth                   // the sentry's RssAnon growth with exited processes: kvsentry columns only
)

// Row groups, in table order.
const (
	groupMicro  = "micro"
	groupFloor  = "floor"
	groupMacro  = "macro"
	groupMemory = "memory"
	groupExtra  = "extra"
)

// workload is one benchmark row.
type workload struct {
	name  string
	unit  string
	group string
	how   measure
	argv  func(short bool) []string
	// setup and cleanup are sh scripts run, untimed, with the same runner
	// before and after each timed run.
	setup, cleanup string
	hostNet        bool // needs the host's network (the apk mirror)
	// optional rows record a failure as a skip with a note (apk add needs
	// the sandbox's sockets).
	optional bool
	skips    map[string]string // runner name -> why this runner cannot run it
}

// benchEnv is what the workloads need from the run: the apk mirror's URL
// and the test key of its rebuilt repository.
type benchEnv struct {
	mirrorURL string
	apkKey    string
}

// Workload names that other code refers to.
const (
	getpidWorkload   = "getpid round trip"
	floorWorkload    = "floor: bare PTRACE_SYSEMU round trip (host C tracer)"
	shLoopWorkload   = "sh arithmetic loop, 2000 iterations"
	gzipWorkload     = "gzip -c of 50 MiB"
	forkLoopWorkload = "300 fork+exec of /bin/true from sh"
	startupWorkload  = "start-up: run /bin/true to exit"
	growthWorkload   = "sentry RssAnon growth per 1000 exited processes"
	// threadScaleWorkload names the row whose figure is the speed-up of a
	// CPU-bound job on 2 threads over 1 (threadscale.c): higher is better,
	// unlike the other rows, and about 2 natively on an idle 2-core machine.
	threadScaleWorkload = "speed-up, 2 threads vs 1 (CPU-bound)"
)

// loopScript is the shell-loop workload.
const loopScript = "i=0; while [ $i -lt 2000 ]; do i=$((i+1)); done"

// trueLoop is an sh script running /bin/true n times.
func trueLoop(n int) string {
	return fmt.Sprintf("i=0; while [ $i -lt %d ]; do /bin/true; i=$((i+1)); done", n)
}

// Guest paths of the files setup installs into both rootfs copies.
const (
	timeitPath    = harness.GuestTestDir + "/timeit"
	file4kPath    = harness.GuestTestDir + "/file4k"
	tarballPath   = harness.GuestTestDir + "/alpine-minirootfs.tar.gz"
	gzipFullPath  = harness.GuestTestDir + "/gzip-input-50m"
	gzipShortPath = harness.GuestTestDir + "/gzip-input-2m"
	tarDir        = "/var/tmp/kvbench-tar"
	seqioPath     = "/var/tmp/kvbench-seqio"
)

// noQemuExec is the skip of rows that exec or write outside the rootfs:
// qemu-user is no chroot and does not follow execve into the guest.
var noQemuExec = map[string]string{"qemu-x86_64": "qemu-user does not follow execve into the guest"}

func workloads(env benchEnv) []workload {
	iters := func(short bool, full, few int) string {
		if short {
			return strconv.Itoa(few)
		}
		return strconv.Itoa(full)
	}
	prog := func(name string) string { return harness.GuestTestDir + "/" + name }
	return []workload{
		// micro: static musl C programs printing their own figure.
		{name: getpidWorkload, unit: "ns/op", group: groupMicro,
			argv: func(s bool) []string { return []string{prog("getpid"), iters(s, 20000, 200)} }},
		{name: "open+read 4 KiB+close", unit: "ns/op", group: groupMicro,
			argv: func(s bool) []string { return []string{prog("openread"), iters(s, 5000, 50), file4kPath} }},
		{name: "fork+_exit+wait", unit: "µs/op", group: groupMicro,
			argv: func(s bool) []string { return []string{prog("forkexit"), iters(s, 200, 5)} }},
		{name: "fork+exec+wait of a static binary", unit: "µs/op", group: groupMicro,
			argv:  func(s bool) []string { return []string{prog("forkexec"), iters(s, 100, 3), prog("true")} },
			skips: noQemuExec},
		{name: "pipe ping-pong, 2 processes", unit: "ns/op", group: groupMicro,
			argv: func(s bool) []string { return []string{prog("pingpong"), iters(s, 5000, 100)} }},
		{name: "mmap 64 MiB + touch every page", unit: "ms/op", group: groupMicro,
			argv: func(s bool) []string { return []string{prog("mmaptouch"), iters(s, 5, 1), iters(s, 64, 8)} }},
		{name: "signal round trip (handler + raise)", unit: "ns/op", group: groupMicro,
			argv: func(s bool) []string { return []string{prog("sigrt"), iters(s, 5000, 100)} }},
		{name: "pthread create+join", unit: "µs/op", group: groupMicro,
			argv: func(s bool) []string { return []string{prog("pthread"), iters(s, 500, 10)} }},
		{name: "write then read 256 MiB", unit: "ms", group: groupMicro,
			argv: func(s bool) []string { return []string{prog("seqio"), iters(s, 256, 16), seqioPath} }},

		// the floor: the bare PTRACE_SYSEMU round trip, on the host.
		{name: floorWorkload, unit: "ns/op", group: groupFloor, how: hostFloor,
			argv: func(s bool) []string { return []string{"sysemu", iters(s, 20000, 2000)} }},

		// macro: Alpine's own binaries, timed inside the guest by timeit.
		{name: shLoopWorkload, unit: "ms", group: groupMacro, how: timedInside,
			argv: func(bool) []string { return []string{"/bin/sh", "-c", loopScript} }},
		{name: forkLoopWorkload, unit: "ms", group: groupMacro, how: timedInside,
			argv: func(s bool) []string {
				n := 300
				if s {
					n = 30
				}
				return []string{"/bin/sh", "-c", trueLoop(n)}
			},
			skips: noQemuExec},
		{name: "tar xzf of the minirootfs tarball", unit: "ms", group: groupMacro, how: timedInside,
			argv:    func(bool) []string { return []string{"/bin/tar", "-xzf", tarballPath, "-C", tarDir} },
			setup:   "rm -rf " + tarDir + " && mkdir -p " + tarDir,
			cleanup: "rm -rf " + tarDir,
			skips:   map[string]string{"qemu-x86_64": "qemu-user is no chroot: tar would write on the host"}},
		{name: gzipWorkload, unit: "ms", group: groupMacro, how: timedInside,
			argv: func(s bool) []string {
				if s {
					return []string{"/bin/gzip", "-c", gzipShortPath}
				}
				return []string{"/bin/gzip", "-c", gzipFullPath}
			}},
		{name: "apk add curl closure (local mirror)", unit: "ms", group: groupMacro, how: timedInside,
			argv:    func(bool) []string { return []string{"/sbin/apk", "add", "-q", "--no-progress", "curl"} },
			setup:   apkSetup(env),
			cleanup: "apk del -q --no-progress curl >/dev/null",
			hostNet: true, optional: true, skips: noQemuExec},
		{name: startupWorkload, unit: "ms", group: groupMacro, how: wallMillis,
			argv: func(bool) []string { return []string{"/bin/true"} }},

		// memory: does the sentry keep anything per exited process?
		{name: growthWorkload, unit: "KiB", group: groupMemory, how: memGrowth,
			argv: func(s bool) []string {
				if s {
					return []string{"30", "300"}
				}
				return []string{"300", "3000"}
			}},

		// extra rows of earlier issues: sockets and thread scaling.
		{name: "TCP loopback transfer, 64 MiB", unit: "ms", group: groupExtra,
			argv: func(s bool) []string { return []string{prog("netbench"), "xfer", iters(s, 64, 4)} }},
		{name: "TCP request/response round trip", unit: "µs/op", group: groupExtra,
			argv: func(s bool) []string { return []string{prog("netbench"), "rr", iters(s, 10000, 100)} }},
		{name: threadScaleWorkload, unit: "x", group: groupExtra,
			argv: func(s bool) []string {
				return []string{prog("threadscale"), iters(s, 400000000, 40000000)}
			}},
	}
}

// apkSetup points apk at the rebuilt v3.20 repository of the mirror served by
// the bench, installs its test key and fetches the index (untimed), and
// removes curl if a failed run left it installed.
func apkSetup(env benchEnv) string {
	return fmt.Sprintf(`apk del -q --no-progress curl >/dev/null 2>&1
echo %s/v3.20-rebuilt > /etc/apk/repositories &&
cat > /etc/apk/keys/apkrepo-test-20261127.rsa.pub <<'KEY' &&
%sKEY
apk update -q --no-progress >/dev/null`, env.mirrorURL, env.apkKey)
}
