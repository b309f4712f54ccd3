package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// load writes doc to a fresh directory as mailroom.toml and loads it.
func load(t *testing.T, doc string) (Config, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), DefaultFile)
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return Load(path)
}

const host = "hostname = \"mail.example.test\"\n"

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		line int
		key  string
		kind error
		msg  string // substring of Error()
	}{
		// Syntax errors, positioned by go-toml.
		{"unclosed table header", host + "\n[imap\nlisten = []\n", 3, "", ErrSyntax, ""},
		{"newline in string", host + "[log]\nlevel = \"info\n", 3, "", ErrSyntax, ""},
		{"key defined twice", host + "[log]\nlevel = \"info\"\nlevel = \"warn\"\n", 4, "level", ErrSyntax, "already defined"},
		{"table defined twice", host + "[log]\n[store]\n[log]\n", 4, "log", ErrSyntax, "already exists"},
		{"missing value", host + "[smtp]\n\nlisten =\n", 4, "", ErrSyntax, ""},

		// Unknown keys, found by strict decoding.
		{"misspelt top-level key", "# comment\n\nhostnme = \"mail.example.test\"\n", 3, "hostnme", ErrUnknownKey, `:3: unknown key "hostnme"`},
		{"unknown key in table", host + "[smtp]\nlisten = []\nport = 25\n", 4, "smtp.port", ErrUnknownKey, `unknown key "smtp.port"`},
		{"unknown table", host + "\n\n[bogus]\nx = 1\n", 4, "bogus", ErrUnknownKey, ""},
		{"unknown key in array table", host + "[[tls.extra]]\ncert = \"a\"\nkey = \"b\"\n[[tls.extra]]\ncrt = \"c\"\n", 6, "tls.extra.crt", ErrUnknownKey, ""},
		{"unknown dotted key", host + "imap.listn = []\n", 2, "imap.listn", ErrUnknownKey, ""},

		// Wrong types, found by the schema check.
		{"hostname integer", "hostname = 5\n", 1, "hostname", ErrType, "hostname: expected a string, found an integer"},
		{"list as string", host + "[imap]\nlisten = \":143\"\n", 3, "imap.listen", ErrType, "expected a list, found a string"},
		{"list of integers", host + "[pop3]\ntls_listen = [\n  \":995\",\n  995,\n]\n", 5, "pop3.tls_listen[1]", ErrType, "found an integer"},
		{"size as float", host + "[smtp]\nmax_message_size = 1.5\n", 3, "smtp.max_message_size", ErrType, "found a float"},
		{"size as boolean", host + "[smtp]\nmax_message_size = true\n", 3, "smtp.max_message_size", ErrType, "found a boolean"},
		{"table as string", host + "log = \"debug\"\n", 2, "log", ErrType, "expected a table"},
		{"extra as table", host + "[tls.extra]\ncert = \"a\"\n", 2, "tls.extra", ErrType, "expected a list, found a table"},
		{"extra element string", host + "[tls]\nextra = [\"a\"]\n", 3, "tls.extra[0]", ErrType, "expected a table"},
		{"pair cert integer", host + "[[tls.extra]]\ncert = 1\nkey = \"k\"\n", 3, "tls.extra[0].cert", ErrType, ""},
		{"duration as integer", host + "[limits]\nshutdown_timeout = 30\n", 3, "limits.shutdown_timeout", ErrType, ""},
		{"date as string", "hostname = 2024-01-01\n", 1, "hostname", ErrType, "found a date or time"},

		// Bad values.
		{"hostname empty", "hostname = \"\"\n", 1, "hostname", ErrValue, "must not be empty"},
		{"hostname missing", "[log]\nlevel = \"info\"\n", 0, "hostname", ErrValue, "must not be empty"},
		{"hostname underscore", "hostname = \"mail_server.example.test\"\n", 1, "hostname", ErrValue, "not a valid DNS name"},
		{"hostname leading hyphen", "hostname = \"-mail.example.test\"\n", 1, "hostname", ErrValue, "hyphen"},
		{"hostname empty label", "hostname = \"mail..example.test\"\n", 1, "hostname", ErrValue, "empty label"},
		{"hostname trailing dot", "hostname = \"mail.example.test.\"\n", 1, "hostname", ErrValue, "empty label"},
		{"hostname long label", "hostname = \"" + strings.Repeat("a", 64) + ".test\"\n", 1, "hostname", ErrValue, "longer than 63"},
		{"hostname is IP", "hostname = \"192.0.2.1\"\n", 1, "hostname", ErrValue, "IP address"},
		{"log level", host + "[log]\nlevel = \"verbose\"\n", 3, "log.level", ErrValue, `"verbose" is not one of debug, info, warn, error`},
		{"log format", host + "[log]\nformat = \"xml\"\n", 3, "log.format", ErrValue, ""},
		{"backend", host + "[store]\nbackend = \"mysql\"\n", 3, "store.backend", ErrValue, `"sqlite" or "postgres"`},
		{"postgres without dsn", host + "[store]\nbackend = \"postgres\"\n", 2, "store.dsn", ErrValue, "must not be empty"},
		{"dsn not a URL", host + "[store]\nbackend = \"postgres\"\ndsn = \"host=db dbname=m\"\n", 4, "store.dsn", ErrValue, "postgres:// URL"},
		{"dsn without database", host + "[store]\nbackend = \"postgres\"\ndsn = \"postgres://u@db:5432\"\n", 4, "store.dsn", ErrValue, "no database"},
		{"store path empty", host + "[store]\npath = \"\"\n", 3, "store.path", ErrValue, "must not be empty"},
		{"tls key empty", host + "[tls]\ncert = \"c\"\nkey = \"\"\n", 4, "tls.key", ErrValue, ""},
		{"extra pair without key", host + "\n[[tls.extra]]\ncert = \"c.pem\"\n", 3, "tls.extra[0].key", ErrValue, "must not be empty"},
		{"size unit", host + "[smtp]\nmax_message_size = \"50XB\"\n", 3, "smtp.max_message_size", ErrValue, `"50XB" is not a size`},
		{"size zero", host + "[smtp]\nmax_message_size = 0\n", 3, "smtp.max_message_size", ErrValue, "more than 0"},
		{"size negative", host + "[smtp]\nmax_message_size = -5\n", 3, "smtp.max_message_size", ErrValue, "more than 0"},
		{"size overflow", host + "[smtp]\nmax_message_size = \"9999999999TiB\"\n", 3, "smtp.max_message_size", ErrValue, ""},
		{"duration", host + "[limits]\nshutdown_timeout = \"soon\"\n", 3, "limits.shutdown_timeout", ErrValue, "not a duration"},
		{"duration negative", host + "[limits]\nshutdown_timeout = \"-1s\"\n", 3, "limits.shutdown_timeout", ErrValue, "negative"},
		{"queue timeout", host + "[queue]\ntimeout = \"a while\"\n", 3, "queue.timeout", ErrValue, "not a duration"},
		{"queue timeout too short", host + "[queue]\ntimeout = \"10ms\"\n", 3, "queue.timeout", ErrValue, "shorter than one second"},
		{"queue timeout as integer", host + "[queue]\ntimeout = 30\n", 3, "queue.timeout", ErrType, ""},
		{"relay port out of range", host + "[smtp]\nrelay_port = 70000\n", 3, "smtp.relay_port", ErrValue, "70000"},
		{"relay port as string", host + "[smtp]\nrelay_port = \"25\"\n", 3, "smtp.relay_port", ErrType, ""},
		{"resolver without port", host + "[dns]\nresolver = \"127.0.0.1\"\n", 3, "dns.resolver", ErrValue, "host:port"},
		{"address without port", host + "[imap]\ntls_listen = [\"99999\"]\n", 3, "imap.tls_listen", ErrValue, `imap.tls_listen: "99999" is not a host:port address`},
		{"port zero", host + "[imap]\nlisten = [\":0\"]\n", 3, "imap.listen", ErrValue, "port \"0\" is not a number from 1 to 65535"},
		{"port too large", host + "[smtp]\nsubmission = [\"127.0.0.1:70000\"]\n", 3, "smtp.submission", ErrValue, "1 to 65535"},
		{"port name", host + "[smtp]\nsubmissions = [\":smtps\"]\n", 3, "smtp.submissions", ErrValue, "1 to 65535"},
		{"port with sign", host + "[smtp]\nsubmissions = [\":+465\"]\n", 3, "smtp.submissions", ErrValue, "1 to 65535"},
		{"bad host", host + "[http]\nlisten = [\"exa_mple:80\"]\n", 3, "http.listen", ErrValue, "not an IP address or DNS name"},
		{"bad address in multi-line list", host + "[http]\ntls_listen = [\n  \":443\",\n  \"[::1]:444\",\n  \"localhost\",\n]\n", 6, "http.tls_listen", ErrValue, `"localhost" is not a host:port`},
		{"clash with default", host + "[imap]\nlisten = [\":2525\"]\n", 3, "imap.listen", ErrValue, `":2525" is also used by smtp.listen`},
		{"clash in file, later blamed", host + "[smtp]\nlisten = [\":25\"]\n[pop3]\n\nlisten = [\"0.0.0.0:25\"]\n", 6, "pop3.listen", ErrValue, "also used by smtp.listen"},
		{"clash within one list", host + "[smtp]\nlisten = [\n  \":25\",\n  \":25\",\n]\n", 5, "smtp.listen", ErrValue, "also used by smtp.listen"},
		{"clash with wildcard", host + "[pop3]\nlisten = [\"127.0.0.1:2143\"]\n", 3, "pop3.listen", ErrValue, "imap.listen"},
		{"clash same IPv6 spelt twice", host + "[imap]\nlisten = [\"[::1]:143\"]\ntls_listen = [\"[0:0::1]:143\"]\n", 4, "imap.tls_listen", ErrValue, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(t, tt.doc)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %v (%T) is not a *config.Error", err, err)
			}
			if ce.Line != tt.line || ce.Key != tt.key || !errors.Is(ce, tt.kind) {
				t.Errorf("got line %d key %q kind %v (%v), want line %d key %q kind %v", ce.Line, ce.Key, ce.Err, err, tt.line, tt.key, tt.kind)
			}
			if filepath.Base(ce.File) != DefaultFile {
				t.Errorf("File = %q, want the loaded path", ce.File)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not contain %q", err, tt.msg)
			}
		})
	}
}

func TestLoadErrorText(t *testing.T) {
	t.Chdir(t.TempDir())
	doc := host + strings.Repeat("\n", 10) + "[imap]\nlisten = [\":2143\"]\ntls_listen = [\"99999\"]\n"
	if err := os.WriteFile(DefaultFile, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(DefaultFile)
	const want = `mailroom.toml:14: imap.tls_listen: "99999" is not a host:port address`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}

	if err := os.WriteFile(DefaultFile, []byte("# Mailroom\n\nhostnme = \"x\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(DefaultFile)
	const wantUnknown = `mailroom.toml:3: unknown key "hostnme"`
	if err == nil || err.Error() != wantUnknown {
		t.Fatalf("got %v, want %s", err, wantUnknown)
	}
}

// Several mistakes are all reported, in file order.
func TestLoadReportsEveryProblem(t *testing.T) {
	doc := "hostname = \"bad_name\"\n[log]\nlevel = \"loud\"\n[imap]\nlisten = [\"x\"]\n"
	_, err := load(t, doc)
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("got %v (%T), want joined errors", err, err)
	}
	var lines []int
	for _, e := range joined.Unwrap() {
		var ce *Error
		if !errors.As(e, &ce) {
			t.Fatalf("%v is not a *config.Error", e)
		}
		lines = append(lines, ce.Line)
	}
	if want := []int{1, 3, 5}; !reflect.DeepEqual(lines, want) {
		t.Errorf("lines %v, want %v", lines, want)
	}

	doc = "hostnme = 1\n[smtp]\nport = 25\n"
	_, err = load(t, doc)
	if n := len(err.(interface{ Unwrap() []error }).Unwrap()); n != 2 {
		t.Errorf("got %d unknown keys (%v), want 2", n, err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.toml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("got %v, want fs.ErrNotExist", err)
	}
}

func TestLoadValues(t *testing.T) {
	tests := []struct {
		name  string
		doc   string
		check func(c Config) bool
	}{
		{"defaults fill the rest", host, func(c Config) bool {
			want := Default(c.Dir, "mail.example.test")
			return reflect.DeepEqual(c, want)
		}},
		{"empty list disables", host + "[pop3]\nlisten = []\n", func(c Config) bool {
			return c.POP3.Listen == nil && reflect.DeepEqual(c.POP3.TLSListen, []string{":2995"})
		}},
		{"integer size", host + "[smtp]\nmax_message_size = 1_000\n", func(c Config) bool { return c.SMTP.MaxMessageSize == 1000 }},
		{"binary size", host + "[smtp]\nmax_message_size = \"1GiB\"\n", func(c Config) bool { return c.SMTP.MaxMessageSize == GiB }},
		{"duration", host + "[limits]\nshutdown_timeout = \"1m30s\"\n", func(c Config) bool { return c.Limits.ShutdownTimeout == 90*time.Second }},
		{"queue timeout", host + "[queue]\ntimeout = \"20s\"\n", func(c Config) bool { return c.Queue.Timeout == 20*time.Second }},
		{"queue timeout default", host, func(c Config) bool { return c.Queue.Timeout == 10*time.Minute }},
		{"resolver", host + "[dns]\nresolver = \"127.0.0.1:5353\"\n", func(c Config) bool { return c.DNS.Resolver == "127.0.0.1:5353" }},
		{"dotted keys", host + "imap.listen = [\"127.0.0.1:143\", \"[::1]:143\", \"localhost:1143\"]\n", func(c Config) bool {
			return len(c.IMAP.Listen) == 3
		}},
		{"array tables", host + "[tls]\ncert = \"/etc/a.pem\"\n[[tls.extra]]\ncert = \"b.pem\"\nkey = \"b.key\"\n[[tls.extra]]\ncert = \"c.pem\"\nkey = \"c.key\"\n", func(c Config) bool {
			return reflect.DeepEqual(c.TLS.Extra, []Pair{{"b.pem", "b.key"}, {"c.pem", "c.key"}}) && c.TLS.Cert == "/etc/a.pem"
		}},
		{"inline extra", host + "[tls]\nextra = [{ cert = \"b.pem\", key = \"b.key\" }]\n", func(c Config) bool {
			return reflect.DeepEqual(c.TLS.Extra, []Pair{{"b.pem", "b.key"}})
		}},
		{"single-label hostname", "hostname = \"localhost\"\n", func(c Config) bool { return c.Hostname == "localhost" }},
		{"separate hosts share a port", host + "[imap]\nlisten = [\"192.0.2.1:143\"]\ntls_listen = [\"192.0.2.2:143\"]\n", func(c Config) bool { return true }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := load(t, tt.doc)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(c) {
				t.Errorf("unexpected config %+v", c)
			}
		})
	}
}

func TestPaths(t *testing.T) {
	dir := t.TempDir()
	c := Default(dir, "mail.example.test")
	c.TLS.Cert = "/etc/mailroom/cert.pem"
	c.TLS.Extra = []Pair{{Cert: "tls/b.pem", Key: "/k/b.key"}}
	if got, want := c.Path(c.Store.Path), filepath.Join(dir, "mailroom.db"); got != want {
		t.Errorf("Path = %q, want %q", got, want)
	}
	want := []Pair{
		{"/etc/mailroom/cert.pem", filepath.Join(dir, "tls/key.pem")},
		{filepath.Join(dir, "tls/b.pem"), "/k/b.key"},
	}
	if got := c.CertPairs(); !reflect.DeepEqual(got, want) {
		t.Errorf("CertPairs = %v, want %v", got, want)
	}
	path := filepath.Join(dir, DefaultFile)
	if err := os.WriteFile(path, []byte(host), 0o600); err != nil {
		t.Fatal(err)
	}
	loaded, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.Dir != dir {
		t.Errorf("Dir = %q, want %q", loaded.Dir, dir)
	}
}

func TestValidate(t *testing.T) {
	if err := Default("/data", "mail.example.test").Validate(); err != nil {
		t.Fatalf("default config invalid: %v", err)
	}
	c := Default("/data", "")
	c.IMAP.TLSListen = []string{":2465"}
	err := c.Validate()
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok || len(joined.Unwrap()) != 2 {
		t.Fatalf("got %v, want two errors", err)
	}
	var ce *Error
	if !errors.As(err, &ce) || ce.Key != "hostname" || ce.File != "" || ce.Line != 0 {
		t.Fatalf("first error %+v, want hostname without location", ce)
	}
	if got := joined.Unwrap()[1].Error(); got != `imap.tls_listen: ":2465" is also used by smtp.submissions (":2465")` {
		t.Errorf("clash message %q", got)
	}
}
