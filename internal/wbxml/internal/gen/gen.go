// Package gen turns the ActiveSync code page tables (codepages.tsv and
// codepages-meta.tsv, taken from [MS-ASWBXML] 2.1.2.1) into the Go source of
// wbxml's codepages_gen.go; it runs at `go generate` time and in tests only and
// must never be imported by the codec itself.
//
// The tables are validated while they are read, so a typo in the TSV (a token
// outside 0x05–0x3F, a duplicate token or name on a page, a meta row that does
// not match its tag row) fails generation instead of producing a codec that
// silently mis-decodes.
package gen

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"go/format"
	"io"
	"strconv"
	"strings"
)

// ErrTable is wrapped by every error about the content of the TSV files.
var ErrTable = errors.New("code page table")

// WBXML 1.3 section 5.8.2: a tag token's low six bits are its identity, and
// 0x00–0x04 are global tokens, so a code page can only use 0x05–0x3F.
const (
	minToken = 0x05
	maxToken = 0x3F
)

// Status values of codepages-meta.tsv (see the README next to the TSV).
const (
	statusCurrent  = "current"
	statusLegacy   = "legacy"
	statusObsolete = "obsolete-page"
)

type tag struct {
	name   string
	token  int
	status string
	note   string
}

type page struct {
	number int
	name   string
	space  string
	tags   []tag
}

// Generate reads codepages.tsv (page_number, page_name, namespace, tag,
// token_hex) and codepages-meta.tsv (page_number, tag, token_hex, introduced,
// status, note) and returns gofmt-formatted Go source for package wbxml.
func Generate(pagesTSV, metaTSV io.Reader) ([]byte, error) {
	pages, err := readPages(pagesTSV)
	if err != nil {
		return nil, err
	}
	if err := readMeta(metaTSV, pages); err != nil {
		return nil, err
	}
	return render(pages)
}

func readTSV(r io.Reader, header []string) ([][]string, error) {
	cr := csv.NewReader(r)
	cr.Comma = '\t'
	cr.LazyQuotes = true
	cr.FieldsPerRecord = len(header)
	rows, err := cr.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTable, err)
	}
	if len(rows) == 0 || strings.Join(rows[0], "\t") != strings.Join(header, "\t") {
		return nil, fmt.Errorf("%w: header must be %q", ErrTable, strings.Join(header, "\t"))
	}
	return rows[1:], nil
}

func readPages(r io.Reader) ([]*page, error) {
	rows, err := readTSV(r, []string{"page_number", "page_name", "namespace", "tag", "token_hex"})
	if err != nil {
		return nil, err
	}
	var pages []*page
	for i, row := range rows {
		line := i + 2
		num, err := strconv.Atoi(row[0])
		if err != nil || num < 0 || num > 255 {
			return nil, fmt.Errorf("%w: line %d: bad page number %q", ErrTable, line, row[0])
		}
		tok, err := parseToken(row[4])
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %w", ErrTable, line, err)
		}
		if !isIdent(row[1]) || !isIdent(row[2]) || !isIdent(row[3]) {
			return nil, fmt.Errorf("%w: line %d: page name, namespace and tag must be letters and digits", ErrTable, line)
		}
		switch {
		case num == len(pages):
			pages = append(pages, &page{number: num, name: row[1], space: row[2]})
		case num != len(pages)-1:
			return nil, fmt.Errorf("%w: line %d: page %d out of order (pages must be numbered 0, 1, 2, … in order)", ErrTable, line, num)
		}
		p := pages[num]
		if p.name != row[1] || p.space != row[2] {
			return nil, fmt.Errorf("%w: line %d: page %d is both %s/%s and %s/%s", ErrTable, line, num, p.name, p.space, row[1], row[2])
		}
		for _, t := range p.tags {
			if t.token == tok || t.name == row[3] {
				return nil, fmt.Errorf("%w: line %d: page %d: %s 0x%02X clashes with %s 0x%02X", ErrTable, line, num, row[3], tok, t.name, t.token)
			}
		}
		p.tags = append(p.tags, tag{name: row[3], token: tok})
	}
	if len(pages) == 0 {
		return nil, fmt.Errorf("%w: no rows", ErrTable)
	}
	spaces := map[string]int{}
	for _, p := range pages {
		if prev, dup := spaces[p.space]; dup {
			return nil, fmt.Errorf("%w: namespace %s is used by pages %d and %d", ErrTable, p.space, prev, p.number)
		}
		spaces[p.space] = p.number
	}
	return pages, nil
}

func readMeta(r io.Reader, pages []*page) error {
	rows, err := readTSV(r, []string{"page_number", "tag", "token_hex", "introduced", "status", "note"})
	if err != nil {
		return err
	}
	for i, row := range rows {
		line := i + 2
		num, err := strconv.Atoi(row[0])
		if err != nil || num < 0 || num >= len(pages) {
			return fmt.Errorf("%w: meta line %d: unknown page %q", ErrTable, line, row[0])
		}
		tok, err := parseToken(row[2])
		if err != nil {
			return fmt.Errorf("%w: meta line %d: %w", ErrTable, line, err)
		}
		switch row[4] {
		case statusCurrent, statusLegacy, statusObsolete:
		default:
			return fmt.Errorf("%w: meta line %d: unknown status %q", ErrTable, line, row[4])
		}
		t := findTag(pages[num], tok)
		if t == nil || t.name != row[1] {
			return fmt.Errorf("%w: meta line %d: page %d has no tag %s 0x%02X", ErrTable, line, num, row[1], tok)
		}
		if t.status != "" {
			return fmt.Errorf("%w: meta line %d: second row for %s 0x%02X", ErrTable, line, row[1], tok)
		}
		t.status, t.note = row[4], row[5]
	}
	for _, p := range pages {
		for _, t := range p.tags {
			if t.status == "" {
				return fmt.Errorf("%w: page %d tag %s has no meta row", ErrTable, p.number, t.name)
			}
		}
	}
	return nil
}

func findTag(p *page, tok int) *tag {
	for i := range p.tags {
		if p.tags[i].token == tok {
			return &p.tags[i]
		}
	}
	return nil
}

func parseToken(s string) (int, error) {
	hex, ok := strings.CutPrefix(s, "0x")
	if !ok {
		return 0, fmt.Errorf("token %q must be written 0xNN", s)
	}
	v, err := strconv.ParseUint(hex, 16, 8)
	if err != nil || v < minToken || v > maxToken {
		return 0, fmt.Errorf("token %q outside 0x%02X–0x%02X", s, minToken, maxToken)
	}
	return int(v), nil
}

// isIdent reports whether s is usable both as an XML name and inside a Go
// identifier: the EAS names are plain ASCII letters and digits.
func isIdent(s string) bool {
	if s == "" || s[0] < 'A' || s[0] > 'Z' && s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

func render(pages []*page) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("// Code generated by wbxml's gen.go from testdata/codepages.tsv and testdata/codepages-meta.tsv; DO NOT EDIT.\n\n")
	b.WriteString("package wbxml\n\n")
	b.WriteString("// Namespaces of the ActiveSync code pages, spelled as EAS XML writes them\n")
	b.WriteString("// ([MS-ASWBXML] 2.1.2.1); Element.Space holds one of these.\n")
	b.WriteString("const (\n")
	for _, p := range pages {
		fmt.Fprintf(&b, "\tNS%s = %q // code page %d\n", p.space, p.space, p.number)
	}
	b.WriteString(")\n\n")
	b.WriteString("// codePages is indexed by code page number ([MS-ASWBXML] 2.1.2.1.1–2.1.2.1.26).\n")
	b.WriteString("var codePages = [...]codePage{\n")
	for _, p := range pages {
		fmt.Fprintf(&b, "\t%d: {\n\t\tname: %q,\n\t\tspace: NS%s,\n\t\ttags: [64]tagDef{\n", p.number, p.name, p.space)
		for _, t := range p.tags {
			fmt.Fprintf(&b, "\t\t\t0x%02X: {%q, %s},", t.token, t.name, goStatus(t.status))
			if t.note != "" {
				fmt.Fprintf(&b, " // %s", t.note)
			}
			b.WriteString("\n")
		}
		b.WriteString("\t\t},\n\t\ttokens: map[string]byte{\n")
		for _, t := range p.tags {
			fmt.Fprintf(&b, "\t\t\t%q: 0x%02X,\n", t.name, t.token)
		}
		b.WriteString("\t\t},\n\t},\n")
	}
	b.WriteString("}\n\n")
	b.WriteString("// pageBySpace maps a namespace to its code page number.\n")
	b.WriteString("var pageBySpace = map[string]int{\n")
	for _, p := range pages {
		fmt.Fprintf(&b, "\tNS%s: %d,\n", p.space, p.number)
	}
	b.WriteString("}\n")
	out, err := format.Source(b.Bytes())
	if err != nil {
		return nil, fmt.Errorf("formatting generated code: %w", err)
	}
	return out, nil
}

func goStatus(s string) string {
	switch s {
	case statusLegacy:
		return "statusLegacy"
	case statusObsolete:
		return "statusObsolete"
	}
	return "statusCurrent"
}
