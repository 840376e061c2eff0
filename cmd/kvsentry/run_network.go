package main

import (
	"flag"
	"fmt"
	"net"
	"strings"
)

// networkUsage documents the network flags of "kvsentry run".
const networkUsage = `  --network MODE     none (default: only a loopback interface) or host
  --dns IP           nameserver for the guest's /etc/resolv.conf (repeatable;
                     default: the host's resolv.conf)
  --hostname NAME    the guest's hostname (default kvsentry)
`

// networkOptions are the network flags of "kvsentry run".
type networkOptions struct {
	Mode     string
	DNS      []string
	Hostname string
}

// modeFlag accepts the network modes.
type modeFlag struct{ mode *string }

// String implements flag.Value.
func (m modeFlag) String() string {
	if m.mode == nil {
		return ""
	}
	return *m.mode
}

// Set implements flag.Value.
func (m modeFlag) Set(s string) error {
	if s != "none" && s != "host" {
		return fmt.Errorf("--network %q: want none or host", s)
	}
	*m.mode = s
	return nil
}

// dnsFlag collects repeated --dns flags, each an IP address.
type dnsFlag struct{ dns *[]string }

// String implements flag.Value.
func (d dnsFlag) String() string {
	if d.dns == nil {
		return ""
	}
	return strings.Join(*d.dns, ",")
}

// Set implements flag.Value.
func (d dnsFlag) Set(s string) error {
	if net.ParseIP(s) == nil {
		return fmt.Errorf("--dns %q: not an IP address", s)
	}
	*d.dns = append(*d.dns, s)
	return nil
}

// hostnameFlag checks a hostname as sethostname(2) would take it.
type hostnameFlag struct{ name *string }

// String implements flag.Value.
func (h hostnameFlag) String() string {
	if h.name == nil {
		return ""
	}
	return *h.name
}

// Set implements flag.Value: 1 to 64 bytes, no NUL, blank or '/'.
func (h hostnameFlag) Set(s string) error {
	if s == "" || len(s) > 64 || strings.ContainsAny(s, "\x00 \t\n/") {
		return fmt.Errorf("--hostname %q: want 1 to 64 characters without blanks", s)
	}
	*h.name = s
	return nil
}

// addNetworkFlags registers --network, --dns and --hostname on fs.
func addNetworkFlags(fs *flag.FlagSet, n *networkOptions) {
	n.Mode = "none"
	fs.Var(modeFlag{&n.Mode}, "network", "")
	fs.Var(dnsFlag{&n.DNS}, "dns", "")
	fs.Var(hostnameFlag{&n.Hostname}, "hostname", "")
}
