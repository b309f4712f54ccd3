package sqlstore

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"mailroom/internal/db"
	"mailroom/internal/store"
)

// TestSearchSubjectPlan checks that SQLite answers SEARCH SUBJECT from the
// messages_subject index without reading message rows: plainSubject must stay the
// text of migration 0005's indexed expression, or every row is read and decoded.
func TestSearchSubjectPlan(t *testing.T) {
	ctx := context.Background()
	d, err := db.OpenSQLite(ctx, filepath.Join(t.TempDir(), "mailroom.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	s, err := New(ctx, d, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	q := &query{args: []any{store.FolderID(1)}, dialect: db.SQLite}
	cond := q.criteria(&store.Criteria{Subject: "report"})
	rows, err := d.Read().QueryContext(ctx, `EXPLAIN QUERY PLAN SELECT m.uid FROM messages m WHERE m.folder = $1 AND `+cond+` ORDER BY m.uid`, q.args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(plan) == 0 || !strings.Contains(plan[0], "COVERING INDEX messages_subject") {
		t.Fatalf("SEARCH SUBJECT does not read the folder from the covering messages_subject index; plan:\n%s", strings.Join(plan, "\n"))
	}
}
