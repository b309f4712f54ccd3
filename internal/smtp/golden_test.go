package smtp

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestGolden replays the transcripts in testdata/*.txt over a raw socket. A transcript
// names the listener on its first line ("# listener: mx", "submission" or
// "submissions") and then holds lines:
//
//	C: text     a line the client sends (consecutive C: lines go out in one write,
//	            which is how a pipelining client sends them, RFC 2920)
//	S: text     the line the server must answer, exactly
//	S: <closed> the server must close the connection here
//	C: text<LF> the same, ended with a bare LF instead of CRLF
//	! starttls  upgrade the connection to TLS (after the 220 to STARTTLS)
//	! wait      the server must stay silent for a second (DATA not yet ended)
//	# ...       a comment
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	must(t, err)
	if len(files) == 0 {
		t.Fatal("no transcripts")
	}
	e := newEnv(t)
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
			replay(t, e, f)
		})
	}
}

func replay(t *testing.T, e *env, file string) {
	f, err := os.Open(file)
	must(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	var c *rawClient
	var pending strings.Builder
	flush := func() {
		if pending.Len() > 0 {
			c.send(pending.String())
			pending.Reset()
		}
	}
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if c == nil {
			listener, ok := strings.CutPrefix(line, "# listener: ")
			switch {
			case !ok:
				t.Fatalf("%s:%d: the first line must name the listener", file, n)
			case listener == "mx":
				c = dial(t, e.mx)
			case listener == "submission":
				c = dial(t, e.sub)
			case listener == "submissions":
				c = dialTLS(t, e.subTLS, e.roots)
			default:
				t.Fatalf("%s:%d: unknown listener %q", file, n, listener)
			}
			continue
		}
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "C:"):
			text := strings.TrimPrefix(strings.TrimPrefix(line, "C:"), " ")
			if t, ok := strings.CutSuffix(text, "<LF>"); ok {
				pending.WriteString(t + "\n")
			} else {
				pending.WriteString(text + "\r\n")
			}
		case line == "S: <closed>":
			flush()
			c.closed()
		case strings.HasPrefix(line, "S: "):
			flush()
			want := strings.TrimPrefix(line, "S: ")
			got, err := c.line(10 * time.Second)
			if err != nil {
				t.Fatalf("%s:%d: want %q, got error %v", file, n, want, err)
			}
			if got != want {
				t.Fatalf("%s:%d:\n got %q\nwant %q", file, n, got, want)
			}
		case line == "! starttls":
			flush()
			c.startTLS(e.roots)
		case line == "! wait":
			flush()
			if got, err := c.line(time.Second); err == nil {
				t.Fatalf("%s:%d: got %q, want silence", file, n, got)
			}
		default:
			t.Fatalf("%s:%d: cannot read %q", file, n, line)
		}
	}
	must(t, sc.Err())
}
