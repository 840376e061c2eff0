package e2e

import (
	"regexp"
	"testing"

	"kvsentry/test/internal/harness"
)

// bbCase is one busybox applet or shell case compared byte for byte between a
// native chroot run (copy B) and a sandbox run (copy A). Cases that write use
// their own directory under /tmp and remove it first, since native runs persist.
type bbCase struct {
	name   string
	script string   // run as sh -c SCRIPT, unless argv is set
	argv   []string // run directly
	norms  []harness.Normalizer
}

// normDevDate blanks the date column of `ls -l` lines of device nodes: copy B's
// nodes were mknod'ed by the harness, the sandbox's come from its devfs, so only
// their times legitimately differ. Type, mode, links, owner, major and minor stay.
var devDateRE = regexp.MustCompile(`(?m)^(c[rwx-]{9} +\d+ \w+ +\w+ +\d+, +\d+) [A-Z][a-z]{2} +\d+ +[\d:]+ (/dev/)`)

// normDevDate blanks the date column of `ls -l` lines of device nodes: copy B's
// nodes were mknod'ed by the harness, the sandbox's come from its devfs, so only
// their times legitimately differ. Type, mode, links, owner, major and minor stay.
var normDevDate = harness.Normalizer{
	Name: "ls -l device node date",
	Fn:   func(s string) string { return devDateRE.ReplaceAllString(s, "$1 DATE $2") },
}

var ddStatsRE = regexp.MustCompile(`copied, [0-9.]+ seconds, [0-9.]+[KMGT]?B/s`)

// normDDStats blanks the timing part of dd's transfer summary ("..., 0.000043
// seconds, 91.0MB/s"), which depends on speed only.
var normDDStats = harness.Normalizer{
	Name: "dd transfer time and rate",
	Fn:   func(s string) string { return ddStatsRE.ReplaceAllString(s, "copied, T seconds, R/s") },
}

var bbCases = []bbCase{
	{name: "ls_la_etc", argv: []string{"/bin/ls", "-la", "/etc"}},
	{name: "ls_la_bin", argv: []string{"/bin/ls", "-la", "/bin"}},
	{name: "ls_ln_etc_apk", script: "ls -ln /etc/apk /etc/apk/keys; ls -d /lib/apk/db/*"},
	{name: "cat", script: "cat /etc/passwd /etc/alpine-release /etc/hostname"},
	{name: "wc", script: "wc /etc/passwd /etc/group /etc/services; wc -l < /etc/protocols"},
	{name: "sort", script: "sort /etc/passwd; sort -t: -k3 -n -r /etc/group"},
	{name: "uniq", script: "cut -d: -f7 /etc/passwd | sort | uniq -c; printf 'a\\na\\nb\\na\\n' | uniq -d"},
	{name: "head", script: "head -n 3 /etc/passwd; head -c 10 /etc/services | od -c"},
	{name: "tail", script: "tail -n 2 /etc/group; tail -c 17 /etc/services; tail -n +15 /etc/passwd"},
	{name: "cut", script: "cut -d: -f1,3 /etc/passwd; cut -c1-4 /etc/shells"},
	{name: "tr", script: "tr a-z A-Z < /etc/hostname; echo hello world | tr -d lo; echo aaabbb | tr -s ab"},
	{name: "sed", script: "sed -n 's/:x:/ /p' /etc/passwd | head -5; sed '3q' /etc/group; " +
		"rm -rf /tmp/sed && mkdir /tmp/sed && cp /etc/shells /tmp/sed/s && sed -i 's#/bin#/BIN#g; 1d' /tmp/sed/s && cat /tmp/sed/s"},
	{name: "awk", script: `awk -F: '{s+=$3} END{print s, NR}' /etc/passwd; awk -F: '$3<3{printf "%s=%d\n",$1,$3}' /etc/passwd; awk 'BEGIN{print length("kvsentry"), 7/2, substr("abcdef",2,3)}'`},
	{name: "grep", script: "grep -n root /etc/passwd; grep -c nologin /etc/passwd; grep -v -e sh -e nologin /etc/passwd; grep -i ALPINE /etc/os-release; grep zzz /etc/passwd; echo $?"},
	{name: "grep_r", script: "grep -r alpine /etc | sort; grep -rl root /etc | sort; grep -r nosuchstring /etc; echo $?"},
	{name: "find", script: "find /etc -name '*.conf' | sort; find /etc -type l | sort; find /etc/apk -type d | sort; find /nonexistent; echo $?"},
	{name: "stat", script: "stat -c '%n %s %a %U %G %F %h' /etc/passwd /etc /bin/busybox /bin/sh /etc/shadow /etc/apk /media /sbin/apk"},
	{name: "sha256sum", script: "sha256sum /bin/busybox /etc/passwd /lib/ld-musl-x86_64.so.1; echo -n abc | sha256sum"},
	{name: "md5sum", script: "md5sum /etc/group /etc/services; echo -n abc | md5sum"},
	{name: "base64", script: "base64 /etc/os-release; base64 /etc/services | base64 -d | cmp - /etc/services && echo roundtrip-ok"},
	{name: "od", script: "od -c /etc/hostname; od -An -tx1 -N16 /bin/busybox; printf '\\001\\377ab' | od -b"},
	{name: "gzip_gunzip", script: "rm -rf /tmp/gz && mkdir /tmp/gz && cp /etc/services /tmp/gz/s && gzip -9 /tmp/gz/s && ls /tmp/gz && " +
		"gunzip /tmp/gz/s.gz && ls /tmp/gz && sha256sum /tmp/gz/s && gzip -c < /etc/services | wc -c && gzip -c < /etc/services | gunzip | sha256sum"},
	{name: "tar", script: "rm -rf /tmp/tr && mkdir -p /tmp/tr/src/sub /tmp/tr/x && cd /tmp/tr && echo one > src/a && echo two > src/sub/b && ln -s a src/l && " +
		"tar cf t.tar src && tar tf t.tar | sort && tar xf t.tar -C x && find x | sort && cat x/src/a x/src/sub/b && readlink x/src/l && " +
		"tar czf t.tgz -C /etc apk && tar tzf t.tgz | sort"},
	{name: "expr", script: "expr 6 \\* 7; expr length hello; expr 7 % 3; expr abc : 'a\\(.\\)'; expr 5 / 0; echo $?; expr 1 = 2; echo $?"},
	{name: "seq", script: "seq 3; seq 1 3 10; seq -s, 5; seq 5 -2 0"},
	{name: "xargs", script: "seq 1 10 | xargs -n 3 echo; echo a b c | xargs -n1 echo x; printf '' | xargs echo empty"},
	{name: "readlink", script: "readlink -f /bin/sh; readlink /bin/ls; readlink -f /etc/../etc/./apk//keys; readlink /etc/passwd; echo $?"},
	{name: "mkdir_p", script: "rm -rf /tmp/mk && mkdir -p /tmp/mk/a/b/c && mkdir -m 700 /tmp/mk/p && find /tmp/mk | sort && stat -c '%n %a %F' /tmp/mk/a/b/c /tmp/mk/p; mkdir /tmp/mk/a; echo $?"},
	{name: "rm_r", script: "rm -rf /tmp/rm && mkdir -p /tmp/rm/a/b && touch /tmp/rm/a/b/f /tmp/rm/g && rm -r /tmp/rm/a && ls -a /tmp/rm; rm /tmp/rm/nonexistent; echo $?; rmdir /tmp/rm; echo $?"},
	{name: "cp_a", script: "rm -rf /tmp/cpa && mkdir /tmp/cpa && cp -a /etc/apk /tmp/cpa/ && cd /tmp/cpa && find . | sort | xargs stat -c '%n %a %U %G %s %Y %F' && cmp /etc/apk/world apk/world && echo same"},
	{name: "mv", script: "rm -rf /tmp/mv && mkdir -p /tmp/mv/d && echo data > /tmp/mv/f && mv /tmp/mv/f /tmp/mv/d/g && ls -R /tmp/mv && cat /tmp/mv/d/g && mv /tmp/mv/d /tmp/mv/e && ls /tmp/mv; mv /tmp/mv/nope /tmp/mv/x; echo $?"},
	{name: "ln", script: "rm -rf /tmp/ln && mkdir /tmp/ln && ln -s /etc/passwd /tmp/ln/s && ln /etc/hostname /tmp/ln/h && readlink /tmp/ln/s && head -1 /tmp/ln/s && stat -c '%h %s' /tmp/ln/h && ls -l /tmp/ln/s | cut -c1-10; ln -s x /tmp/ln/s; echo $?"},
	{name: "chmod", script: "rm -rf /tmp/ch && mkdir /tmp/ch && touch /tmp/ch/f && chmod 4750 /tmp/ch/f && stat -c '%a %A' /tmp/ch/f && chmod u-w,o+x /tmp/ch/f && stat -c '%a %A' /tmp/ch/f && chmod -R 700 /tmp/ch && stat -c '%a' /tmp/ch /tmp/ch/f; chmod 644 /tmp/ch/none; echo $?"},
	{name: "du_apparent", script: "rm -rf /tmp/du && mkdir /tmp/du && head -c 10000 /dev/zero > /tmp/du/a && head -c 123 /etc/services > /tmp/du/b && : > /tmp/du/c && du -b /tmp/du/a /tmp/du/b /tmp/du/c && du -b /bin/busybox /etc/passwd"},
	{name: "pipeline", script: "cat /etc/passwd | grep -v nologin | cut -d: -f1 | sort -r | head -3; yes kv | head -n 3; echo ${PIPESTATUS:-none}"},
	{name: "command_subst", script: "echo \"users: $(wc -l < /etc/passwd)\"; x=`echo hi`; echo $x; echo $(echo $(echo nested)); n=$(false); echo $?"},
	{name: "heredoc", script: "v=world; cat <<EOF\nhello $v\n$((1+2)) \\$v\nEOF\ncat <<'EOF'\nliteral $v\nEOF\ncat <<-EOF\n\tstripped\n\tEOF\n"},
	{name: "functions", script: "f() { echo \"f $1 $#\"; return 3; }; f a b; echo $?; g() { local x=in; echo $x; }; x=out; g; echo $x"},
	{name: "case", script: "for x in a.c b.h zz 'sp ace'; do case $x in *.c) echo C:$x;; *.h) echo H:$x;; *' '*) echo S:$x;; *) echo other:$x;; esac; done"},
	{name: "while_read", script: "while IFS=: read u x uid rest; do [ $uid -lt 5 ] && echo $u $uid; done < /etc/passwd; echo done"},
	{name: "loop_true_300", script: "i=0; while [ $i -lt 300 ]; do /bin/true || exit 9; i=$((i+1)); done; echo $i"},
	{name: "env_direct", argv: []string{"/usr/bin/env"}},
	{name: "env_sh", script: "env | sort; export FOO=bar; env | grep FOO; echo $HOME $PATH"},
	{name: "id", script: "id; id -u; id -g; id -un; whoami"},
	{name: "uname", script: "uname -s -m; uname -s; uname -m"},
	{name: "printf", script: "printf '%5d|%-5s|%x|%o|%c|%e\\n' 42 ab 255 8 xyz 3.5; printf '%s\\n' a b c; printf '%q\\n' 2>&1; printf '%d\\n' notanumber; echo $?"},
	{name: "date", script: "date -d @0 -u; date -u -d @1700000000 +%Y-%m-%dT%H:%M:%S; date -u -d @86399 +%s"},
	{name: "test", script: "[ -f /etc/passwd ] && echo f; [ -d /etc ] && echo d; test 3 -gt 2 && echo gt; [ -x /bin/busybox ] && echo x; " +
		"[ -L /bin/sh ] && echo L; [ -e /nonexist ]; echo $?; [ abc = abc ] && echo eq; [ -z '' ] && echo z; [ -s /etc/passwd ] && echo s; [ 1 -eq ]; echo $?"},
	{name: "basename_dirname", script: "basename /usr/lib/libc.so .so; basename /a/b/; dirname /a/b/c; dirname c; dirname /"},
	{name: "sleep", script: "sleep 0.1; echo $?; sleep 0; echo $?"},
	{name: "true_false", script: "true; echo $?; false; echo $?; ! true; echo $?; /bin/false; echo $?"},
	{name: "cd_pwd", script: "cd /tmp && pwd; cd /etc/apk && pwd && cd .. && pwd; cd /bin && pwd -P; cd /nonexistent; echo $?; pwd"},
	{name: "proc_self_exe", script: "readlink /proc/self/exe; readlink /proc/self/cwd; cd /etc && readlink /proc/self/cwd"},
	{name: "proc_self_misc", script: "cat /proc/self/cmdline | tr '\\0' ' '; echo; cat /proc/self/comm; grep -E '^(Name|Uid|Gid):' /proc/self/status; ls /proc/self/fd"},
	{name: "dev_nodes", script: "ls -l /dev/null /dev/zero /dev/full /dev/random /dev/urandom", norms: []harness.Normalizer{normDevDate}},
	{name: "dev_io", script: "head -c 8 /dev/zero | od -An -tx1; echo x > /dev/null; echo $?; cat /dev/null | wc -c; head -c 16 /dev/urandom | wc -c; echo x > /dev/full; echo $?"},
	{name: "dd", script: "dd if=/dev/zero bs=1k count=4 | wc -c; dd if=/etc/services bs=100 skip=1 count=2 2>/dev/null | md5sum", norms: []harness.Normalizer{normDDStats}},
	{name: "stderr_status", script: "ls /nonexistent; echo $?; cat /etc/shadow /nope; echo $?; nosuchcmd; echo $?; /etc/passwd; echo $?"},
	{name: "redirections", script: "rm -rf /tmp/rd && mkdir /tmp/rd && cd /tmp/rd && echo a > f && echo b >> f && cat f && exec 3< f && read l <&3 && echo got $l && " +
		"{ echo out; echo err >&2; } > o 2> e && cat o e && echo x 2>&1 >/dev/null | wc -c; cat < nope; echo $?"},
	{name: "subshell_background", script: "(echo sub; exit 3); echo $?; sleep 0.01 & wait $!; echo $?; (exit 4) & wait $!; echo $?; echo $(( $$ > 0 ))"},
	{name: "signals_in_shell", script: "sh -c 'kill -TERM $$'; echo $?; sh -c 'kill -9 $$'; echo $?; trap 'echo trapped' USR1; kill -USR1 $$; echo after"},
	{name: "umask", script: "umask; rm -rf /tmp/um && mkdir /tmp/um && umask 027 && umask && touch /tmp/um/f && mkdir /tmp/um/d && stat -c '%n %a' /tmp/um/f /tmp/um/d"},
	{name: "sort_uniq_comm", script: "cut -d: -f1 /etc/passwd > /tmp/p1; cut -d: -f1 /etc/group > /tmp/g1; sort /tmp/p1 /tmp/g1 | uniq -d; sort -u /tmp/p1 | wc -l; rm /tmp/p1 /tmp/g1"},
	{name: "wc_busybox", script: "wc -c /bin/busybox; ls -lL /bin/sh | awk '{print $1, $2, $3, $4, $5}'"},
	{name: "sh_exit_code", argv: []string{"/bin/sh", "-c", "echo partial; exit 42"}},
}

// TestBusyboxDifferential runs every case natively and in the sandbox and
// compares stdout, stderr and exit status byte for byte.
func TestBusyboxDifferential(t *testing.T) {
	harness.RequireRoot(t)
	if len(bbCases) < 45 {
		t.Fatalf("only %d cases", len(bbCases))
	}
	for _, c := range bbCases {
		t.Run(c.name, func(t *testing.T) {
			argv := c.argv
			if argv == nil {
				argv = []string{"/bin/sh", "-c", c.script}
			}
			for _, n := range c.norms {
				t.Logf("normaliser applied to both sides: %s", n.Name)
			}
			harness.Differential(t, argv, c.norms...)
		})
	}
}
