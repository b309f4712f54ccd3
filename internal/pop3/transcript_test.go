package pop3

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestTranscripts replays the golden transcripts in testdata: one exchange per file,
// against a fresh server and mailbox holding testMessages. A file has these lines:
//
//	# comment
//	! tls            connect to the implicit-TLS listener (first line only)
//	C: text          the client sends text and CRLF
//	S: pattern       the server's next line matches pattern, where * is any text
//	S: (closed)      the server closes the connection
//	! inbox 1 3      alice's Inbox now holds exactly these test messages
//
// After a "C: STLS" answered with +OK the client starts TLS. In S lines {idN} and
// {sizeN} stand for test message N's MessageID and size, {octets} for all sizes.
func TestTranscripts(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no transcripts: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			t.Parallel()
			replay(t, file)
		})
	}
}

func replay(t *testing.T, file string) {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	e := newEnv(t)
	vars := []string{}
	var octets int
	for i, m := range testMessages {
		n := strconv.Itoa(i + 1)
		vars = append(vars, "{id"+n+"}", strconv.FormatInt(int64(e.ids[i]), 10), "{size"+n+"}", strconv.Itoa(len(m)))
		octets += len(m)
	}
	vars = append(vars, "{octets}", strconv.Itoa(octets))
	expand := strings.NewReplacer(vars...)

	addr := e.plain
	if len(lines) > 0 && lines[0] == "! tls" {
		addr = e.implicit
	}
	var c *client
	if addr == e.implicit {
		c = e.dialNoGreeting(t, addr, e.client)
	} else {
		c = e.dialNoGreeting(t, addr, nil)
	}
	lastSent := ""
	for n, line := range lines {
		where := file + ":" + strconv.Itoa(n+1)
		switch {
		case line == "" || strings.HasPrefix(line, "#") || line == "! tls":
		case strings.HasPrefix(line, "C: "):
			lastSent = line[3:]
			c.send(lastSent)
		case line == "S: (closed)":
			c.expectClosed()
		case strings.HasPrefix(line, "S: ") || line == "S:":
			pattern := expand.Replace(strings.TrimPrefix(strings.TrimPrefix(line, "S:"), " "))
			got, err := c.readLine()
			if err != nil {
				t.Fatalf("%s: want %q: %v", where, pattern, err)
			}
			if !match(pattern, got) {
				t.Fatalf("%s: got %q, want %q", where, got, pattern)
			}
			if strings.EqualFold(lastSent, "STLS") && strings.HasPrefix(got, "+OK") {
				c.handshake(e.client)
			}
		case strings.HasPrefix(line, "! inbox"):
			var want []int
			for f := range strings.FieldsSeq(strings.TrimPrefix(line, "! inbox")) {
				k, err := strconv.Atoi(f)
				if err != nil {
					t.Fatalf("%s: bad directive", where)
				}
				want = append(want, k)
			}
			var have []int
			for _, id := range e.inboxIDs(t) {
				have = append(have, slices.Index(e.ids, id)+1)
			}
			if !slices.Equal(have, want) {
				t.Fatalf("%s: Inbox holds test messages %v, want %v", where, have, want)
			}
		default:
			t.Fatalf("%s: cannot read %q", where, line)
		}
	}
}
