package wbxml

//go:generate go run gen.go

// tagStatus says whether a tag may be emitted; codepages-meta.tsv is the source.
type tagStatus uint8

const (
	// statusNone marks an unassigned token: the zero value of tagDef.
	statusNone tagStatus = iota
	// statusCurrent tags are in use in protocol 12.0–16.1.
	statusCurrent
	// statusLegacy tags are known only from AS 2.x-era tables: decoded so old
	// clients can be read, never emitted.
	statusLegacy
	// statusObsolete tags belong to code page 3 (AirNotify), which
	// its [MS-ASWBXML] section says is no longer in use; treated like legacy.
	statusObsolete
)

// tagDef is one tag of a code page.
type tagDef struct {
	name   string
	status tagStatus
}

// codePage is one [MS-ASWBXML] code page: tags is indexed by token identity
// (WBXML 1.3 section 5.8.2, bits 0–5) for decoding, tokens by name for encoding.
type codePage struct {
	name   string
	space  string
	tags   [64]tagDef
	tokens map[string]byte
}

// lookupToken returns the tag for token identity id on page p.
func lookupToken(p int, id byte) (tagDef, bool) {
	if p < 0 || p >= len(codePages) || id >= 64 {
		return tagDef{}, false
	}
	t := codePages[p].tags[id]
	return t, t.status != statusNone
}
