package e2e

import (
	"regexp"
	"strings"
	"testing"

	"kvsentry/test/internal/harness"
)

// TestDevNodes: stat of the /dev nodes shows Linux's numbers.
func TestDevNodes(t *testing.T) {
	out, errOut, _ := harness.RunSandbox(t, harness.Rootfs(t), nil, "/bin/sh", "-c",
		"stat -c '%n %F %t:%T' /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty /dev/console /dev/ptmx; for l in fd stdin stdout stderr; do readlink /dev/$l; done")
	want := "/dev/null character special file 1:3\n/dev/zero character special file 1:5\n/dev/full character special file 1:7\n" +
		"/dev/random character special file 1:8\n/dev/urandom character special file 1:9\n/dev/tty character special file 5:0\n" +
		"/dev/console character special file 5:1\n/dev/ptmx character special file 5:2\n" +
		"/proc/self/fd\n/proc/self/fd/0\n/proc/self/fd/1\n/proc/self/fd/2\n"
	if out != want {
		t.Errorf("got %q (stderr %q), want %q", out, errOut, want)
	}
}

// TestProcFiles: /proc/self/exe, status, maps, cpuinfo, meminfo, mounts
// and the sysctl files are present and consistent.
func TestProcFiles(t *testing.T) {
	script := strings.Join([]string{
		"readlink /proc/self/exe",
		"grep -E '^(Name|Pid|PPid|Uid):' /proc/$$/status",
		"grep -c -E '\\[(stack|heap)\\]' /proc/self/maps",
		"grep -c ^processor /proc/cpuinfo",
		"grep -c -E '^(MemTotal|MemFree|MemAvailable):' /proc/meminfo",
		"cut -d' ' -f2,3 /proc/mounts",
		"cat /proc/sys/kernel/ostype /proc/sys/vm/overcommit_memory",
		"cat /proc/sys/kernel/random/boot_id /proc/sys/kernel/random/uuid | grep -c -E '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$'",
		"grep '^Max open files' /proc/self/limits | tr -s ' '",
		"cat /proc/$$/oom_score_adj; echo 5 > /proc/$$/oom_score_adj; cat /proc/$$/oom_score_adj",
		"ls /proc/self/fdinfo | head -1",
		"wc -w < /proc/self/statm",
		"cat /sys/devices/system/cpu/online /sys/kernel/mm/transparent_hugepage/enabled; ls -d /sys/fs/cgroup",
	}, "\n")
	out, errOut, exit := harness.RunSandbox(t, harness.Rootfs(t), nil, "/bin/sh", "-c", script)
	re := regexp.MustCompile(`^/bin/busybox
Name:\tsh
Pid:\t1
PPid:\t0
Uid:\t0\t0\t0\t0
2
[1-9][0-9]*
3
/ overlay
/proc proc
/dev devtmpfs
/dev/pts devpts
/dev/shm tmpfs
/sys sysfs
/tmp tmpfs
/run tmpfs
Linux
0
2
Max open files \d+ \d+ files ?
0
5
0
7
0(-\d+)?
always \[madvise\] never
/sys/fs/cgroup
$`)
	if exit != 0 || !re.MatchString(out) {
		t.Errorf("exit %d stdout:\n%s\nstderr: %s", exit, out, errOut)
	}
}

// TestProcTools: df, mount, ps, top, free and uptime work.
func TestProcTools(t *testing.T) {
	out, errOut, exit := harness.RunSandbox(t, harness.Rootfs(t), nil, "/bin/sh", "-c",
		"df / /tmp | tail -n 2 | awk '{print $1, $6}'; mount | grep -c ' on /proc type proc '; ps -o pid,comm | head -2; top -bn1 | grep -c '^Mem:'; free | grep -c '^Mem:'; uptime | grep -c 'load average'")
	want := "overlay /\ntmpfs /tmp\n1\nPID   COMMAND\n    1 sh\n1\n1\n1\n"
	if exit != 0 || out != want {
		t.Errorf("exit %d got %q want %q (stderr %q)", exit, out, want, errOut)
	}
}
