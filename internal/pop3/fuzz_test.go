package pop3

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
)

// FuzzCommand checks that the command-line parser never panics and that what it
// accepts is what the session relies on: an upper-case keyword of 3 or 4 letters,
// arguments without spaces, and a rest that gives back the arguments.
func FuzzCommand(f *testing.F) {
	for _, s := range []string{
		"USER alice@example.com", "PASS correct horse battery", "STAT", "LIST 1", "list",
		"RETR 007", "TOP 1 10", "UIDL", "DELE 1", "AUTH PLAIN AGFAAGI=", "AUTH", "CAPA",
		"STLS", "QUIT", "", " ", "NOOP  ", "USER \u00a0", "USER a\u2028b", "FOO\x00", "\xff\xfeUSER", "TOP  1   2",
		`USER EXAMPLE\asmith`, "CA\tPA", strings.Repeat("A", 300),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		cmd, err := parseCommand(line)
		if err != nil {
			return
		}
		if len(cmd.name) < 3 || len(cmd.name) > 4 || strings.ToUpper(cmd.name) != cmd.name {
			t.Fatalf("keyword %q", cmd.name)
		}
		if !strings.EqualFold(line[:len(cmd.name)], cmd.name) {
			t.Fatalf("keyword %q is not the start of %q", cmd.name, line)
		}
		for _, a := range cmd.args {
			if a == "" || strings.Contains(a, " ") {
				t.Fatalf("argument %q", a)
			}
		}
		// Arguments are separated by ASCII spaces only (RFC 1939 3); other white space,
		// such as U+00A0, is part of an argument.
		spaces := func(r rune) bool { return r == ' ' }
		if collapsed := strings.Join(strings.FieldsFunc(cmd.rest, spaces), " "); strings.Join(cmd.args, " ") != collapsed {
			t.Fatalf("rest %q but arguments %q", cmd.rest, cmd.args)
		}
		for i := 0; i < len(line); i++ {
			if b := line[i]; b < 0x20 && b != '\t' || b == 0x7f {
				t.Fatalf("accepted control character in %q", line)
			}
		}
		for _, a := range cmd.args {
			if n, ok := parseNumber(a); ok && (n < 0 || n > 999_999_999) {
				t.Fatalf("parseNumber(%q) = %d", a, n)
			}
		}
	})
}

// FuzzMessage checks the byte-stuffing of RETR and TOP: the reply is CRLF lines,
// ends with the one terminator line, and unstuffed gives back the message's lines.
func FuzzMessage(f *testing.F) {
	for _, m := range testMessages {
		f.Add([]byte(m), -1)
		f.Add([]byte(m), 1)
	}
	f.Add([]byte(".\r\n..\r\n.x"), -1)
	f.Add([]byte("a\rb\n\n\r\n."), 0)
	f.Fuzz(func(t *testing.T, raw []byte, lines int) {
		var buf bytes.Buffer
		w := bufio.NewWriter(&buf)
		if err := writeMessage(w, raw, max(lines, -1)); err != nil {
			t.Fatal(err)
		}
		w.Flush()
		out := buf.String()
		if !strings.HasSuffix(out, "\r\n") {
			t.Fatalf("reply %q does not end in CRLF", out)
		}
		sent := strings.Split(strings.TrimSuffix(out, "\r\n"), "\r\n")
		if sent[len(sent)-1] != "." {
			t.Fatalf("reply %q does not end with the terminator", out)
		}
		sent = sent[:len(sent)-1]
		for _, l := range sent {
			if l == "." || strings.Contains(l, "\n") {
				t.Fatalf("line %q in reply %q", l, out)
			}
		}
		if lines >= 0 {
			return
		}
		// Without a line limit, unstuffing gives back the message with CRLF.
		var back []string
		for _, l := range sent {
			back = append(back, strings.TrimPrefix(l, "."))
		}
		want := strings.ReplaceAll(string(raw), "\r\n", "\n")
		want = strings.TrimSuffix(want, "\n")
		if len(raw) == 0 {
			want = ""
		}
		// A CR ending a last line without LF is taken for half a line end.
		if got := strings.Join(back, "\n"); got != want && !bytes.HasSuffix(raw, []byte("\r")) {
			t.Fatalf("unstuffed %q, want %q", got, want)
		}
	})
}
