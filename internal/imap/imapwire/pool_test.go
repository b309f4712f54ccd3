package imapwire

import (
	"bufio"
	"bytes"
	"io"
	"strings"
	"sync"
	"testing"
)

// TestPooledReader checks that a Reader that gives its buffer back between commands
// loses no input: pipelined commands, a command split over reads, a literal, and the
// input left when the source changes.
func TestPooledReader(t *testing.T) {
	pool := &sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 16) }}
	for _, tc := range []struct {
		name  string
		input string
		chunk int // the source returns at most this many bytes a read
		want  []string
	}{
		{"pipelined", "a NOOP\r\nb CAPABILITY\r\nc LOGOUT\r\n", 1000, []string{"a NOOP", "b CAPABILITY", "c LOGOUT"}},
		{"byte by byte", "a NOOP\r\nb LOGOUT\r\n", 1, []string{"a NOOP", "b LOGOUT"}},
		{"longer than the first read", "a SELECT " + strings.Repeat("x", 200) + "\r\nb NOOP\r\n", 1000, []string{"a SELECT", "b NOOP"}},
		{"literal", "a LOGIN {5+}\r\nalice {3+}\r\npw!\r\nb NOOP\r\n", 7, []string{"a LOGIN", "b NOOP"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewPooledReader(&chunked{r: strings.NewReader(tc.input), n: tc.chunk}, pool, Options{})
			var got []string
			for {
				r.Release()
				cmd, err := r.ReadCommand()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("after %q: %v", got, err)
				}
				got = append(got, cmd.Tag+" "+cmd.Name)
				if a, ok := cmd.Args.(*Login); ok && (a.Username != "alice" || a.Password != "pw!") {
					t.Fatalf("LOGIN %+v", a)
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}

	// What is buffered when the source changes is handed over, in order.
	r := NewPooledReader(strings.NewReader("a COMPRESS DEFLATE\r\nrest of input"), pool, Options{})
	if _, err := r.ReadCommand(); err != nil {
		t.Fatal(err)
	}
	if got := string(r.Buffered()); got != "rest of input" {
		t.Fatalf("Buffered = %q", got)
	}
	r.SetSource(strings.NewReader("b NOOP\r\n"))
	if cmd, err := r.ReadCommand(); err != nil || cmd.Tag != "b" {
		t.Fatalf("after SetSource: %+v, %v", cmd, err)
	}
}

// chunked returns at most n bytes a read.
type chunked struct {
	r io.Reader
	n int
}

func (c *chunked) Read(p []byte) (int, error) { return c.r.Read(p[:min(len(p), c.n)]) }

// TestPooledWriter checks that a Writer that gives its buffer back writes everything
// once, and that Release keeps a buffer holding unsent bytes.
func TestPooledWriter(t *testing.T) {
	pool := &sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 16) }}
	var out bytes.Buffer
	w := NewPooledWriter(&out, pool)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	w.Untagged().Atom("OK")
	w.Release() // unsent: kept
	w.CRLF()
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	w.Release()
	w.StatusResponse("a", OK, nil, "done")
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	var other bytes.Buffer
	w.Release()
	w.SetDestination(&other)
	w.Untagged().Atom("BYE").CRLF()
	w.Flush()
	if out.String() != "* OK\r\na OK done\r\n" || other.String() != "* BYE\r\n" {
		t.Fatalf("wrote %q and %q", out.String(), other.String())
	}
}
