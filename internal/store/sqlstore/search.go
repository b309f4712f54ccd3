package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"mailroom/internal/db"
	"mailroom/internal/store"
)

// Search implements store.Store. Criteria compile to one SQL query over the message rows,
// the header values and the trigram index of the text: no blob is read.
func (s *Store) Search(ctx context.Context, folder store.FolderID, c *store.Criteria) ([]store.UID, error) {
	q := &query{args: []any{folder}, dialect: s.db.Dialect}
	if s.tails != nil {
		q.tailKey, _ = s.tails.Inline()
	}
	cond := "1 = 1"
	if c != nil {
		cond = q.criteria(c)
	}
	rows, err := s.db.Read().QueryContext(ctx, `SELECT m.uid FROM messages m WHERE m.folder = $1 AND `+cond+` ORDER BY m.uid`, q.args...)
	if err != nil {
		return nil, fmt.Errorf("search folder %d: %w", folder, err)
	}
	defer rows.Close()
	var out []store.UID
	for rows.Next() {
		var u store.UID
		if err := rows.Scan(&u); err != nil {
			return nil, fmt.Errorf("search folder %d: %w", folder, err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("search folder %d: %w", folder, err)
	}
	return out, nil
}

// headerWant pairs a header name with the text it must contain.
type headerWant struct{ name, value string }

type query struct {
	args    []any
	dialect db.Dialect
	tailKey string // blob_data key prefix of text tails (texttail.go); "" for none
}

func (q *query) arg(v any) string {
	q.args = append(q.args, v)
	return fmt.Sprintf("$%d", len(q.args))
}

// likeContains makes a LIKE pattern matching s anywhere, with LIKE's wildcards escaped.
func likeContains(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(strings.ToLower(s)) + "%"
}

// header matches a header field's decoded value. The subquery is correlated so that it
// reads only the searched folder's messages through the (blob, name) index: an
// uncorrelated IN would compare every stored header of that name, of every account.
// On SQLite the Subject is matched from the messages_subject index where it can be.
func (q *query) header(name, value string) string {
	name = strings.ToLower(name)
	pattern := q.arg(likeContains(value))
	fields := `EXISTS (SELECT 1 FROM message_headers h WHERE h.blob = m.blob AND h.name = ` + q.arg(name) +
		` AND h.value LIKE ` + pattern + ` ESCAPE '\')`
	if name != "subject" || q.dialect != db.SQLite {
		return fields
	}
	// Migration 0005: the index holds the first Subject field when its raw text is its
	// decoded value, NULL when it is not (or absent). Those, and contents with several
	// Subject fields, are matched through message_headers as above.
	return `CASE WHEN ` + plainSubject + ` IS NULL OR m.blob IN (SELECT blob FROM message_multi_subject) THEN ` + fields +
		` ELSE ` + plainSubject + ` LIKE ` + pattern + ` ESCAPE '\' END`
}

// plainSubject is the expression of the messages_subject index (SQLite migration
// 0005), word for word: SQLite reads an indexed expression from the index, rather than
// computing it from every message row, only when the query's text is the same.
const plainSubject = `(iif(instr(summary ->> '$.envelope.subject', '=?') OR length(summary ->> '$.envelope.subject') <> length(CAST(summary ->> '$.envelope.subject' AS BLOB)), NULL, summary ->> '$.envelope.subject'))`

// body matches the decoded text, lower-cased like the stored text. On SQLite three
// characters or more use the FTS5 trigram table; its tokenizer cannot match shorter
// strings, so those read the folder's texts one by one. On PostgreSQL the LIKE itself
// is answered by the pg_trgm GIN index, which likewise cannot serve shorter strings.
func (q *query) body(s string) string {
	s = strings.ToLower(s)
	if q.dialect == db.SQLite && utf8.RuneCountInString(s) >= 3 {
		phrase := `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
		// The index holds the texts of up to 16 KiB (migrations 0002 and 0003); longer
		// texts, texts with a tail (texttail.go) and texts not indexed yet are searched
		// whole with LIKE. Its hits count only for texts marked indexed: the entries of
		// a removed text stay until the indexer deletes them, and SQLite may have given
		// its rowid to a new text (migration 0003).
		return `(m.blob IN (SELECT t.blob FROM message_text t WHERE t.indexed AND t.rowid IN (SELECT rowid FROM message_fts WHERE message_fts MATCH ` + q.arg(phrase) + `))` +
			` OR EXISTS (SELECT 1 FROM message_text t WHERE t.blob = m.blob AND (t.long OR t.tail_end > 0 OR NOT t.indexed) AND ` + q.bodyLike(s) + `))`
	}
	if q.dialect == db.Postgres && utf8.RuneCountInString(s) >= 3 {
		return `m.blob IN (SELECT t.blob FROM message_text t WHERE t.body LIKE ` + q.arg(likeContains(s)) + ` ESCAPE '\')`
	}
	// No index serves the pattern: read only this folder's texts (correlated), not every
	// text of every account.
	return `EXISTS (SELECT 1 FROM message_text t WHERE t.blob = m.blob AND ` + q.bodyLike(s) + `)`
}

func (q *query) criteria(c *store.Criteria) string {
	var parts []string
	add := func(s string) { parts = append(parts, s) }
	if c.UIDs != nil {
		var ors []string
		for _, r := range c.UIDs {
			if r.Last == 0 {
				ors = append(ors, "m.uid >= "+q.arg(r.First))
			} else {
				ors = append(ors, "m.uid BETWEEN "+q.arg(min(r.First, r.Last))+" AND "+q.arg(max(r.First, r.Last)))
			}
		}
		if len(ors) == 0 {
			ors = []string{"1 = 0"}
		}
		add("(" + strings.Join(ors, " OR ") + ")")
	}
	for _, f := range c.Flags {
		add(q.flag(f))
	}
	for _, f := range c.NotFlags {
		add("NOT " + q.flag(f))
	}
	if !c.Since.IsZero() {
		add("m.internal_date >= " + q.arg(micros(c.Since)))
	}
	if !c.Before.IsZero() {
		add("m.internal_date < " + q.arg(micros(c.Before)))
	}
	if !c.SentSince.IsZero() {
		add("m.sent_date >= " + q.arg(micros(c.SentSince)))
	}
	if !c.SentBefore.IsZero() {
		add("m.sent_date < " + q.arg(micros(c.SentBefore)))
	}
	if c.Larger > 0 {
		add("m.size > " + q.arg(c.Larger))
	}
	if c.Smaller > 0 {
		add("m.size < " + q.arg(c.Smaller))
	}
	if c.ModSeq > 0 {
		add("m.modseq >= " + q.arg(c.ModSeq))
	}
	for _, h := range []headerWant{{"subject", c.Subject}, {"from", c.From}, {"to", c.To}, {"cc", c.Cc}, {"bcc", c.Bcc}} {
		if h.value != "" {
			add(q.header(h.name, h.value))
		}
	}
	for _, h := range c.Header {
		add(q.header(h.Name, h.Value))
	}
	if c.Body != "" {
		add(q.body(c.Body))
	}
	if c.Text != "" {
		add(`(m.blob IN (SELECT h.blob FROM message_headers h WHERE h.value LIKE ` + q.arg(likeContains(c.Text)) + ` ESCAPE '\') OR ` + q.body(c.Text) + `)`)
	}
	for _, pair := range c.Or {
		add("(" + q.criteria(orAll(pair[0])) + " OR " + q.criteria(orAll(pair[1])) + ")")
	}
	for _, n := range c.Not {
		add("NOT (" + q.criteria(orAll(n)) + ")")
	}
	if len(parts) == 0 {
		return "1 = 1"
	}
	return "(" + strings.Join(parts, " AND ") + ")"
}

func orAll(c *store.Criteria) *store.Criteria {
	if c == nil {
		return &store.Criteria{}
	}
	return c
}

func (q *query) flag(f string) string {
	for _, sf := range systemFlags {
		if strings.EqualFold(f, sf) {
			return fmt.Sprintf("((m.flags & %d) <> 0)", flagBit[sf])
		}
	}
	return "((' ' || lower(m.keywords) || ' ') LIKE " + q.arg("% "+strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(strings.ToLower(f))+" %") + ` ESCAPE '\')`
}
