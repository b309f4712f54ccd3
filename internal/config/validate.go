package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Validate checks every value of c. Its *Error values carry keys but no file
// or line; Load runs the same checks and adds both.
func (c Config) Validate() error {
	return joinErrors(c.validate(func(string) int { return 0 }))
}

// validate lists every problem; lineOf locates a key path in the file.
func (c Config) validate(lineOf func(path string) int) []*Error {
	var errs []*Error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &Error{Line: lineOf(key), Key: key, Msg: fmt.Sprintf(format, args...), Err: ErrValue})
	}
	if msg := checkHostname(c.Hostname); msg != "" {
		bad("hostname", "%s", msg)
	}
	if !oneOf(c.Log.Level, "debug", "info", "warn", "error") {
		bad("log.level", "%q is not one of debug, info, warn, error", c.Log.Level)
	}
	if !oneOf(c.Log.Format, "text", "json") {
		bad("log.format", "%q is not one of text, json", c.Log.Format)
	}
	files := []struct{ key, v string }{{"tls.cert", c.TLS.Cert}, {"tls.key", c.TLS.Key}}
	switch c.Store.Backend {
	case "sqlite":
		files = append(files, struct{ key, v string }{"store.path", c.Store.Path}, struct{ key, v string }{"store.blobs", c.Store.Blobs})
	case "postgres":
		if msg := checkDSN(c.Store.DSN); msg != "" {
			bad("store.dsn", "%s", msg)
		}
	default:
		bad("store.backend", "%q is not a supported backend (\"sqlite\" or \"postgres\")", c.Store.Backend)
	}
	for _, f := range files {
		if f.v == "" {
			bad(f.key, "must not be empty")
		}
	}
	for i, p := range c.TLS.Extra {
		prefix := "tls.extra[" + strconv.Itoa(i) + "]"
		if p.Cert == "" {
			bad(prefix+".cert", "must not be empty")
		}
		if p.Key == "" {
			bad(prefix+".key", "must not be empty")
		}
	}
	if c.SMTP.MaxMessageSize <= 0 {
		bad("smtp.max_message_size", "must be more than 0 bytes")
	}
	if c.SMTP.RelayPort < 1 || c.SMTP.RelayPort > 65535 {
		bad("smtp.relay_port", "%d is not a port from 1 to 65535", c.SMTP.RelayPort)
	}
	if c.DNS.Resolver != "" {
		if _, _, msg := parseAddress(c.DNS.Resolver); msg != "" {
			bad("dns.resolver", "%s", msg)
		}
	}
	if c.Queue.Timeout < time.Second {
		bad("queue.timeout", "%s is shorter than one second", c.Queue.Timeout)
	}
	if c.Limits.ShutdownTimeout < 0 {
		bad("limits.shutdown_timeout", "must not be negative")
	}
	errs = append(errs, c.checkListeners(lineOf)...)
	return errs
}

func oneOf(v string, set ...string) bool {
	for _, s := range set {
		if v == s {
			return true
		}
	}
	return false
}

// listener is one address of one listener list.
type listener struct {
	key  string // e.g. "imap.tls_listen"
	addr string
	line int
	host string // normalised: lower case, IPs in canonical form
	port int
}

func (c Config) listenerLists() []struct {
	key   string
	addrs []string
} {
	return []struct {
		key   string
		addrs []string
	}{
		{"smtp.listen", c.SMTP.Listen},
		{"smtp.submission", c.SMTP.Submission},
		{"smtp.submissions", c.SMTP.Submissions},
		{"imap.listen", c.IMAP.Listen},
		{"imap.tls_listen", c.IMAP.TLSListen},
		{"pop3.listen", c.POP3.Listen},
		{"pop3.tls_listen", c.POP3.TLSListen},
		{"http.listen", c.HTTP.Listen},
		{"http.tls_listen", c.HTTP.TLSListen},
	}
}

// checkListeners checks each address, then looks for two listeners that
// would bind the same socket. The one later in the file is blamed: it is the
// one the user just added, and defaults (line 0) come first.
func (c Config) checkListeners(lineOf func(string) int) []*Error {
	var errs []*Error
	var all []listener
	for _, list := range c.listenerLists() {
		for i, addr := range list.addrs {
			line := lineOf(list.key + "[" + strconv.Itoa(i) + "]")
			host, port, msg := parseAddress(addr)
			if msg != "" {
				errs = append(errs, &Error{Line: line, Key: list.key, Msg: msg, Err: ErrValue})
				continue
			}
			all = append(all, listener{key: list.key, addr: addr, line: line, host: host, port: port})
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].line < all[j].line })
	for i, l := range all {
		for _, earlier := range all[:i] {
			if clash(earlier, l) {
				errs = append(errs, &Error{Line: l.line, Key: l.key, Msg: fmt.Sprintf("%q is also used by %s (%q)", l.addr, earlier.key, earlier.addr), Err: ErrValue})
				break
			}
		}
	}
	return errs
}

// clash reports whether two listeners would compete for one socket. An
// empty or unspecified host binds every address, so it clashes with
// anything on its port; named hosts are compared by name, not resolved.
func clash(a, b listener) bool {
	if a.port != b.port {
		return false
	}
	return a.host == b.host || wildcard(a.host) || wildcard(b.host)
}

func wildcard(host string) bool {
	return host == "" || host == "0.0.0.0" || host == "::"
}

// parseAddress checks a listener address "host:port", where host is empty,
// an IP address (IPv6 in brackets) or a DNS name and port is 1-65535. It
// returns the normalised host and the port, or a message saying what is wrong.
func parseAddress(addr string) (host string, port int, msg string) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Sprintf("%q is not a host:port address", addr)
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 || p[0] == '+' {
		return "", 0, fmt.Sprintf("%q: port %q is not a number from 1 to 65535", addr, p)
	}
	if h == "" {
		return "", n, ""
	}
	if ip, err := netip.ParseAddr(h); err == nil {
		return ip.String(), n, ""
	}
	if checkHostname(h) != "" {
		return "", 0, fmt.Sprintf("%q: host %q is not an IP address or DNS name", addr, h)
	}
	return strings.ToLower(h), n, ""
}

// checkHostname returns why name is not a DNS host name (RFC 1123 section
// 2.1: letters, digits and hyphens, labels of 1-63 characters not starting
// or ending with a hyphen, 253 characters in all), or "" if it is one.
func checkHostname(name string) string {
	switch {
	case name == "":
		return "must not be empty"
	case len(name) > 253:
		return fmt.Sprintf("%q is longer than 253 characters", name)
	}
	if _, err := netip.ParseAddr(name); err == nil {
		return fmt.Sprintf("%q is an IP address, not a DNS name", name)
	}
	for _, label := range strings.Split(name, ".") {
		if msg := checkLabel(label); msg != "" {
			return fmt.Sprintf("%q is not a valid DNS name: %s", name, msg)
		}
	}
	return ""
}

func checkLabel(label string) string {
	switch {
	case label == "":
		return "empty label"
	case len(label) > 63:
		return fmt.Sprintf("label %q is longer than 63 characters", label)
	case label[0] == '-' || label[len(label)-1] == '-':
		return fmt.Sprintf("label %q starts or ends with a hyphen", label)
	}
	for _, r := range label {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return fmt.Sprintf("label %q contains %q", label, r)
		}
	}
	return ""
}

// checkDSN checks that a PostgreSQL connection string is a postgres:// URL naming a
// host and a database; whether the server answers is for start-up to find out.
func checkDSN(dsn string) string {
	if dsn == "" {
		return `must not be empty with backend "postgres" (postgres://user@host:5432/database)`
	}
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "is not a postgres:// URL"
	}
	if u.Host == "" && u.Query().Get("host") == "" {
		return "names no host"
	}
	if strings.Trim(u.Path, "/") == "" {
		return "names no database"
	}
	return ""
}
