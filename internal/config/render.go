package config

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Render writes c as the commented file `mailroom init` creates. Every key
// is present with a comment saying what it does; listeners also say their
// standard port, so moving to standard ports is one edit per line. Dir is not
// written: it is wherever the file is. Load(Render(c)) gives back c.
func Render(c Config) []byte {
	var w renderer
	w.comment("Mailroom configuration, read once when `mailroom serve` starts.")
	w.comment("Relative paths are relative to the directory holding this file.")
	w.comment("Listeners use unprivileged ports so Mailroom can run without root;")
	w.comment("each line notes the standard port. An empty list [] disables a listener.")
	w.blank()
	w.comment("Fully qualified name of this server, used in greetings and certificates.")
	w.key("hostname", quote(c.Hostname), "")

	w.table("log")
	w.comment("Lowest level logged: debug, info, warn or error.")
	w.key("level", quote(c.Log.Level), "")
	w.comment("Log line format: text or json.")
	w.key("format", quote(c.Log.Format), "")

	w.table("store")
	w.comment(`Storage backend: "sqlite" keeps everything in this data directory on one`)
	w.comment(`machine; "postgres" keeps everything, message bodies included, in the`)
	w.comment("PostgreSQL database named by dsn, which several Mailroom nodes may share.")
	w.key("backend", quote(c.Store.Backend), "")
	if c.Store.Backend == "postgres" {
		w.comment("PostgreSQL connection URL; the database must exist and its owner may")
		w.comment("create extensions (pg_trgm). Keep this file unreadable to others if it")
		w.comment("holds a password.")
		w.key("dsn", quote(c.Store.DSN), "")
	} else {
		w.comment("SQLite database file.")
		w.key("path", quote(c.Store.Path), "")
		w.comment("Directory of message bodies.")
		w.key("blobs", quote(c.Store.Blobs), "")
	}

	w.table("tls")
	w.comment("PEM certificate chain and private key, served when no other pair")
	w.comment("matches the name the client asks for (SNI).")
	w.key("cert", quote(c.TLS.Cert), "")
	w.key("key", quote(c.TLS.Key), "")
	w.comment("More pairs for other names, chosen by SNI, for example")
	w.comment(`extra = [{ cert = "tls/other.pem", key = "tls/other-key.pem" }]`)
	w.key("extra", renderPairs(c.TLS.Extra), "")

	w.table("smtp")
	w.comment("Mail from other servers (MX), STARTTLS offered.")
	w.key("listen", renderList(c.SMTP.Listen), "25")
	w.comment("Mail submission from users, STARTTLS.")
	w.key("submission", renderList(c.SMTP.Submission), "587")
	w.comment("Mail submission from users over implicit TLS.")
	w.key("submissions", renderList(c.SMTP.Submissions), "465")
	w.comment("Largest message accepted: bytes, or with a unit (KB, MB, GB, KiB, MiB, GiB).")
	w.key("max_message_size", quote(c.SMTP.MaxMessageSize.String()), "")
	w.comment("Port of other domains' mail exchangers for outbound delivery (25 but in tests).")
	w.key("relay_port", strconv.Itoa(c.SMTP.RelayPort), "")

	w.listeners("imap", "IMAP", "STARTTLS", c.IMAP, "143", "993")
	w.listeners("pop3", "POP3", "STLS", c.POP3, "110", "995")

	w.table("http")
	w.comment("Plain HTTP: health checks and redirects to HTTPS.")
	w.key("listen", renderList(c.HTTP.Listen), "80")
	w.comment("HTTPS: ActiveSync, Autodiscover, admin API, DAV and metrics.")
	w.key("tls_listen", renderList(c.HTTP.TLSListen), "443")

	w.table("dns")
	w.comment("DNS server (host:port) for SPF/DKIM/DMARC checks and outbound delivery;")
	w.comment("empty: the system's resolver.")
	w.key("resolver", quote(c.DNS.Resolver), "")

	w.table("queue")
	w.comment("Longest SMTP conversation with another server. A node holds a recipient")
	w.comment("for twice this (at most 5 minutes more); if it dies, another node retries after that.")
	w.key("timeout", quote(c.Queue.Timeout.String()), "")

	w.table("limits")
	w.comment("How long shutdown waits for open connections to finish.")
	w.key("shutdown_timeout", quote(c.Limits.ShutdownTimeout.String()), "")
	return w.buf.Bytes()
}

type renderer struct{ buf bytes.Buffer }

func (w *renderer) blank() { w.buf.WriteByte('\n') }

func (w *renderer) comment(text string) { w.buf.WriteString("# " + text + "\n") }

func (w *renderer) table(name string) { w.buf.WriteString("\n[" + name + "]\n") }

// key writes one key; a standard port goes in a trailing comment so the
// line to edit is the one that says what to put there.
func (w *renderer) key(name, value, standard string) {
	w.buf.WriteString(name + " = " + value)
	if standard != "" {
		w.buf.WriteString("  # standard: " + standard)
	}
	w.buf.WriteByte('\n')
}

func (w *renderer) listeners(table, proto, upgrade string, l Listeners, plain, implicit string) {
	w.table(table)
	w.comment(fmt.Sprintf("%s in plain text, upgraded with %s.", proto, upgrade))
	w.key("listen", renderList(l.Listen), plain)
	w.comment(fmt.Sprintf("%s over implicit TLS.", proto))
	w.key("tls_listen", renderList(l.TLSListen), implicit)
}

func renderList(items []string) string {
	quoted := make([]string, len(items))
	for i, s := range items {
		quoted[i] = quote(s)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}

// renderPairs writes one inline table per line; TOML 1.0 wants each inline
// table on a single line, but the array around them may span lines.
func renderPairs(pairs []Pair) string {
	if len(pairs) == 0 {
		return "[]"
	}
	var b strings.Builder
	b.WriteString("[\n")
	for _, p := range pairs {
		b.WriteString("  { cert = " + quote(p.Cert) + ", key = " + quote(p.Key) + " },\n")
	}
	b.WriteString("]")
	return b.String()
}

// quote writes a TOML basic string. strconv.Quote is not used because TOML
// has no \x or \a escapes; control characters become \uXXXX instead.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		case r == utf8.RuneError:
			// Only reachable for invalid UTF-8, which a TOML file cannot hold.
			b.WriteString(`\uFFFD`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
