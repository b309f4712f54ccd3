package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// binary is the mailroom command built once for these tests: they run it as an
// administrator would, as a separate process.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mailroom-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "mailroom")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build mailroom: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

// mailroom runs the binary with args and stdin.
func mailroom(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Env = append(os.Environ(), "MAILROOM_DATA=")
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run mailroom %v: %v", args, err)
	}
	return r
}

// ok runs a command that must succeed.
func ok(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	r := mailroom(t, stdin, args...)
	if r.code != 0 {
		t.Fatalf("mailroom %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

func okJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	out := ok(t, "", append(args, "--json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("mailroom %s --json: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// newData initialises a data directory with the domain example.test.
func newData(t *testing.T) string {
	t.Helper()
	data := filepath.Join(t.TempDir(), "data")
	ok(t, "", "init", "--data", data, "--hostname", "mail.example.test", "--domain", "example.test")
	return data
}

const goodPassword = "correct horse battery"

func TestInitLayout(t *testing.T) {
	data := newData(t)
	for _, f := range []string{"mailroom.toml", "mailroom.db", "blobs", "tls/cert.pem", "tls/key.pem"} {
		if _, err := os.Stat(filepath.Join(data, f)); err != nil {
			t.Errorf("init did not create %s: %v", f, err)
		}
	}
	st, err := os.Stat(filepath.Join(data, "tls/key.pem"))
	if err == nil && st.Mode().Perm()&0o077 != 0 {
		t.Errorf("key file mode %v is readable by others", st.Mode().Perm())
	}
	cfg, _ := os.ReadFile(filepath.Join(data, "mailroom.toml"))
	for _, want := range []string{":2525", ":2587", ":2465", ":2143", ":2993", ":2110", ":2995", ":8443", ":8080", "993"} {
		if !bytes.Contains(cfg, []byte(want)) {
			t.Errorf("config lacks %q", want)
		}
	}
	// A second init refuses to touch it.
	r := mailroom(t, "", "init", "--data", data, "--hostname", "other.example.test")
	if r.code == 0 || !strings.Contains(r.stderr, "not empty") {
		t.Fatalf("second init: %+v", r)
	}
	if after, _ := os.ReadFile(filepath.Join(data, "mailroom.toml")); !bytes.Equal(after, cfg) {
		t.Fatal("second init changed the configuration")
	}
	// A failed init leaves nothing behind.
	bad := filepath.Join(t.TempDir(), "bad")
	r = mailroom(t, "", "init", "--data", bad, "--hostname", "mail.example.test", "--domain", "not a domain")
	if r.code == 0 {
		t.Fatalf("init with a bad domain succeeded: %+v", r)
	}
	if entries, _ := os.ReadDir(bad); len(entries) != 0 {
		t.Fatalf("failed init left %d entries behind", len(entries))
	}
}

func TestDirectoryCommands(t *testing.T) {
	data := newData(t)
	d := "--data=" + data
	ok(t, "", "domain", "add", d, "--netbios", "CONTOSO", "contoso.test")
	var domains []struct{ Name, NetBIOS string }
	okJSON(t, &domains, "domain", "list", d)
	if len(domains) != 2 || domains[0].NetBIOS != "CONTOSO" || domains[1].NetBIOS != "EXAMPLE" {
		t.Fatalf("domains = %+v", domains)
	}
	// Flags after the positional arguments work too.
	ok(t, goodPassword+"\n", "user", "add", d, "--password-stdin", "--display-name", "Alice Archer", "alice@example.test", "--quota", "1GB", "--sam", "aarcher")
	ok(t, goodPassword+"\n", "user", "add", "--data", data, "--password-stdin", "bob@example.test")
	ok(t, "", "user", "add", d, "--shared", "--display-name", "Sales", "sales@example.test")
	ok(t, "", "alias", "add", d, "alice@example.test", "a.archer@example.test")
	ok(t, "", "group", "add", d, "--address", "team@example.test", "Team")
	ok(t, "", "group", "member", "add", d, "Team", "alice@example.test")
	ok(t, "", "group", "member", "add", d, "Team", "bob@example.test")
	ok(t, "", "shared", "grant", d, "sales@example.test", "alice@example.test", "FullAccess")
	ok(t, "", "shared", "grant", d, "sales@example.test", "alice@example.test", "SendAs")
	ok(t, "", "user", "set", d, "--title", "Engineer", "--department", "R&D", "alice@example.test")

	var alice struct {
		Address, UPN, SAM, NetBIOS, DisplayName, Title, Department string
		Aliases                                                    []string
		Enabled                                                    bool
		QuotaBytes                                                 int64
		Groups                                                     []string
		Grants                                                     []struct{ Rights []string }
	}
	okJSON(t, &alice, "user", "show", d, "A.Archer@Example.test")
	if alice.Address != "alice@example.test" || alice.UPN != "alice@example.test" || alice.SAM != "aarcher" ||
		alice.NetBIOS != "EXAMPLE" || alice.DisplayName != "Alice Archer" || alice.Title != "Engineer" ||
		alice.Department != "R&D" || !alice.Enabled || alice.QuotaBytes != 1_000_000_000 ||
		len(alice.Aliases) != 1 || len(alice.Groups) != 1 || len(alice.Grants) != 1 || len(alice.Grants[0].Rights) != 2 {
		t.Fatalf("alice = %+v", alice)
	}
	var group struct {
		Name, Address string
		Members       []struct{ Name string }
	}
	okJSON(t, &group, "group", "show", d, "team@example.test")
	if group.Name != "Team" || len(group.Members) != 2 {
		t.Fatalf("group = %+v", group)
	}
	ok(t, "another good secret\n", "user", "passwd", d, "--password-stdin", "bob@example.test")
	ok(t, "", "user", "disable", d, "bob@example.test")
	var users []struct {
		Address string
		Enabled bool
		Kind    string
	}
	okJSON(t, &users, "user", "list", d)
	if len(users) != 3 || users[1].Address != "bob@example.test" || users[1].Enabled || users[2].Kind != "shared" {
		t.Fatalf("users = %+v", users)
	}
	ok(t, "", "user", "enable", d, "bob@example.test")
	ok(t, "", "group", "member", "remove", d, "Team", "bob@example.test")
	ok(t, "", "user", "remove", d, "bob@example.test")
	ok(t, "", "alias", "remove", d, "a.archer@example.test")
	ok(t, "", "shared", "revoke", d, "sales@example.test", "alice@example.test", "SendAs")
	ok(t, "", "group", "remove", d, "Team")
	okJSON(t, &users, "user", "list", d)
	if len(users) != 2 {
		t.Fatalf("users after removal = %+v", users)
	}
	if r := mailroom(t, "", "domain", "remove", d, "example.test"); r.code != 1 || !strings.Contains(r.stderr, "in use") {
		t.Fatalf("removing a domain in use: %+v", r)
	}
	dns := ok(t, "", "domain", "dns", d, "example.test")
	for _, want := range []string{"example.test.", "IN MX", "_submission._tcp.example.test.", "_autodiscover._tcp.example.test.", "mailroom._domainkey.example.test.", "v=DKIM1", "_dmarc.example.test.", "v=DMARC1"} {
		if !strings.Contains(dns, want) {
			t.Errorf("domain dns lacks %q:\n%s", want, dns)
		}
	}
	ok(t, "", "domain", "remove", d, "contoso.test")
	out := ok(t, "", "domain", "show", d, "example.test")
	if !strings.Contains(out, "Mailboxes:") || !strings.Contains(out, "2") || !strings.Contains(out, `mailroom._domainkey.example.test TXT "v=DKIM1; k=rsa; p=`) {
		t.Fatalf("domain show = %s", out)
	}
}

// TestBadInput checks that every kind of mistake gets a clear message and a non-zero
// exit, and that none of them changes what is stored.
func TestBadInput(t *testing.T) {
	data := newData(t)
	d := "--data=" + data
	ok(t, goodPassword+"\n", "user", "add", d, "--password-stdin", "alice@example.test")
	ok(t, "", "group", "add", d, "Team")
	snapshot := func() string {
		var b strings.Builder
		for _, args := range [][]string{{"user", "list"}, {"domain", "list"}, {"group", "list"}, {"user", "show", "alice@example.test"}} {
			b.WriteString(ok(t, "", append(append(args, d), "--json")...))
		}
		return b.String()
	}
	before := snapshot()
	cases := []struct {
		name  string
		stdin string
		args  []string
		code  int
		want  string
	}{
		{"no command", "", nil, 2, "usage"},
		{"unknown command", "", []string{"frobnicate"}, 2, "unknown command"},
		{"unknown subcommand", "", []string{"user", "frob", d}, 2, "unknown user command"},
		{"unknown flag", "", []string{"user", "list", d, "--colour"}, 2, "flag provided but not defined"},
		{"missing argument", "", []string{"user", "add", d}, 2, "expected 1 argument"},
		{"extra argument", "", []string{"domain", "add", d, "a.test", "b.test"}, 2, "expected 1 argument"},
		{"no data directory", "", []string{"user", "list", "--data", filepath.Join(t.TempDir(), "none")}, 1, "mailroom init"},
		{"malformed address", goodPassword, []string{"user", "add", d, "--password-stdin", "not an address"}, 1, "not an address"},
		{"address without domain part", goodPassword, []string{"user", "add", d, "--password-stdin", "alice@"}, 1, "alice@"},
		{"unknown domain", goodPassword, []string{"user", "add", d, "--password-stdin", "x@elsewhere.test"}, 1, "elsewhere.test"},
		{"duplicate address", goodPassword, []string{"user", "add", d, "--password-stdin", "Alice@Example.test"}, 1, "already"},
		{"empty password", "\n", []string{"user", "add", d, "--password-stdin", "bob@example.test"}, 1, "password"},
		{"short password", "abc\n", []string{"user", "add", d, "--password-stdin", "bob@example.test"}, 1, "password"},
		{"common password", "password\n", []string{"user", "add", d, "--password-stdin", "bob@example.test"}, 1, "password"},
		{"password is the name", "bob12345bob\n", []string{"user", "add", d, "--password-stdin", "bob@example.test"}, 1, "password"},
		{"no password source", "", []string{"user", "add", d, "bob@example.test"}, 2, "--password-stdin"},
		{"bad quota", goodPassword, []string{"user", "add", d, "--password-stdin", "--quota", "lots", "bob@example.test"}, 2, "quota"},
		{"unknown user", "", []string{"user", "show", d, "nobody@example.test"}, 1, "nobody@example.test"},
		{"weak new password", "short\n", []string{"user", "passwd", d, "--password-stdin", "alice@example.test"}, 1, "password"},
		{"passwd unknown user", goodPassword, []string{"user", "passwd", d, "--password-stdin", "nobody@example.test"}, 1, "nobody"},
		{"set nothing", "", []string{"user", "set", d, "alice@example.test"}, 2, "nothing to change"},
		{"bad upn", "", []string{"user", "set", d, "--upn", "no-at-sign", "alice@example.test"}, 1, "no-at-sign"},
		{"malformed domain", "", []string{"domain", "add", d, "bad_domain!"}, 1, "bad_domain!"},
		{"duplicate domain", "", []string{"domain", "add", d, "EXAMPLE.test"}, 1, "already"},
		{"remove unknown domain", "", []string{"domain", "remove", d, "nowhere.test"}, 1, "nowhere.test"},
		{"alias of unknown user", "", []string{"alias", "add", d, "nobody@example.test", "n@example.test"}, 1, "nobody"},
		{"alias taken", "", []string{"alias", "add", d, "alice@example.test", "alice@example.test"}, 1, "already"},
		{"alias in foreign domain", "", []string{"alias", "add", d, "alice@example.test", "a@foreign.test"}, 1, "foreign.test"},
		{"duplicate group", "", []string{"group", "add", d, "team"}, 1, "already"},
		{"member of unknown group", "", []string{"group", "member", "add", d, "Nope", "alice@example.test"}, 1, "Nope"},
		{"unknown member", "", []string{"group", "member", "add", d, "Team", "ghost@example.test"}, 1, "ghost"},
		{"bad right", "", []string{"shared", "grant", d, "alice@example.test", "alice@example.test", "Everything"}, 1, "Everything"},
		{"import unknown user", "", []string{"import", d, "nobody@example.test", "/etc/hostname"}, 1, ""},
		{"import missing file", "", []string{"import", d, "alice@example.test", filepath.Join(t.TempDir(), "missing.mbox")}, 1, "missing.mbox"},
		{"import not a mailbox", "", []string{"import", d, "alice@example.test", writeFile(t, "junk.txt", "hello\n")}, 1, "From"},
		{"export into non-empty dir", "", []string{"export", d, "alice@example.test", data}, 1, "not empty"},
		{"export bad format", "", []string{"export", d, "--format", "pst", "alice@example.test", t.TempDir()}, 2, "pst"},
		{"init without hostname", "", []string{"init", "--data", filepath.Join(t.TempDir(), "x")}, 2, "--hostname"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := mailroom(t, tc.stdin, tc.args...)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, tc.code, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("stderr %q does not mention %q", r.stderr, tc.want)
			}
			if strings.Contains(r.stderr, "panic") || strings.Contains(r.stderr, "goroutine") {
				t.Fatalf("crashed: %s", r.stderr)
			}
		})
	}
	if after := snapshot(); after != before {
		t.Fatalf("bad input changed the directory:\nbefore %s\nafter  %s", before, after)
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestDomainPOP3 checks `domain pop3`: it shows the default, changes one setting
// while keeping the other, and refuses a bad period without changing anything.
func TestDomainPOP3(t *testing.T) {
	data := newData(t)
	d := "--data=" + data
	type setting struct {
		Name              string
		POP3KeepDeleted   bool
		POP3RetentionDays int
	}
	steps := []struct {
		args []string // flags given to domain pop3 before the domain
		code int
		want setting // the setting afterwards
		text string  // in the text output, or in stderr when code is not 0
	}{
		{nil, 0, setting{"example.test", true, 30}, "example.test: POP3 deletions kept in Deleted Items for 30 days."},
		{[]string{"--days", "7"}, 0, setting{"example.test", true, 7}, "kept in Deleted Items for 7 days"},
		{[]string{"--keep=false"}, 0, setting{"example.test", false, 7}, "example.test: POP3 deletions removed at once."},
		{[]string{"--days", "0"}, 1, setting{"example.test", false, 7}, "1 to 3650 days"},
		{[]string{"--keep=true", "--days", "3651"}, 1, setting{"example.test", false, 7}, "1 to 3650 days"},
		{[]string{"--days", "many"}, 2, setting{"example.test", false, 7}, "invalid value"},
		{[]string{"--keep=true", "--days=90"}, 0, setting{"example.test", true, 90}, "kept in Deleted Items for 90 days"},
	}
	for _, s := range steps {
		r := mailroom(t, "", append(append([]string{"domain", "pop3", d}, s.args...), "Example.TEST")...)
		out := r.stdout
		if r.code != 0 {
			out = r.stderr
		}
		if r.code != s.code || !strings.Contains(out, s.text) {
			t.Errorf("domain pop3 %v: exit %d, want %d\nstdout: %s\nstderr: %s\nwant %q", s.args, r.code, s.code, r.stdout, r.stderr, s.text)
		}
		var got setting
		okJSON(t, &got, "domain", "pop3", d, "example.test")
		if got != s.want {
			t.Errorf("after domain pop3 %v: %+v, want %+v", s.args, got, s.want)
		}
	}
	if out := ok(t, "", "domain", "show", d, "example.test"); !strings.Contains(out, "POP3 deletions:") ||
		!strings.Contains(out, "kept in Deleted Items for 90 days") {
		t.Errorf("domain show does not give the POP3 setting:\n%s", out)
	}
	if r := mailroom(t, "", "domain", "pop3", d, "--days", "7", "nowhere.test"); r.code != 1 || !strings.Contains(r.stderr, "nowhere.test") {
		t.Errorf("domain pop3 of an unknown domain: %+v", r)
	}
}
