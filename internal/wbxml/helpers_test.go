package wbxml

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// wire turns a readable byte listing into bytes: hex pairs separated by
// spaces, with "quoted" runs standing for their UTF-8 bytes, so golden
// vectors read like the byte-by-byte table of the [MS-ASWBXML] example.
func wire(t testing.TB, s string) []byte {
	t.Helper()
	var out []byte
	for s != "" {
		s = strings.TrimLeft(s, " \t\n")
		if s == "" {
			break
		}
		if s[0] == '"' {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				t.Fatalf("wire: unterminated quote in %q", s)
			}
			out = append(out, s[1:1+end]...)
			s = s[end+2:]
			continue
		}
		b, err := hex.DecodeString(s[:2])
		if err != nil {
			t.Fatalf("wire: %v in %q", err, s)
		}
		out = append(out, b...)
		s = s[2:]
	}
	return out
}

type fixture struct {
	name string
	xml  []byte
	tree *Element
}

// fixtures loads testdata/xml/*.xml, the hand-written documents that follow
// the examples of [MS-ASCMD].
func fixtures(t testing.TB) []fixture {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "xml", "*.xml"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(paths)
	var out []fixture
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		tree, err := ParseXML(b)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out = append(out, fixture{name: filepath.Base(p), xml: b, tree: tree})
	}
	if len(out) < 20 {
		t.Fatalf("only %d fixtures", len(out))
	}
	return out
}

// walk calls f for every element of the tree, parents first.
func walk(e *Element, f func(*Element)) {
	f(e)
	for _, c := range e.Children {
		walk(c, f)
	}
}
