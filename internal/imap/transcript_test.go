package imap

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestTranscripts replays the golden transcripts in testdata: one exchange per file,
// against a fresh server where alice's INBOX holds three messages (UIDs 1 to 3). The
// client connects over implicit TLS. A file has these lines:
//
//	# comment
//	! login        log in as alice (the exchange is not part of the file)
//	C: text        the client sends text and CRLF
//	S: pattern     the server's next line matches pattern: text as it is, except
//	               {{re}}, a regular expression for a variable part
//	S: (closed)    the server closes the connection
func TestTranscripts(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no transcripts: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			t.Parallel()
			replayTranscript(t, file)
		})
	}
}

// transcriptPattern compiles an S line.
func transcriptPattern(p string) *regexp.Regexp {
	var b strings.Builder
	for p != "" {
		i := strings.Index(p, "{{")
		if i < 0 {
			b.WriteString(regexp.QuoteMeta(p))
			break
		}
		j := strings.Index(p[i:], "}}")
		if j < 0 {
			b.WriteString(regexp.QuoteMeta(p))
			break
		}
		b.WriteString(regexp.QuoteMeta(p[:i]))
		b.WriteString("(?:" + p[i+2:i+j] + ")")
		p = p[i+j+2:]
	}
	return regexp.MustCompile("^" + b.String() + "$")
}

func replayTranscript(t *testing.T, file string) {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	e := newSrvEnv(t)
	for i := 1; i <= 3; i++ {
		e.deliver(t, e.alice.ID, 0, srvMsg(i, "message "+strconv.Itoa(i)))
	}
	c := e.dialRaw(t, e.implicit, e.client)
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	for n, line := range lines {
		where := file + ":" + strconv.Itoa(n+1)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case line == "! login":
			c.expect(`\* OK .*`)
			c.send("l0 LOGIN alice@example.com " + quoteArg(srvPassword))
			c.expect(`l0 OK .*`)
		case strings.HasPrefix(line, "C:"):
			c.send(strings.TrimPrefix(strings.TrimPrefix(line, "C:"), " "))
		case line == "S: (closed)":
			if got, err := c.readLine(5e9); err == nil {
				t.Fatalf("%s: got %q, want the connection closed", where, got)
			}
		case strings.HasPrefix(line, "S:"):
			re := transcriptPattern(strings.TrimPrefix(strings.TrimPrefix(line, "S:"), " "))
			got, err := c.readLine(5e9)
			if err != nil {
				t.Fatalf("%s: want %q: %v", where, re, err)
			}
			if !re.MatchString(got) {
				t.Fatalf("%s: got %q, want %q", where, got, re)
			}
		default:
			t.Fatalf("%s: bad line %q", where, line)
		}
	}
}
