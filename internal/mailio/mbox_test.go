package mailio

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func TestMboxReader(t *testing.T) {
	jan1 := date("2024-01-01T00:00:00Z")
	tests := []struct {
		name    string
		in      string
		want    []*Message
		wantErr error
	}{
		{name: "empty", in: ""},
		{
			name:    "garbage first line",
			in:      "Subject: hi\n\nbody\n",
			wantErr: ErrNotMbox,
		},
		{
			name:    "blank first line",
			in:      "\nFrom a Thu Jan  1 00:00:00 2024\n\nx\n",
			wantErr: ErrNotMbox,
		},
		{
			name: "two messages",
			in: "From a@example.com Mon Jan  1 00:00:00 2024\nSubject: 1\n\none\n\n" +
				"From b@example.com Mon Jan  1 00:00:00 2024\nSubject: 2\n\ntwo\n\n",
			want: []*Message{
				{Raw: []byte("Subject: 1\n\none\n"), InternalDate: jan1},
				{Raw: []byte("Subject: 2\n\ntwo\n"), InternalDate: jan1},
			},
		},
		{
			name: "CRLF",
			in:   "From a Mon Jan  1 00:00:00 2024\r\nSubject: 1\r\nStatus: RO\r\n\r\none\r\n\r\nFrom b Mon Jan  1 00:00:00 2024\r\nSubject: 2\r\n\r\ntwo\r\n",
			want: []*Message{
				{Raw: []byte("Subject: 1\r\n\r\none\r\n"), InternalDate: jan1, Flags: []string{`\Seen`}},
				{Raw: []byte("Subject: 2\r\n\r\ntwo"), InternalDate: jan1},
			},
		},
		{
			name: "mboxrd unquoting",
			in:   "From a Mon Jan  1 00:00:00 2024\n\n>From here\n>>From there\n> From not quoted\n>Fromage\n\n",
			want: []*Message{{Raw: []byte("\nFrom here\n>From there\n> From not quoted\n>Fromage\n"), InternalDate: jan1}},
		},
		{
			name: "unquoted From inside a paragraph stays",
			in:   "From a Mon Jan  1 00:00:00 2024\n\nsee below\nFrom the desk of x\n\n",
			want: []*Message{{Raw: []byte("\nsee below\nFrom the desk of x\n"), InternalDate: jan1}},
		},
		{
			name: "From_ line with date but no blank line before it",
			in:   "From a Mon Jan  1 00:00:00 2024\n\nno newline\nFrom b Mon Jan  1 00:00:00 2024\n\nx\n",
			want: []*Message{
				{Raw: []byte("\nno newline"), InternalDate: jan1},
				{Raw: []byte("\nx"), InternalDate: jan1},
			},
		},
		{
			name: "date forms",
			in: "From a Mon Jan  1 00:00:00 2024 remote from uucp\n\n1\n\n" +
				"From a Mon Jan  1 01:00:00 +0100 2024\n\n2\n\n" +
				"From a Mon Jan 1 00:00 2024\n\n3\n\n" +
				"From Mon Jan  1 00:00:00 2024\n\n4\n\n" +
				"From a Mon, 1 Jan 2024 01:00:00 +0100\n\n5\n\n" +
				"From a\n\n6\n\n" +
				"From \n\n7\n\n",
			want: []*Message{
				{Raw: []byte("\n1\n"), InternalDate: jan1},
				{Raw: []byte("\n2\n"), InternalDate: jan1},
				{Raw: []byte("\n3\n"), InternalDate: jan1},
				{Raw: []byte("\n4\n"), InternalDate: jan1},
				{Raw: []byte("\n5\n"), InternalDate: jan1},
				{Raw: []byte("\n6\n")},
				{Raw: []byte("\n7\n")},
			},
		},
		{
			name: "flag fields are taken out",
			in: "From a Mon Jan  1 00:00:00 2024\nStatus: RO\nSubject: s\nX-Status: AF\n" +
				"X-Keywords: $Label1, Junk\n  work\nX-UID: 7\nContent-Length: 5\n\nbody\n\n",
			want: []*Message{{
				Raw:          []byte("Subject: s\n\nbody\n"),
				InternalDate: jan1,
				Flags:        []string{`\Seen`, `\Answered`, `\Flagged`, "$Label1", "Junk", "work"},
			}},
		},
		{
			name: "Content-Length that is not the body length stays",
			in:   "From a Mon Jan  1 00:00:00 2024\nContent-Length: 999\nX-Status: TD\n\nbody\n\n",
			want: []*Message{{
				Raw:          []byte("Content-Length: 999\n\nbody\n"),
				InternalDate: jan1,
				Flags:        []string{`\Draft`, `\Deleted`},
			}},
		},
		{
			name: "Status in the body stays",
			in:   "From a Mon Jan  1 00:00:00 2024\nSubject: s\n\nStatus: RO\n\n",
			want: []*Message{{Raw: []byte("Subject: s\n\nStatus: RO\n"), InternalDate: jan1}},
		},
		{
			name: "last message without final newline",
			in:   "From a Mon Jan  1 00:00:00 2024\nSubject: s\n\nbody",
			want: []*Message{{Raw: []byte("Subject: s\n\nbody"), InternalDate: jan1}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewMboxReader(strings.NewReader(tt.in))
			var got []*Message
			for {
				m, err := r.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					if tt.wantErr == nil || !errors.Is(err, tt.wantErr) {
						t.Fatalf("Next: %v, want %v", err, tt.wantErr)
					}
					if _, again := r.Next(); !errors.Is(again, tt.wantErr) {
						t.Errorf("Next after error = %v, want the same error", again)
					}
					return
				}
				got = append(got, m)
			}
			if tt.wantErr != nil {
				t.Fatalf("no error, want %v", tt.wantErr)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d messages, want %d", len(got), len(tt.want))
			}
			for i := range got {
				checkMessage(t, i, got[i], tt.want[i])
			}
		})
	}
}

func TestMboxRoundTrip(t *testing.T) {
	d := date("2023-06-15T12:34:56Z")
	tests := []struct {
		name string
		msgs []*Message
		// lf is what Raw reads back as when it differs (writers store LF).
		lf []string
	}{
		{name: "empty mbox"},
		{
			name: "plain",
			msgs: []*Message{{Raw: []byte("From: a@example.com\nSubject: hi\n\nhello\n"), InternalDate: d}},
		},
		{
			name: "From lines in the body",
			msgs: []*Message{{
				Raw:          []byte("Subject: q\n\nFrom here\n\nFrom a Mon Jan  1 00:00:00 2024\n>From x\n>>From y\n>From\n"),
				InternalDate: d,
				Flags:        []string{`\Seen`},
			}},
		},
		{
			name: "no trailing newline, then another message",
			msgs: []*Message{
				{Raw: []byte("Subject: a\n\nno newline"), InternalDate: d},
				{Raw: []byte("Subject: b\n\nlast without newline"), InternalDate: d.Add(time.Hour)},
			},
		},
		{
			name: "trailing blank lines are kept",
			msgs: []*Message{
				{Raw: []byte("Subject: a\n\nbody\n\n\n"), InternalDate: d},
				{Raw: []byte("Subject: b\n\nx\n"), InternalDate: d},
			},
		},
		{
			name: "CRLF input",
			msgs: []*Message{{Raw: []byte("Subject: crlf\r\n\r\nline\r\nFrom me\r\n"), InternalDate: d}},
			lf:   []string{"Subject: crlf\n\nline\nFrom me\n"},
		},
		{
			name: "flags and keywords",
			msgs: []*Message{{
				Raw:          []byte("Subject: f\n\nx\n"),
				InternalDate: d,
				Flags:        []string{`\Seen`, `\Answered`, `\Flagged`, `\Deleted`, `\Draft`, "$Forwarded", "Work", `\Recent`},
			}},
		},
		{
			name: "old flag fields are replaced",
			msgs: []*Message{{
				Raw:          []byte("Status: RO\nX-Keywords: old\nSubject: s\n\nx\n"),
				InternalDate: d,
				Flags:        []string{"new"},
			}},
			lf: []string{"Subject: s\n\nx\n"},
		},
		{
			name: "empty message and body-only message",
			msgs: []*Message{
				{Raw: []byte(""), InternalDate: d},
				{Raw: []byte("\nbody only\n"), InternalDate: d},
			},
		},
		{
			name: "leading white space",
			msgs: []*Message{{Raw: []byte(" odd\nSubject: s\n\nx\n"), InternalDate: d, Flags: []string{`\Flagged`}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			w := NewMboxWriter(&buf)
			for _, m := range tt.msgs {
				if err := w.Write(m); err != nil {
					t.Fatalf("Write: %v", err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			got := readAll(t, NewMboxReader(bytes.NewReader(buf.Bytes())))
			if len(got) != len(tt.msgs) {
				t.Fatalf("read %d messages, wrote %d; file:\n%s", len(got), len(tt.msgs), buf.Bytes())
			}
			for i, m := range tt.msgs {
				want := *m
				if i < len(tt.lf) {
					want.Raw = []byte(tt.lf[i])
				}
				want.Flags = withoutRecent(m.Flags)
				checkMessage(t, i, got[i], &want)
			}
		})
	}
}

func withoutRecent(flags []string) []string {
	var out []string
	for _, f := range flags {
		if f != `\Recent` {
			out = append(out, f)
		}
	}
	return out
}

func TestMboxLongLines(t *testing.T) {
	long := strings.Repeat("x", 200<<10)
	in := "From " + long + " Mon Jan  1 00:00:00 2024\n\n" + long + "\nFrom " + long + "\n\n" +
		"From b Mon Jan  1 00:00:00 2024\n\n>From " + long + "\n"
	got := readAll(t, NewMboxReader(strings.NewReader(in)))
	want := []*Message{
		{Raw: []byte("\n" + long + "\nFrom " + long + "\n"), InternalDate: date("2024-01-01T00:00:00Z")},
		{Raw: []byte("\nFrom " + long), InternalDate: date("2024-01-01T00:00:00Z")},
	}
	if len(got) != len(want) {
		t.Fatalf("read %d messages, want %d", len(got), len(want))
	}
	for i := range want {
		checkMessage(t, i, got[i], want[i])
	}
}

func TestMboxWriterOutput(t *testing.T) {
	var buf bytes.Buffer
	w := NewMboxWriter(&buf)
	msgs := []*Message{
		{
			Raw:          []byte("Return-Path: <bounce@example.org>\r\nFrom: A <a@example.com>\r\n\r\nFrom me\r\n>From you"),
			InternalDate: time.Date(2024, 1, 1, 1, 0, 0, 0, time.FixedZone("", 3600)),
			Flags:        []string{`\Seen`, `\Answered`, "Work"},
		},
		{Raw: []byte("From: A <a@example.com>\nDate: Tue, 2 Jan 2024 00:00:00 +0000\n\nx\n")},
	}
	for _, m := range msgs {
		if err := w.Write(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := "From bounce@example.org Mon Jan  1 00:00:00 2024\n" +
		"Status: RO\nX-Status: A\nX-Keywords: Work\n" +
		"Return-Path: <bounce@example.org>\nFrom: A <a@example.com>\n\n>From me\n>>From you\n" +
		"From a@example.com Tue Jan  2 00:00:00 2024\n" +
		"Status: O\nFrom: A <a@example.com>\nDate: Tue, 2 Jan 2024 00:00:00 +0000\n\nx\n\n"
	if buf.String() != want {
		t.Errorf("output:\n%q\nwant:\n%q", buf.String(), want)
	}
	if err := w.Write(msgs[0]); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close = %v, want ErrClosed", err)
	}
}

func TestMboxWriterRefusesFlags(t *testing.T) {
	for _, f := range []string{`\Bogus`, "two words", "a,b", "", "caf\u00e9"} {
		w := NewMboxWriter(io.Discard)
		if err := w.Write(&Message{Raw: []byte("\n"), Flags: []string{f}}); !errors.Is(err, ErrInvalidFlag) {
			t.Errorf("flag %q: Write = %v, want ErrInvalidFlag", f, err)
		}
	}
}

// FuzzMboxReader checks that the reader never panics, and never loops: every
// Next consumes input, so there are at most len(data)+1 calls before an
// error, and messages never hold more bytes than the input.
func FuzzMboxReader(f *testing.F) {
	for _, seed := range []string{
		"",
		"From a Mon Jan  1 00:00:00 2024\nSubject: x\n\nbody\n\n",
		"From a Mon Jan  1 00:00:00 2024\r\nStatus: RO\r\nX-Keywords: a, b\r\n\r\n>From x\r\n\r\nFrom b\r\n",
		"From \n\nFrom \nFrom x Mon Jan 1 00:00 2024",
		"From a\nContent-Length: 3\n\nabc\n\n",
		" x\n\n",
		"From a Mon, 1 Jan 2024 01:00:00 +0100\n X-Status: \n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewMboxReader(bytes.NewReader(data))
		total := 0
		for range len(data) + 2 {
			m, err := r.Next()
			if err != nil {
				return
			}
			total += len(m.Raw)
			if total > len(data) {
				t.Fatalf("read %d message bytes from %d input bytes", total, len(data))
			}
			checkRewrite(t, m)
		}
		t.Fatalf("more messages than input bytes from %q", data)
	})
}

// checkRewrite writes m as mbox and reads it back: the result must be m
// with LF line endings. Flags the writer refuses (keywords that are not
// atoms) and the documented losses (a message that starts with white space
// and has no empty line or final newline, and a Content-Length field that
// gives the body length, which the reader takes for mboxcl's) are passed
// over.
func checkRewrite(t *testing.T, m *Message) {
	t.Helper()
	raw := toLF(m.Raw)
	if len(raw) > 0 && (raw[0] == ' ' || raw[0] == '\t') && raw[len(raw)-1] != '\n' &&
		scanHeader(raw, func(string, int, int, int) {}) == len(raw) {
		return
	}
	var buf bytes.Buffer
	w := NewMboxWriter(&buf)
	if err := w.Write(m); errors.Is(err, ErrInvalidFlag) {
		return
	} else if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := NewMboxReader(bytes.NewReader(buf.Bytes())).Next()
	if err != nil {
		t.Fatalf("reading back %q: %v", buf.Bytes(), err)
	}
	hasLength := false
	scanHeader(raw, func(name string, _, _, _ int) {
		hasLength = hasLength || strings.EqualFold(name, fieldContentLength)
	})
	if !bytes.Equal(again.Raw, raw) && !hasLength {
		t.Fatalf("Raw %q came back as %q via %q", raw, again.Raw, buf.Bytes())
	}
	if !m.InternalDate.IsZero() && !again.InternalDate.Equal(m.InternalDate) {
		t.Fatalf("date %v came back as %v via %q", m.InternalDate, again.InternalDate, buf.Bytes())
	}
	if !sameFlags(again.Flags, m.Flags) {
		t.Fatalf("flags %q came back as %q via %q", m.Flags, again.Flags, buf.Bytes())
	}
}
