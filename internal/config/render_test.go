package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// roundTrip renders c into its own Dir and loads it back.
func roundTrip(t *testing.T, c Config) Config {
	t.Helper()
	path := filepath.Join(c.Dir, DefaultFile)
	if err := os.WriteFile(path, Render(c), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatalf("Load(Render(c)): %v\n%s", err, Render(c))
	}
	return got
}

func TestRenderRoundTrip(t *testing.T) {
	dir := t.TempDir()
	custom := Default(dir, "Mail-1.Example.test")
	custom.Log = Log{Level: "debug", Format: "json"}
	custom.Store.Path = `/var/lib/mailroom/"quoted" \ db`
	custom.Store.Blobs = "blöbs\tdir"
	custom.TLS.Extra = []Pair{{"tls/a.pem", "tls/a.key"}, {"/etc/b.pem", "/etc/b.key"}}
	custom.SMTP.Listen = []string{"192.0.2.1:25", "[2001:db8::1]:25"}
	custom.SMTP.Submission = nil
	custom.SMTP.MaxMessageSize = 12345
	custom.IMAP.Listen = nil
	custom.POP3 = Listeners{}
	custom.HTTP.TLSListen = []string{"localhost:8443", ":9443"}
	custom.Limits.ShutdownTimeout = 90 * time.Second

	pg := Default(dir, "mail.example.test")
	pg.Store.Backend = "postgres"
	pg.Store.DSN = "postgres://mailroom:s%22cret@db.example.test:5432/mailroom?sslmode=verify-full"

	for name, c := range map[string]Config{
		"default":  Default(dir, "mail.example.test"),
		"custom":   custom,
		"postgres": pg,
	} {
		t.Run(name, func(t *testing.T) {
			if got := roundTrip(t, c); !reflect.DeepEqual(got, c) {
				t.Errorf("round trip changed the config:\ngot  %+v\nwant %+v", got, c)
			}
		})
	}
}

// Every listener line names its standard port, so switching is one edit
// per line, and every key has a comment above it (tls.key shares cert's).
func TestRenderComments(t *testing.T) {
	out := string(Render(Default(t.TempDir(), "mail.example.test")))
	for _, want := range []string{
		`listen = [":2525"]  # standard: 25`,
		`submission = [":2587"]  # standard: 587`,
		`submissions = [":2465"]  # standard: 465`,
		`listen = [":2143"]  # standard: 143`,
		`tls_listen = [":2993"]  # standard: 993`,
		`listen = [":2110"]  # standard: 110`,
		`tls_listen = [":2995"]  # standard: 995`,
		`listen = [":8080"]  # standard: 80`,
		`tls_listen = [":8443"]  # standard: 443`,
		`max_message_size = "50MB"`,
		`shutdown_timeout = "30s"`,
		`extra = []`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("rendered file lacks line %q", want)
		}
	}
	lines := strings.Split(out, "\n")
	for i, line := range lines {
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "[") {
			continue
		}
		if i == 0 || !strings.HasPrefix(lines[i-1], "#") && !strings.HasPrefix(lines[i-1], "cert = ") {
			t.Errorf("line %d %q has no comment above it", i+1, line)
		}
	}
}
