package config

import (
	"bytes"
	"sort"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// index maps every key path in a document to where it is and what kind of
// value it holds, so that errors found after decoding (bad values, clashing
// listeners) can still name a line. Paths are dotted; list elements and
// [[array tables]] carry their position, as in "tls.extra[1].cert".
type index map[string]entry

type entry struct {
	line int
	kind unstable.Kind
}

// lineTable converts byte offsets to 1-based line numbers.
type lineTable []int // offsets of '\n'

func newLineTable(data []byte) lineTable {
	var t lineTable
	for i, c := range data {
		if c == '\n' {
			t = append(t, i)
		}
	}
	return t
}

func (t lineTable) line(offset int) int {
	return sort.SearchInts(t, offset) + 1
}

// indexDocument walks the document with go-toml's parser. On a syntax error
// it returns the error and what it indexed so far; the caller reports syntax
// errors through the decoder, which positions them.
func indexDocument(data []byte) (index, error) {
	idx := index{}
	lines := newLineTable(data)
	arrayTables := map[string]int{}
	prefix := ""
	var p unstable.Parser
	p.Reset(data)
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			parts, line := keyParts(e, lines)
			if len(parts) == 0 {
				continue
			}
			path := strings.Join(parts, ".")
			idx.parents(parts[:len(parts)-1], "", line)
			if e.Kind == unstable.Table {
				idx.add(path, entry{line, unstable.Table})
				prefix = path
				continue
			}
			n := arrayTables[path]
			arrayTables[path] = n + 1
			idx.add(path, entry{line, unstable.ArrayTable})
			prefix = path + "[" + strconv.Itoa(n) + "]"
			idx.add(prefix, entry{line, unstable.Table})
		case unstable.KeyValue:
			idx.keyValue(prefix, e, lines)
		}
	}
	return idx, p.Error()
}

// keyParts returns the parts of a table header or key-value key, and the
// line of its first part.
func keyParts(n *unstable.Node, lines lineTable) ([]string, int) {
	var parts []string
	line := 0
	it := n.Key()
	for it.Next() {
		k := it.Node()
		if line == 0 {
			line = lines.line(int(k.Raw.Offset))
		}
		parts = append(parts, string(k.Data))
	}
	return parts, line
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// parents records the implicit tables a dotted key or header creates.
func (idx index) parents(parts []string, prefix string, line int) {
	for i := range parts {
		idx.add(join(prefix, strings.Join(parts[:i+1], ".")), entry{line, unstable.Table})
	}
}

// add keeps the first definition: a redefinition is a decoder error that
// is reported at its own position.
func (idx index) add(path string, e entry) {
	if _, ok := idx[path]; !ok {
		idx[path] = e
	}
}

func (idx index) keyValue(prefix string, kv *unstable.Node, lines lineTable) {
	parts, line := keyParts(kv, lines)
	if len(parts) == 0 {
		return
	}
	idx.parents(parts[:len(parts)-1], prefix, line)
	idx.value(join(prefix, strings.Join(parts, ".")), kv.Value(), line, lines)
}

func (idx index) value(path string, v *unstable.Node, line int, lines lineTable) {
	idx.add(path, entry{line, v.Kind})
	switch v.Kind {
	case unstable.Array:
		i := 0
		it := v.Children()
		for it.Next() {
			elem := it.Node()
			elemLine := line
			// Containers carry no range of their own; their key's line is the best there is.
			if elem.Raw.Length > 0 {
				elemLine = lines.line(int(elem.Raw.Offset))
			}
			idx.value(path+"["+strconv.Itoa(i)+"]", elem, elemLine, lines)
			i++
		}
	case unstable.InlineTable:
		it := v.Children()
		for it.Next() {
			idx.keyValue(path, it.Node(), lines)
		}
	}
}

// lineOf finds the line of path, or failing that of its closest ancestor in
// the file (a missing tls.extra[0].cert is reported on its [[tls.extra]]);
// 0 means the key and all its ancestors come from the defaults.
func (idx index) lineOf(path string) int {
	for path != "" {
		if e, ok := idx[path]; ok {
			return e.line
		}
		cut := strings.LastIndexAny(path, ".[")
		if cut < 0 {
			break
		}
		path = path[:cut]
	}
	return 0
}

// shape is the kind of value a known key must hold.
type shape int

const (
	shapeString shape = iota
	shapeList
	shapeTable
	shapeSize // integer or string
	shapeInt
)

// schema gives the shape of every key Mailroom knows; element paths use "[]".
// It is a function so the table cannot be changed at run time.
func schema() map[string]shape {
	return map[string]shape{
		"hostname":                shapeString,
		"log":                     shapeTable,
		"log.level":               shapeString,
		"log.format":              shapeString,
		"store":                   shapeTable,
		"store.backend":           shapeString,
		"store.path":              shapeString,
		"store.blobs":             shapeString,
		"store.dsn":               shapeString,
		"tls":                     shapeTable,
		"tls.cert":                shapeString,
		"tls.key":                 shapeString,
		"tls.extra":               shapeList,
		"tls.extra[]":             shapeTable,
		"tls.extra[].cert":        shapeString,
		"tls.extra[].key":         shapeString,
		"smtp":                    shapeTable,
		"smtp.listen":             shapeList,
		"smtp.listen[]":           shapeString,
		"smtp.submission":         shapeList,
		"smtp.submission[]":       shapeString,
		"smtp.submissions":        shapeList,
		"smtp.submissions[]":      shapeString,
		"smtp.max_message_size":   shapeSize,
		"smtp.relay_port":         shapeInt,
		"imap":                    shapeTable,
		"imap.listen":             shapeList,
		"imap.listen[]":           shapeString,
		"imap.tls_listen":         shapeList,
		"imap.tls_listen[]":       shapeString,
		"pop3":                    shapeTable,
		"pop3.listen":             shapeList,
		"pop3.listen[]":           shapeString,
		"pop3.tls_listen":         shapeList,
		"pop3.tls_listen[]":       shapeString,
		"http":                    shapeTable,
		"http.listen":             shapeList,
		"http.listen[]":           shapeString,
		"http.tls_listen":         shapeList,
		"http.tls_listen[]":       shapeString,
		"dns":                     shapeTable,
		"dns.resolver":            shapeString,
		"queue":                   shapeTable,
		"queue.timeout":           shapeString,
		"limits":                  shapeTable,
		"limits.shutdown_timeout": shapeString,
	}
}

// typeErrors checks every known key against the schema. It runs before
// decoding so that type mistakes get messages in TOML terms rather than the
// decoder's Go types, and all of them at once.
func (idx index) typeErrors() []*Error {
	shapes := schema()
	var errs []*Error
	for path, e := range idx {
		want, known := shapes[genericPath(path)]
		if !known || fits(e.kind, want) {
			continue
		}
		errs = append(errs, &Error{
			Line: e.line,
			Key:  path,
			Msg:  "expected " + shapeName(want) + ", found " + kindName(e.kind),
			Err:  ErrType,
		})
	}
	return errs
}

// genericPath replaces list positions with "[]": "tls.extra[1].cert" becomes
// "tls.extra[].cert".
func genericPath(path string) string {
	var b bytes.Buffer
	for i := 0; i < len(path); i++ {
		b.WriteByte(path[i])
		if path[i] == '[' {
			for i+1 < len(path) && path[i+1] != ']' {
				i++
			}
		}
	}
	return b.String()
}

func fits(k unstable.Kind, want shape) bool {
	switch want {
	case shapeString:
		return k == unstable.String
	case shapeList:
		return k == unstable.Array || k == unstable.ArrayTable
	case shapeTable:
		return k == unstable.Table || k == unstable.InlineTable
	case shapeSize:
		return k == unstable.String || k == unstable.Integer
	case shapeInt:
		return k == unstable.Integer
	}
	return false
}

func shapeName(s shape) string {
	switch s {
	case shapeList:
		return "a list"
	case shapeTable:
		return "a table"
	case shapeSize:
		return `a size such as "50MB" or a number of bytes`
	case shapeInt:
		return "an integer"
	}
	return "a string"
}

func kindName(k unstable.Kind) string {
	switch k {
	case unstable.String:
		return "a string"
	case unstable.Integer:
		return "an integer"
	case unstable.Float:
		return "a float"
	case unstable.Bool:
		return "a boolean"
	case unstable.Array:
		return "a list"
	case unstable.ArrayTable:
		return "an array of tables"
	case unstable.Table, unstable.InlineTable:
		return "a table"
	}
	return "a date or time"
}
