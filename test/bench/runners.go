package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"kvsentry/test/internal/harness"
)

// runner runs guest argv one way (native, kvsentry on one platform, a peer).
type runner struct {
	name string
	// cmd builds the command running argv; hostNet asks for the host's
	// network (the apk row reaches the bench's mirror on the host's 127.0.0.1).
	cmd func(argv []string, hostNet bool) *exec.Cmd
	// noExec is set for runners that cannot follow execve(2) into the guest
	// (qemu-user): timed macro rows are then the wall time of argv itself.
	noExec bool
	// sentry is set for kvsentry columns: the process's memory is sampled.
	sentry bool
	// noHostNet, when set, says why rows needing the host's network fail.
	noHostNet string
}

// nativeRunner chroots straight into copy B (no shell or mount in between, so
// wall times are not inflated) with the clean guest environment.
func nativeRunner(rootfs string) runner {
	return runner{name: "native", cmd: func(argv []string, _ bool) *exec.Cmd {
		cmd := exec.Command(argv[0], argv[1:]...) // absolute: resolved inside the chroot
		cmd.Env = append([]string(nil), harness.CleanEnv...)
		cmd.Dir = "/"
		cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: rootfs}
		return cmd
	}}
}

// kvsentryRunner runs `kvsentry run --platform P --rootfs ROOTFS -e ... -- ARGV`.
func kvsentryRunner(bin, rootfs, platform string) runner {
	return runner{name: "kvsentry-" + platform, sentry: true, cmd: func(argv []string, hostNet bool) *exec.Cmd {
		args := []string{"run", "--platform", platform, "--rootfs", rootfs}
		if hostNet {
			args = append(args, "--network=host")
		}
		for _, kv := range harness.CleanEnv {
			args = append(args, "-e", kv)
		}
		args = append(append(args, "--"), argv...)
		cmd := exec.Command(bin, args...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		return cmd
	}}
}

// kvsentryRunners returns a runner per working platform: ptrace always, and
// every other platform `kvsentry platforms` names (kvm) if a /bin/true runs
// on it; notes say why a platform column is missing.
func kvsentryRunners(bin, rootfs string) (rs []runner, notes []string) {
	rs = []runner{kvsentryRunner(bin, rootfs, "ptrace")}
	out, err := exec.Command(bin, "platforms").CombinedOutput()
	if err != nil {
		return rs, append(notes, "kvsentry platforms: not available ("+firstLine(string(out))+"); only the ptrace column")
	}
	for _, p := range []string{"kvm"} {
		if !strings.Contains(string(out), p) {
			continue
		}
		r := kvsentryRunner(bin, rootfs, p)
		res, err := harness.Exec(r.cmd([]string{"/bin/true"}, false), 20*time.Second)
		if err != nil || res.Exit != 0 {
			notes = append(notes, fmt.Sprintf("kvsentry-%s: /bin/true does not run (exit %d, %v: %s); column skipped",
				p, res.Exit, err, firstLine(res.Stderr)))
			continue
		}
		rs = append(rs, r)
	}
	return rs, notes
}

// peerRunners returns the peers found (proot and qemu-x86_64 on PATH, runsc
// from $RUNSC or PATH), and a note for each one missing.
func peerRunners(rootfs string) (peers []runner, notes []string) {
	if p, err := exec.LookPath("proot"); err == nil {
		peers = append(peers, runner{name: "proot", cmd: func(argv []string, _ bool) *exec.Cmd {
			cmd := exec.Command(p, append([]string{"-r", rootfs, "-w", "/"}, argv...)...)
			cmd.Env = append([]string(nil), harness.CleanEnv...)
			return cmd
		}})
	} else {
		notes = append(notes, "proot: not on PATH, column skipped")
	}
	if q, err := exec.LookPath("qemu-x86_64"); err == nil {
		peers = append(peers, runner{name: "qemu-x86_64", noExec: true, cmd: func(argv []string, _ bool) *exec.Cmd {
			cmd := exec.Command(q, append([]string{"-L", rootfs, "-0", argv[0], resolveInRoot(rootfs, argv[0])}, argv[1:]...)...)
			cmd.Env = append([]string(nil), harness.CleanEnv...)
			return cmd
		}})
	} else {
		notes = append(notes, "qemu-x86_64: not on PATH, column skipped")
	}
	runsc := os.Getenv("RUNSC")
	if runsc == "" {
		runsc, _ = exec.LookPath("runsc")
	}
	if runsc == "" {
		return peers, append(notes, "runsc: neither $RUNSC nor on PATH, columns skipped")
	}
	for _, platform := range []string{"ptrace", "systrap"} {
		r := runscRunner(runsc, rootfs, platform)
		if _, err := exec.LookPath("iptables"); err != nil {
			r.noHostNet = "runsc do sets up any network but none with iptables NAT, and iptables is not installed"
		}
		peers = append(peers, r)
	}
	return peers, notes
}

// runscRunner runs `runsc --network=none --platform=P do --root ROOTFS --cwd / ARGV`
// (gVisor's one-shot sandbox; its root is an overlay, so copy B is not written).
func runscRunner(runsc, rootfs, platform string) runner {
	return runner{name: "runsc-" + platform, cmd: func(argv []string, hostNet bool) *exec.Cmd {
		network := "--network=none"
		if hostNet {
			network = "--network=host"
		}
		args := append([]string{network, "--platform=" + platform, "do", "--root", rootfs, "--cwd", "/"}, argv...)
		cmd := exec.Command(runsc, args...)
		cmd.Env = append([]string(nil), harness.CleanEnv...)
		return cmd
	}}
}

// resolveInRoot maps a guest path to a host path under root, following symlinks
// of the last component with absolute targets taken relative to root.
func resolveInRoot(root, guest string) string {
	for range 40 {
		target, err := os.Readlink(filepath.Join(root, guest))
		if err != nil {
			break
		}
		if filepath.IsAbs(target) {
			guest = target
		} else {
			guest = filepath.Join(filepath.Dir(guest), target)
		}
	}
	return filepath.Join(root, guest)
}
