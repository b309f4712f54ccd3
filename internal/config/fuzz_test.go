package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzLoad feeds arbitrary files to Load. It must never panic; it must
// return either a *Error or a valid Config; and a Config it accepts must
// survive Render and Load unchanged.
func FuzzLoad(f *testing.F) {
	f.Add(Render(Default("/seed", "mail.example.test")))
	f.Add([]byte(host))
	f.Add([]byte(host + "[[tls.extra]]\ncert = \"a\"\nkey = \"b\"\n[[tls.extra]]\ncert = 1\n"))
	f.Add([]byte(host + "[tls]\nextra = [{ cert = \"a\", key = \"b\" }, {cert=\"c\"}]\n"))
	f.Add([]byte(host + "imap.listen = [\"[::1]:143\", \"localhost:1143\", \":99999\"]\n"))
	f.Add([]byte(host + "[smtp]\nmax_message_size = \"1GiB\"\nlisten = [\n\":25\",\n\":25\",\n]\n"))
	f.Add([]byte("hostnme = 1\n[bogus]\nx = [1, [2, {a = 3}]]\n"))
	f.Add([]byte("hostname = \"a\n[imap\n"))
	f.Add([]byte("a.b.c = 1\n[a.b]\n[[a.b.d]]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, DefaultFile)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load(path)
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %v (%T) is not a *config.Error", err, err)
			}
			if ce.Line < 0 || ce.File != path {
				t.Fatalf("bad location in %+v", ce)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Load accepted a config Validate rejects: %v", err)
		}
		if err := os.WriteFile(path, Render(c), 0o600); err != nil {
			t.Fatal(err)
		}
		again, err := Load(path)
		if err != nil {
			t.Fatalf("Load(Render(c)): %v\n%s", err, Render(c))
		}
		if !reflect.DeepEqual(again, c) {
			t.Fatalf("round trip changed the config:\ngot  %+v\nwant %+v", again, c)
		}
	})
}

// FuzzParseSize checks that ParseSize never panics and that String writes
// every size it accepts back to the same size.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"0", "50MB", "1 GiB", "9223372036854775807", "9000000TiB", "12kb", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err != nil {
			return
		}
		back, err := ParseSize(n.String())
		if err != nil || back != n {
			t.Fatalf("ParseSize(%q) = %d, but ParseSize(%q) = %d, %v", s, n, n.String(), back, err)
		}
	})
}
