package main

import (
	"io"
	"strings"
	"testing"
)

func TestIMAPFlags(t *testing.T) {
	base := []string{"--addr", "127.0.0.1:993", "--user", "u@x.test", "--password", "p"}
	for _, tc := range []struct {
		name string
		args []string
		want string // "" for no error
	}{
		{"ok", base, ""},
		{"not loopback", []string{"--addr", "192.0.2.1:993", "--user", "u", "--password", "p"}, "loopback"},
		{"no user", []string{"--addr", "127.0.0.1:993"}, "--user"},
		{"bad tls", append(base, "--tls=ssl"), "implicit"},
		{"bad mix name", append(base, "--mix", "copy=3"), "unknown operation"},
		{"mix all zero", append(base, "--mix", "select=0"), "positive"},
		{"mix bad weight", append(base, "--mix", "select=-1"), "weight"},
		{"clients", append(base, "--clients", "0"), "--clients"},
		{"duration", append(base, "--duration", "0s"), "--duration"},
		{"extra", append(base, "x"), "unexpected"},
		{"two servers", append(base, "--addr", "127.0.0.2:993"), ""},
		{"one not loopback", append(base, "--addr", "192.0.2.1:993"), "loopback"},
	} {
		_, err := parseIMAPFlags(tc.args, io.Discard)
		if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: err %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := parseIdleFlags(append(base, "--conns", "10", "--sample", "11"), io.Discard); err == nil {
		t.Error("imap-idle: a sample larger than --conns was accepted")
	}
	if _, err := parseIdleFlags(append(base, "--addr", "127.0.0.2:993"), io.Discard); err == nil {
		t.Error("imap-idle: two addresses were accepted")
	}
	if _, err := parseFetchallFlags(append(base, "--runs", "0"), io.Discard); err == nil {
		t.Error("imap-fetchall: --runs 0 was accepted")
	}
	if _, err := parseMaildirFlags([]string{"--dir", "/tmp/x", "--count", "0"}, io.Discard); err == nil {
		t.Error("maildir: --count 0 was accepted")
	}
}

func TestIMAPHelpers(t *testing.T) {
	if n, ok := literalSize("* 1 FETCH (BODY[] {123}"); !ok || n != 123 {
		t.Errorf("literalSize: %d %v", n, ok)
	}
	if n, ok := literalSize("a APPEND INBOX {5+}"); !ok || n != 5 {
		t.Errorf("literalSize LITERAL+: %d %v", n, ok)
	}
	if _, ok := literalSize("* OK [UIDNEXT 5] x"); ok {
		t.Error("literalSize: no literal seen as one")
	}
	if u := appendUID("OK [APPENDUID 38505 3955] APPEND completed"); u != 3955 {
		t.Errorf("appendUID: %d", u)
	}
	mix, err := parseIMAPMix("select=1,idle=0")
	if err != nil || mix.String() != "select=1" {
		t.Errorf("parseIMAPMix: %v %v", mix, err)
	}
}
