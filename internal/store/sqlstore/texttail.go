package sqlstore

import (
	"strings"

	"mailroom/internal/mime"
)

// Text tails (SQLite migration 0006): see content.

// longText is the length past which a text is not in the full-text index
// (message_text.long, SQLite migration 0002): search reads such texts whole.
const longText = 16 << 10

// inlineArea is a blob area that keeps blobs in the store's own database, where SQL
// can read them (blob.Local).
type inlineArea interface {
	Inline() (keyPrefix string, limit int)
}

// keepsTail reports whether the text tail of message raw stays in the message: only
// where SQL can read it, and only if the text is too long for the index anyway.
func (s *Store) keepsTail(raw []byte, tail mime.TextTail) bool {
	if s.tails == nil || tail.End-tail.Start <= longText {
		return false
	}
	_, limit := s.tails.Inline()
	return len(raw) <= limit
}

// tailMatch returns the condition, on the message_text row t, that the row's text
// tail contains s (lower-cased), or "" when no row can have a tail. A tail is ASCII,
// where LIKE ignores case as lower-casing does, and has CRLF where the text has LF;
// the text has no other CR, so a string with one cannot match there.
func (q *query) tailMatch(s string) string {
	if q.tailKey == "" || strings.ContainsRune(s, '\r') {
		return ""
	}
	// LIKE takes a BLOB for no text at all: the bytes are read as TEXT.
	return `(t.tail_end > 0 AND CAST(substr((SELECT d.data FROM blob_data d WHERE d.id = ` + q.arg(q.tailKey) + ` || t.blob), t.tail_start + 1, t.tail_end - t.tail_start) AS TEXT) LIKE ` +
		q.arg(likeContains(strings.ReplaceAll(s, "\n", "\r\n"))) + ` ESCAPE '\')`
}

// bodyLike returns the condition that the text of row t, body and tail, contains s
// (lower-cased).
func (q *query) bodyLike(s string) string {
	cond := `t.body LIKE ` + q.arg(likeContains(s)) + ` ESCAPE '\'`
	if tail := q.tailMatch(s); tail != "" {
		cond = `(` + cond + ` OR ` + tail + `)`
	}
	return cond
}
