package main

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestAuthCommands drives "mailroom mfa", "mailroom oauth client", "mailroom user
// app-password" and "mailroom audit" as an administrator would, and checks each
// change through the commands that show it.
func TestAuthCommands(t *testing.T) {
	data := newData(t)
	d := "--data=" + data
	ok(t, goodPassword+"\n", "user", "add", d, "--password-stdin", "alice@example.test")
	ok(t, goodPassword+"\n", "user", "add", d, "--password-stdin", "bob@example.test")
	ok(t, "", "group", "add", d, "staff")
	ok(t, "", "group", "member", "add", d, "staff", "bob@example.test")

	// App passwords: added (shown once), listed without the secret, revoked by name.
	var added struct {
		ID       int64  `json:"id"`
		Name     string `json:"name"`
		Address  string `json:"address"`
		Password string `json:"password"`
	}
	okJSON(t, &added, "user", "app-password", "add", d, "alice@example.test", "iPhone Mail")
	if !regexp.MustCompile(`^[a-z]{4}-[a-z]{4}-[a-z]{4}-[a-z]{4}$`).MatchString(added.Password) || added.Name != "iPhone Mail" {
		t.Fatalf("app password add: %+v", added)
	}
	text := ok(t, "", "user", "app-password", "add", d, "alice@example.test", "Thunderbird")
	if !strings.Contains(text, "shown only now") {
		t.Errorf("app password add prints %q", text)
	}
	var list []struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
	}
	okJSON(t, &list, "user", "app-password", "list", d, "alice@example.test")
	if len(list) != 2 || list[0].Name != "iPhone Mail" || list[1].Name != "Thunderbird" {
		t.Fatalf("app password list: %+v", list)
	}
	if out := ok(t, "", "user", "app-password", "list", d, "alice@example.test"); strings.Contains(out, added.Password) {
		t.Error("list shows a secret")
	}
	ok(t, "", "user", "app-password", "revoke", d, "alice@example.test", "iphone mail")
	okJSON(t, &list, "user", "app-password", "list", d, "alice@example.test")
	if len(list) != 1 || list[0].Name != "Thunderbird" {
		t.Fatalf("after revoke: %+v", list)
	}

	// The password-with-MFA switch: off by default, on, off again.
	var policy struct {
		PasswordWithMFA bool `json:"passwordWithMfa"`
	}
	okJSON(t, &policy, "user", "app-password", "password-with-mfa", d, "alice@example.test")
	if policy.PasswordWithMFA {
		t.Error("password-with-mfa on by default")
	}
	okJSON(t, &policy, "user", "app-password", "password-with-mfa", d, "alice@example.test", "on")
	if !policy.PasswordWithMFA {
		t.Error("password-with-mfa on did not stick")
	}
	okJSON(t, &policy, "user", "app-password", "password-with-mfa", d, "alice@example.test", "off")
	if policy.PasswordWithMFA {
		t.Error("password-with-mfa off did not stick")
	}

	// MFA requirements per user and per group, seen in mfa status; reset of a user
	// with nothing enrolled is harmless.
	type mfaStatus struct {
		Enrolled         bool     `json:"enrolled"`
		Required         bool     `json:"required"`
		RequiredForUser  bool     `json:"requiredForUser"`
		RequiredByGroups []string `json:"requiredByGroups"`
	}
	var st mfaStatus
	okJSON(t, &st, "mfa", "status", d, "alice@example.test")
	if st.Required || st.Enrolled {
		t.Errorf("fresh user: %+v", st)
	}
	ok(t, "", "mfa", "require", d, "--user", "alice@example.test")
	ok(t, "", "mfa", "require", d, "--group", "staff")
	okJSON(t, &st, "mfa", "status", d, "alice@example.test")
	if !st.Required || !st.RequiredForUser {
		t.Errorf("alice after require --user: %+v", st)
	}
	okJSON(t, &st, "mfa", "status", d, "bob@example.test")
	if !st.Required || st.RequiredForUser || len(st.RequiredByGroups) != 1 || st.RequiredByGroups[0] != "staff" {
		t.Errorf("bob after require --group: %+v", st)
	}
	if out := ok(t, "", "mfa", "status", d, "bob@example.test"); !strings.Contains(out, "by group staff") {
		t.Errorf("mfa status prints %q", out)
	}
	ok(t, "", "mfa", "require", d, "--group", "staff", "--off")
	okJSON(t, &st, "mfa", "status", d, "bob@example.test")
	if st.Required {
		t.Errorf("bob after --off: %+v", st)
	}
	ok(t, "", "mfa", "reset", d, "alice@example.test")

	// OAuth clients: the built-in one, a native and a confidential one (secret shown
	// once), removal.
	var client struct {
		ID           string   `json:"id"`
		RedirectURIs []string `json:"redirectUris"`
		Native       bool     `json:"native"`
		Confidential bool     `json:"confidential"`
		Secret       string   `json:"secret"`
	}
	okJSON(t, &client, "oauth", "client", "add", d, "thunderbird", "--native", "--name", "Thunderbird", "--redirect", "http://127.0.0.1/")
	if client.ID != "thunderbird" || !client.Native || client.Secret != "" {
		t.Errorf("native client: %+v", client)
	}
	okJSON(t, &client, "oauth", "client", "add", d, "webmail", "--confidential", "--redirect", "https://webmail.example.test/callback")
	if !client.Confidential || client.Secret == "" {
		t.Errorf("confidential client: %+v", client)
	}
	var clients []struct {
		ID string `json:"id"`
	}
	okJSON(t, &clients, "oauth", "client", "list", d)
	ids := map[string]bool{}
	for _, c := range clients {
		ids[c.ID] = true
	}
	if !ids["mailroom-mail"] || !ids["thunderbird"] || !ids["webmail"] {
		t.Errorf("client list: %+v", clients)
	}
	ok(t, "", "oauth", "client", "remove", d, "webmail")
	okJSON(t, &clients, "oauth", "client", "list", d)
	for _, c := range clients {
		if c.ID == "webmail" {
			t.Error("removed client still listed")
		}
	}

	// The audit log has the app passwords created and revoked, per user and since.
	var events []struct {
		Kind    string `json:"event"`
		Success bool   `json:"success"`
		Detail  string `json:"detail"`
	}
	okJSON(t, &events, "audit", d, "--user", "alice@example.test", "--since", "1h")
	kinds := map[string]int{}
	for _, ev := range events {
		kinds[ev.Kind]++
	}
	if kinds["app-password-add"] != 2 || kinds["app-password-revoke"] != 1 {
		t.Errorf("audit for alice: %+v", events)
	}
	okJSON(t, &events, "audit", d, "--user", "bob@example.test")
	if len(events) != 0 {
		t.Errorf("audit for bob: %+v", events)
	}
	okJSON(t, &events, "audit", d, "--since", time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	if len(events) != 0 {
		t.Errorf("audit since the future: %+v", events)
	}
	okJSON(t, &events, "audit", d, "--limit", "1")
	if len(events) != 1 || events[0].Kind != "app-password-revoke" {
		t.Errorf("audit --limit 1 (newest first): %+v", events)
	}
}

// TestAuthCommandsBadInput: every bad input is refused with a clear message and a
// non-zero exit, and changes nothing.
func TestAuthCommandsBadInput(t *testing.T) {
	data := newData(t)
	d := "--data=" + data
	ok(t, goodPassword+"\n", "user", "add", d, "--password-stdin", "alice@example.test")
	ok(t, "", "user", "add", d, "--shared", "info@example.test")
	ok(t, "", "user", "app-password", "add", d, "alice@example.test", "Phone")
	snapshot := func() string {
		var b strings.Builder
		for _, args := range [][]string{
			{"user", "app-password", "list", d, "alice@example.test"},
			{"user", "app-password", "password-with-mfa", d, "alice@example.test"},
			{"mfa", "status", d, "alice@example.test"},
			{"oauth", "client", "list", d},
		} {
			b.WriteString(ok(t, "", append(args, "--json")...))
		}
		return b.String()
	}
	before := snapshot()
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"app-password unknown subcommand", []string{"user", "app-password", "frob", d}, 2, "unknown"},
		{"app-password add without name", []string{"user", "app-password", "add", d, "alice@example.test"}, 2, "expected 2 argument"},
		{"app-password add empty name", []string{"user", "app-password", "add", d, "alice@example.test", " "}, 1, "needs a name"},
		{"app-password add digits", []string{"user", "app-password", "add", d, "alice@example.test", "123"}, 1, "would read as an id"},
		{"app-password add duplicate", []string{"user", "app-password", "add", d, "alice@example.test", "PHONE"}, 1, "already exists"},
		{"app-password add control char", []string{"user", "app-password", "add", d, "alice@example.test", "a\tb"}, 1, "control characters"},
		{"app-password add unknown user", []string{"user", "app-password", "add", d, "nobody@example.test", "x"}, 1, "nobody@example.test"},
		{"app-password add shared mailbox", []string{"user", "app-password", "add", d, "info@example.test", "x"}, 1, "shared mailbox"},
		{"app-password revoke unknown", []string{"user", "app-password", "revoke", d, "alice@example.test", "Laptop"}, 1, "no such app password"},
		{"password-with-mfa bad value", []string{"user", "app-password", "password-with-mfa", d, "alice@example.test", "maybe"}, 2, "on or off"},
		{"mfa require neither", []string{"mfa", "require", d}, 2, "exactly one of --user and --group"},
		{"mfa require both", []string{"mfa", "require", d, "--user", "alice@example.test", "--group", "staff"}, 2, "exactly one of --user and --group"},
		{"mfa require unknown group", []string{"mfa", "require", d, "--group", "nosuch"}, 1, "nosuch"},
		{"mfa require unknown user", []string{"mfa", "require", d, "--user", "nobody@example.test"}, 1, "nobody@example.test"},
		{"mfa status no user", []string{"mfa", "status", d}, 2, "expected 1 argument"},
		{"mfa reset unknown user", []string{"mfa", "reset", d, "nobody@example.test"}, 1, "nobody@example.test"},
		{"mfa unknown subcommand", []string{"mfa", "enable", d}, 2, "unknown"},
		{"oauth client add no redirect", []string{"oauth", "client", "add", d, "x"}, 1, "redirect"},
		{"oauth client add bad redirect", []string{"oauth", "client", "add", d, "x", "--redirect", "http://example.test/cb"}, 1, "http"},
		{"oauth client add built-in id", []string{"oauth", "client", "add", d, "mailroom-mail", "--native", "--redirect", "http://127.0.0.1/"}, 1, "mailroom-mail"},
		{"oauth client add native and confidential", []string{"oauth", "client", "add", d, "x", "--native", "--confidential", "--redirect", "http://127.0.0.1/"}, 1, "native"},
		{"oauth client remove unknown", []string{"oauth", "client", "remove", d, "nosuch"}, 1, "nosuch"},
		{"oauth client no id", []string{"oauth", "client", "add", d}, 2, "expected 1 argument"},
		{"audit bad since", []string{"audit", d, "--since", "yesterday"}, 2, "neither a time"},
		{"audit negative since", []string{"audit", d, "--since", "-5h"}, 2, "--since"},
		{"audit unknown user", []string{"audit", d, "--user", "nobody@example.test"}, 1, "nobody@example.test"},
		{"audit extra argument", []string{"audit", d, "alice@example.test"}, 2, "argument"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := mailroom(t, "", c.args...)
			if r.code != c.code || !strings.Contains(strings.ToLower(r.stderr), strings.ToLower(c.want)) {
				t.Errorf("exit %d, want %d; stderr %q should contain %q", r.code, c.code, r.stderr, c.want)
			}
		})
	}
	if after := snapshot(); after != before {
		t.Errorf("bad input changed something:\nbefore %s\nafter  %s", before, after)
	}
}
