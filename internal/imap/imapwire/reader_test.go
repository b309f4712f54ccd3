package imapwire

import (
	"bufio"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

// session reads commands from in, recording continuation requests.
type session struct {
	r     *Reader
	conts []LiteralInfo
}

func newSession(in string, opts Options) *session {
	s := &session{}
	opts.Continue = func(li LiteralInfo) error {
		s.conts = append(s.conts, li)
		return nil
	}
	s.r = NewReader(bufio.NewReader(strings.NewReader(in)), opts)
	return s
}

func TestLiteralContinuation(t *testing.T) {
	s := newSession("a LOGIN {5}\r\nalice {6+}\r\nsecret\r\nb APPEND x ~{2}\r\n\x00\x01\r\nc NOOP\r\n", Options{})
	cmd, err := s.r.ReadCommand()
	if err != nil {
		t.Fatal(err)
	}
	if got := cmd.Args.(*Login); got.Username != "alice" || got.Password != "secret" {
		t.Errorf("login = %+v", got)
	}
	// Only the synchronising literal asked for a continuation.
	if want := []LiteralInfo{{Tag: "a", Command: "LOGIN", Size: 5}}; !reflect.DeepEqual(s.conts, want) {
		t.Errorf("continuations = %+v, want %+v", s.conts, want)
	}
	cmd, err = s.r.ReadCommand()
	if err != nil {
		t.Fatal(err)
	}
	if a := cmd.Args.(*Append); !a.Binary || string(a.Message) != "\x00\x01" {
		t.Errorf("append = %+v", a)
	}
	if want := (LiteralInfo{Tag: "b", Command: "APPEND", Size: 2, Binary: true}); s.conts[1] != want {
		t.Errorf("continuation = %+v", s.conts[1])
	}
	if cmd, err = s.r.ReadCommand(); err != nil || cmd.Name != "NOOP" {
		t.Fatalf("got %+v, %v", cmd, err)
	}
	if _, err = s.r.ReadCommand(); err != io.EOF {
		t.Errorf("at end: %v, want io.EOF", err)
	}
}

func TestLiteralRefusedByContinue(t *testing.T) {
	refused := errors.New("no such mailbox")
	r := NewReader(bufio.NewReader(strings.NewReader("a APPEND nope {3}\r\nb NOOP\r\n")), Options{
		Continue: func(LiteralInfo) error { return refused },
	})
	if _, err := r.ReadCommand(); !errors.Is(err, refused) {
		t.Fatalf("err = %v", err)
	}
	// The client did not send the literal; the next command follows.
	if cmd, err := r.ReadCommand(); err != nil || cmd.Tag != "b" {
		t.Fatalf("next = %+v, %v", cmd, err)
	}
}

func TestLimits(t *testing.T) {
	big := strings.Repeat("x", 100)
	tests := []struct {
		name        string
		opts        Options
		in          string
		tag, what   string
		recoverable bool
	}{
		{"sync literal too big", Options{MaxLiteral: 10}, "a LOGIN {100}\r\n", "a", "literal", true},
		{"non-sync literal too big is discarded", Options{MaxLiteral: 10},
			"a LOGIN {100+}\r\n" + big + " {3+}\r\nabc\r\n", "a", "literal", true},
		{"non-sync literal then sync literal", Options{MaxLiteral: 10},
			"a LOGIN {100+}\r\n" + big + " {3}\r\n", "a", "literal", true},
		{"non-sync literal beyond discard budget", Options{MaxLiteral: 10, MaxDiscard: 50},
			"a LOGIN {100+}\r\n" + big + " x\r\n", "a", "literal", false},
		{"LITERAL- limit", Options{MaxNonSyncLiteral: 4096},
			"a LOGIN {5000+}\r\n" + strings.Repeat("y", 5000) + " x\r\n", "a", "literal", true},
		{"append limit", Options{MaxAppendLiteral: 50}, "a APPEND x {100}\r\n", "a", "literal", true},
		{"command limit", Options{MaxCommand: 30},
			"a LOGIN {10}\r\n0123456789 {10}\r\n", "a", "command", true},
		{"line too long", Options{MaxLine: 40}, "a SEARCH " + big + "\r\n", "a", "line", true},
		{"line too long ending in non-sync literal", Options{MaxLine: 40},
			"a SEARCH " + big + " {3+}\r\nabc\r\n", "a", "line", true},
		{"second line too long", Options{MaxLine: 40}, "a SEARCH SUBJECT {3}\r\nabc " + big + "\r\n", "a", "line", true},
		{"line too long, read whole", Options{MaxLine: 40, MaxDiscard: 20},
			"a SEARCH " + big + "\r\n", "a", "line", true},
		{"line too long beyond discard budget", Options{MaxLine: 40, MaxDiscard: 20},
			"a SEARCH " + strings.Repeat(big, 100) + "\r\n", "a", "line", false},
		{"very long line discarded", Options{MaxLine: 40},
			"a SEARCH " + strings.Repeat(big, 100) + " {3+}\r\nabc\r\n", "a", "line", true},
	}
	for _, tt := range tests {
		s := newSession(tt.in+"b NOOP\r\n", tt.opts)
		_, err := s.r.ReadCommand()
		var le *LimitError
		if !errors.As(err, &le) {
			t.Errorf("%s: err = %v, want LimitError", tt.name, err)
			continue
		}
		if le.Tag != tt.tag || le.What != tt.what || le.Recoverable != tt.recoverable {
			t.Errorf("%s: got %+v", tt.name, le)
		}
		for _, c := range s.conts {
			if c.Size > 50 {
				t.Errorf("%s: continuation sent for refused literal %+v", tt.name, c)
			}
		}
		if !tt.recoverable {
			continue
		}
		if cmd, err := s.r.ReadCommand(); err != nil || cmd.Tag != "b" {
			t.Errorf("%s: next command %+v, %v", tt.name, cmd, err)
		}
	}
}

func TestAppendLimitSetter(t *testing.T) {
	s := newSession("a APPEND x {100}\r\n", Options{})
	s.r.SetAppendLimit(99)
	var le *LimitError
	if _, err := s.r.ReadCommand(); !errors.As(err, &le) || le.Limit != 99 || le.Command != "APPEND" {
		t.Errorf("err = %v", err)
	}
	// Other commands keep MaxLiteral even when APPENDLIMIT is larger.
	s = newSession("a LOGIN {2000}\r\n", Options{MaxLiteral: 1000, MaxAppendLiteral: 1 << 20})
	if _, err := s.r.ReadCommand(); !errors.As(err, &le) || le.Limit != 1000 {
		t.Errorf("err = %v", err)
	}
}

func TestTruncatedInput(t *testing.T) {
	for _, in := range []string{"a NOOP", "a LOGIN {5}\r\nal", "a LOGIN {5}\r\nalice"} {
		s := newSession(in, Options{})
		if _, err := s.r.ReadCommand(); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%q: err = %v, want io.ErrUnexpectedEOF", in, err)
		}
	}
}

func TestBareLF(t *testing.T) {
	s := newSession("a LOGIN {1}\nx y\nb NOOP\n", Options{})
	if cmd, err := s.r.ReadCommand(); err != nil || cmd.Args.(*Login).Password != "y" {
		t.Fatalf("got %+v, %v", cmd, err)
	}
	if cmd, err := s.r.ReadCommand(); err != nil || cmd.Tag != "b" {
		t.Fatalf("got %+v, %v", cmd, err)
	}
}

func TestReadDoneAndLine(t *testing.T) {
	s := newSession("done\r\nDONX\r\ndGVzdA==\r\n"+strings.Repeat("z", 100)+"\r\nafter\r\n", Options{MaxLine: 50})
	if err := s.r.ReadDone(); err != nil {
		t.Errorf("ReadDone: %v", err)
	}
	var se *SyntaxError
	if err := s.r.ReadDone(); !errors.As(err, &se) {
		t.Errorf("ReadDone on DONX: %v", err)
	}
	if line, err := s.r.ReadLine(); err != nil || line != "dGVzdA==" {
		t.Errorf("ReadLine = %q, %v", line, err)
	}
	var le *LimitError
	if _, err := s.r.ReadLine(); !errors.As(err, &le) || !le.Recoverable {
		t.Errorf("long line: %v", err)
	}
	if line, err := s.r.ReadLine(); err != nil || line != "after" {
		t.Errorf("ReadLine = %q, %v", line, err)
	}
}

func TestSplitLiteral(t *testing.T) {
	for _, tt := range []struct {
		in   string
		text string
		m    literalMarker
		ok   bool
	}{
		{"a LOGIN {5}", "a LOGIN ", literalMarker{size: 5, sync: true}, true},
		{"a LOGIN {5+}", "a LOGIN ", literalMarker{size: 5}, true},
		{"a APPEND x ~{5}", "a APPEND x ", literalMarker{size: 5, sync: true, binary: true}, true},
		{"a APPEND x ~{0+}", "a APPEND x ", literalMarker{binary: true}, true},
		{"a LOGIN {5-}", "a LOGIN {5-}", literalMarker{}, false},
		{"a LOGIN {}", "", literalMarker{}, false},
		{"a LOGIN {+}", "", literalMarker{}, false},
		{"a LOGIN {99999999999999999999}", "", literalMarker{}, false},
		{"a LOGIN \"{5}\"", "", literalMarker{}, false},
	} {
		text, m, ok := splitLiteral([]byte(tt.in))
		if ok != tt.ok || (ok && (string(text) != tt.text || m != tt.m)) {
			t.Errorf("%q: got %q %+v %v", tt.in, text, m, ok)
		}
	}
}
