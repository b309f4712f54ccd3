package mime

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParse checks that Parse never panics, that every offset lies within the input and
// within the parent part, in order, and that the Message survives a JSON round trip (the
// store keeps it as JSON).
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.eml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		raw, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	for _, s := range []string{
		"",
		"\r\n",
		"Subject: =?utf-8?q?x?=\r\n\r\n",
		"Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\n--a\r\n\r\n--a--",
		"Content-Type: multipart/mixed; boundary=\"\"\r\n\r\n----\r\n",
		"Content-Type: message/rfc822\r\n\r\nContent-Type: multipart/x; boundary=q\n\n--q\n--q--",
		"To: a:b:c;;<<>>@@,,(((\"\r\n\r\n",
		"Content-Type: text/html\r\n\r\n<script><!--<a href='>",
		"Content-Disposition: a; f*0*=x''%; f*99999*=%zz; f*=''\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		orig := bytes.Clone(raw)
		m := Parse(raw)
		if !bytes.Equal(raw, orig) {
			t.Fatal("Parse modified its input")
		}
		checkInvariants(t, m, raw)
		if !utf8.ValidString(m.Text) {
			t.Errorf("Text is not valid UTF-8")
		}
		checkTextTail(t, m, raw)
		if !utf8.ValidString(m.Subject()) {
			t.Errorf("Subject() is not valid UTF-8")
		}
		for i := range m.Root.Parts {
			if _, ok := m.PartAt([]int{i + 1}); !ok {
				t.Errorf("PartAt(%d) missing", i+1)
			}
		}
		js, err := json.Marshal(m)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		var back Message
		if err := json.Unmarshal(js, &back); err != nil {
			t.Fatalf("unmarshal: %v", err)
		}
		want := *m
		want.Text, want.TextTail, want.Headers = "", TextTail{}, nil // not serialised
		if !reflect.DeepEqual(&back, &want) {
			t.Errorf("JSON round trip changed the message:\n%s", js)
		}
	})
}

// checkTextTail checks Message.TextTail's promise: FullText, built from the tail,
// is the text Parse would have written without it, and Text ends where the tail
// begins.
func checkTextTail(t *testing.T, m *Message, raw []byte) {
	t.Helper()
	tail := m.TextTail
	if tail.End <= tail.Start {
		if tail != (TextTail{}) {
			t.Errorf("TextTail %+v: empty but not zero", tail)
		}
		return
	}
	if tail.Start < 0 || tail.End > int64(len(raw)) {
		t.Fatalf("TextTail %+v out of range (raw %d bytes)", tail, len(raw))
	}
	if m.Text != "" && !strings.HasSuffix(m.Text, "\n") {
		t.Errorf("Text %.60q does not end with the newline before its tail", m.Text)
	}
	want := writtenText(m, raw)
	if got := m.FullText(raw); got != want {
		t.Errorf("FullText %.80q, want %.80q", got, want)
	}
}

// writtenText builds the search text of m with every piece written out, as Parse did
// before TextTail.
func writtenText(m *Message, raw []byte) string {
	var t textBuf
	addMessageText(&t, m, raw)
	return t.b.String()
}
