package e2e

import (
	"strconv"
	"strings"
	"testing"

	"kvsentry/test/internal/harness"
)

// findDirs are the directories the find workload walks: the whole root
// filesystem except what differs by construction between the native chroot
// (a procfs mounted on /proc, test files in /tmp and /opt) and the sandbox.
const findDirs = "/etc /usr /lib /bin /sbin /var /home /root /media /mnt /srv"

// findSkip drops the files the sandbox writes into the guest's /etc at start
// (resolv.conf, hosts, hostname: sentry/net_setup.go, as a container runtime
// does), which the native chroot does not have or has with other content.
const findSkip = ` | grep -vxE '/etc/(resolv.conf|hosts|hostname)'`

// findScript lists the tree, hashes the sorted names and the contents of
// every regular file, and counts entries and symlinks.
const findScript = `find ` + findDirs + ` -xdev` + findSkip + ` | sort | md5sum; ` +
	`find ` + findDirs + ` -xdev` + findSkip + ` | wc -l; ` +
	`find ` + findDirs + ` -xdev -type l | wc -l; ` +
	`find ` + findDirs + ` -xdev -type f` + findSkip + ` | sort | xargs md5sum | md5sum`

// shellWorkloads are shell scripts that fork, exec, pipe and wait in parallel;
// each prints only what is the same on every run (parallel output is sorted).
var shellWorkloads = []struct {
	name, script string
	want         []string // substrings the native stdout must hold
}{
	{name: "xargs_parallel",
		script: `seq 1 64 | xargs -n4 -P4 sh -c 'echo "$1..$4: $(($1+$2+$3+$4))"' sh | sort -n; echo "xargs: $?"`,
		want:   []string{"1..4: 10\n", "61..64: 250\n", "xargs: 0\n"}},
	{name: "xargs_parallel_count",
		script: `seq 1 200 | xargs -n1 -P4 sh -c 'echo $(($1*$1))' sh | sort -n | md5sum; seq 1 200 | xargs -n3 -P4 echo | wc -l`,
		want:   []string{"67\n"}},
	// ash reports the killed job ("Terminated") on stderr at a moment that
	// races with its reaping, natively too: that wait's stderr is dropped.
	{name: "background_jobs_wait",
		script: `rm -rf /tmp/bg && mkdir /tmp/bg
for i in 1 2 3 4; do (sleep 0.0$i; echo "job $i" > /tmp/bg/$i; exit $i) & eval "p$i=\$!"; done
wait $p3; echo "wait p3: $?"
wait $p1; echo "wait p1: $?"
wait; echo "wait all: $?"
cat /tmp/bg/1 /tmp/bg/2 /tmp/bg/3 /tmp/bg/4
sleep 5 & k=$!; kill $k; wait $k 2>/dev/null; echo "killed job: $?"
(exit 7) & wait $!; echo "exit 7 job: $?"
true & true & true & wait; echo "three at once: $?"
rm -rf /tmp/bg`,
		want: []string{"wait p3: 3\n", "wait p1: 1\n", "wait all: 0\n", "job 4\n", "killed job: 143\n", "exit 7 job: 7\n"}},
	{name: "command_substitution_nested",
		script: `echo "a$(echo b$(echo c)d)e"; x=$(echo $(echo $(echo deep))); echo "$x"
echo "n=$(echo $(ls /lib | wc -l) | tr -d ' ') rel=$(cat $(echo /etc/alpine-release))"
echo "$(basename $(dirname $(readlink -f /bin/sh)))"; echo "$(echo "$(echo "$(echo three)")" deep)"
y=` + "`echo outer \\`echo inner\\``" + `; echo "$y"; echo $(( $(echo 6) * $(echo $(echo 7)) ))`,
		want: []string{"abcde\n", "deep\n", "rel=3.20.3\n", "bin\n", "three deep\n", "outer inner\n", "42\n"}},
	{name: "pipeline_13MB_three_cats",
		script: `seq 1 1800000 | cat | cat | cat | md5sum; seq 1 1800000 | cat | cat | cat | wc -c; head -c 13631488 /dev/zero | cat | cat | cat | wc -c`,
		want:   []string{"13288896\n", "13631488\n"}},
	{name: "find_xdev_sort_md5sum",
		script: findScript},
}

// TestShellWorkloads runs each workload natively and in the sandbox and
// compares stdout, stderr and exit status byte for byte.
func TestShellWorkloads(t *testing.T) {
	harness.RequireRoot(t)
	for _, w := range shellWorkloads {
		t.Run(w.name, func(t *testing.T) {
			r := harness.Differential(t, []string{"/bin/sh", "-c", w.script})
			if r.Exit != 0 {
				t.Errorf("native exit %d, stderr %q", r.Exit, r.Stderr)
			}
			for _, s := range w.want {
				if !strings.Contains(r.Stdout, s) {
					t.Errorf("native stdout lacks %q:\n%s", s, r.Stdout)
				}
			}
		})
	}
}

// TestShellFindIsMeaningful checks that the find comparison walks a real tree:
// natively it lists hundreds of entries of the root filesystem (the Alpine
// minirootfs has about 500).
func TestShellFindIsMeaningful(t *testing.T) {
	harness.RequireRoot(t)
	out, errOut, exit := harness.RunNative(t, harness.NativeRootfs(t), "/bin/sh", "-c", "find "+findDirs+" -xdev"+findSkip+" | wc -l")
	n, err := strconv.Atoi(strings.TrimSpace(out))
	if exit != 0 || err != nil || n < 400 {
		t.Errorf("native find: %q (stderr %q, exit %d); want a count over 400", out, errOut, exit)
	}
}
