package mime

import (
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/htmlindex"
)

// toUTF8 converts b from the named charset to valid UTF-8. It never fails: an unknown or
// missing charset, or one that claims ASCII or UTF-8, keeps b when it is valid UTF-8
// (mislabelled UTF-8 is the commonest error) and otherwise reads it as windows-1252, the
// superset of ISO-8859-1 that mislabelled 8-bit mail almost always is.
//
// Labels are resolved by the WHATWG Encoding Standard table (htmlindex), which knows the
// aliases mail software uses in practice (latin1, ks_c_5601-1987, gb2312, x-sjis, ...).
func toUTF8(charset string, b []byte) string {
	label := strings.ToLower(strings.Trim(charset, " \t\"'"))
	switch label {
	case "", "us-ascii", "ascii", "utf-8", "utf8", "unknown-8bit", "x-unknown", "default":
		return validUTF8(string(b))
	}
	enc, err := htmlindex.Get(label)
	if err != nil {
		return validUTF8(string(b))
	}
	out, err := enc.NewDecoder().Bytes(b)
	if err != nil {
		return validUTF8(string(b))
	}
	// Decoders substitute U+FFFD for bad input, but the "replacement" and UTF-16
	// encodings can still pass odd bytes through; guarantee the invariant here.
	return strings.ToValidUTF8(string(out), "\uFFFD")
}

// validUTF8 returns s unchanged when it is valid UTF-8 and otherwise reads it as
// windows-1252, so raw 8-bit header bytes become text instead of being lost.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	out, err := charmap.Windows1252.NewDecoder().String(s)
	if err != nil {
		return strings.ToValidUTF8(s, "\uFFFD")
	}
	return out
}
