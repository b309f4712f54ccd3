package sqlstore_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"mailroom/internal/db"
	"mailroom/internal/store"
)

// TestSearchSubject checks SEARCH SUBJECT on the subjects SQLite matches from the
// messages_subject index and on those it must match through message_headers (encoded,
// not ASCII, several Subject fields, none): every engine answers as message_headers
// alone would.
func TestSearchSubject(t *testing.T) {
	s, d := withAccount(t, newPlace(t))
	ctx := context.Background()
	subjects := []string{
		"Subject: Quarterly Report\r\n",                              // 1: plain
		"Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_Bern?=\r\n",          // 2: encoded-word
		"Subject: ÉTÉ 2026\r\n",                                      // 3: not ASCII, upper case
		"Subject: first one\r\nSubject: second report\r\n",           // 4: two fields, the second matches
		"Subject:\r\nSubject: late report\r\n",                       // 5: the first field empty
		"X-Other: report\r\n",                                        // 6: no Subject field
		"Subject: a =? that is no\r\n encoded-word report\r\n",       // 7: "=?" and folded
		"Subject: \tTabbed report\r\n",                               // 8: leading white space
		"Subject: Quarterly Report\r\nSubject: Quarterly Report\r\n", // 9: the same field twice
	}
	var folder store.FolderID
	for i, h := range subjects {
		raw := "From: a@x.test\r\nTo: b@x.test\r\n" + h + "Message-ID: <" + strings.Repeat("x", i+1) + "@x.test>\r\n\r\nbody\r\n"
		got, err := s.Deliver(ctx, store.NewMessage{Raw: []byte(raw)}, []store.Placement{{Account: 1}})
		if err != nil {
			t.Fatal(err)
		}
		folder = got[0].Folder
	}
	cases := []struct {
		subject string
		want    []store.UID
	}{
		{"report", []store.UID{1, 4, 5, 7, 8, 9}},
		{"REPORT", []store.UID{1, 4, 5, 7, 8, 9}},
		{"quarterly report", []store.UID{1, 9}},
		{"grüße aus", []store.UID{2}},
		{"utf-8", nil},
		{"été", []store.UID{3}},
		{"ÉTÉ 2026", []store.UID{3}},
		{"first", []store.UID{4}},
		{"second", []store.UID{4}},
		{"=? that", []store.UID{7}},
		{"no encoded", []store.UID{7}},
		{"tabbed", []store.UID{8}},
		{"%", nil},
		{"_", nil},
	}
	for _, tc := range cases {
		got, err := s.Search(ctx, folder, &store.Criteria{Subject: tc.subject})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("SUBJECT %q: UIDs %v, want %v", tc.subject, got, tc.want)
		}
		got, err = s.Search(ctx, folder, &store.Criteria{Header: []store.HeaderMatch{{Name: "Subject", Value: tc.subject}}})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("HEADER Subject %q: UIDs %v, want %v", tc.subject, got, tc.want)
		}
	}
	all, err := s.Search(ctx, folder, &store.Criteria{Header: []store.HeaderMatch{{Name: "subject"}}})
	if err != nil {
		t.Fatal(err)
	}
	if want := []store.UID{1, 2, 3, 4, 5, 7, 8, 9}; !slices.Equal(all, want) {
		t.Errorf("HEADER Subject \"\": UIDs %v, want %v", all, want)
	}
	if d.Dialect != db.SQLite {
		return
	}
	// SQLite lists the contents with several Subject fields while a message uses them.
	multi := func() int {
		t.Helper()
		var n int
		if err := d.Read().QueryRowContext(ctx, `SELECT count(*) FROM message_multi_subject`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := multi(); n != 3 {
		t.Errorf("%d contents listed with several Subject fields, want 3", n)
	}
	if _, err := s.Expunge(ctx, folder, []store.UID{4, 5, 9}); err != nil {
		t.Fatal(err)
	}
	if n := multi(); n != 0 {
		t.Errorf("%d contents still listed with several Subject fields after their removal", n)
	}
}
