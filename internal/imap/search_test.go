package imap

import (
	"bufio"
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"mailroom/internal/blob"
	"mailroom/internal/db"
	"mailroom/internal/imap/imapwire"
	"mailroom/internal/store"
	"mailroom/internal/store/sqlstore"
)

// fakeFolder resolves sequence sets against a folder holding uids, in order.
type fakeFolder struct {
	uids  []store.UID
	saved []store.UID
}

func (f *fakeFolder) uidRanges(set imapwire.SeqSet, uid bool) []store.UIDRange {
	var out []store.UIDRange
	for i, u := range f.uids {
		n, max := uint32(i+1), uint32(len(f.uids))
		if uid {
			n, max = uint32(u), uint32(f.uids[len(f.uids)-1])
		}
		if set.Contains(n, max) {
			out = append(out, store.UIDRange{First: u, Last: u})
		}
	}
	return out
}

func (f *fakeFolder) savedUIDs() []store.UID { return f.saved }

// parseSearch parses the search program of "SEARCH program".
func parseSearch(t testing.TB, program string) *imapwire.Search {
	t.Helper()
	r := imapwire.NewReader(bufio.NewReader(strings.NewReader("a SEARCH "+program+"\r\n")), imapwire.Options{})
	cmd, err := r.ReadCommand()
	if err != nil {
		t.Fatalf("parse %q: %v", program, err)
	}
	return cmd.Args.(*imapwire.Search)
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func TestSearchCriteria(t *testing.T) {
	folder := &fakeFolder{uids: []store.UID{10, 20, 30, 40}, saved: []store.UID{20, 30, 40, 7}}
	type C = store.Criteria
	none := []store.UIDRange{}
	tests := []struct {
		program string
		want    *C
	}{
		{"ALL", &C{}},
		{"OLD", &C{}},
		{"RECENT", &C{UIDs: none}},
		{"NEW", &C{NotFlags: []string{`\Seen`}}},
		{"ANSWERED DELETED DRAFT FLAGGED SEEN", &C{Flags: []string{`\Answered`, `\Deleted`, `\Draft`, `\Flagged`, `\Seen`}}},
		{"UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNSEEN", &C{NotFlags: []string{`\Answered`, `\Deleted`, `\Draft`, `\Flagged`, `\Seen`}}},
		{"KEYWORD $Junk UNKEYWORD $Phishing", &C{Flags: []string{"$Junk"}, NotFlags: []string{"$Phishing"}}},
		{"SEEN SEEN", &C{Flags: []string{`\Seen`}}},
		{"FROM ann TO bob CC carl BCC dora SUBJECT \"hi there\"", &C{From: "ann", To: "bob", Cc: "carl", Bcc: "dora", Subject: "hi there"}},
		{"SUBJECT a SUBJECT b FROM x FROM y", &C{Subject: "a", From: "x", Header: []store.HeaderMatch{{Name: "Subject", Value: "b"}, {Name: "From", Value: "y"}}}},
		{"HEADER X-Spam yes HEADER List-Id \"\"", &C{Header: []store.HeaderMatch{{Name: "X-Spam", Value: "yes"}, {Name: "List-Id", Value: ""}}}},
		{"BODY hello TEXT world", &C{Body: "hello", Text: "world"}},
		{"BODY a BODY b TEXT c TEXT d", &C{Body: "a", Text: "c", Not: []*C{{Not: []*C{{Body: "b"}}}, {Not: []*C{{Text: "d"}}}}}},
		{"BEFORE 1-Feb-2025", &C{Before: day(2025, 2, 1)}},
		{"SINCE 1-Feb-2025", &C{Since: day(2025, 2, 1)}},
		{"ON 28-Feb-2024", &C{Since: day(2024, 2, 28), Before: day(2024, 2, 29)}},
		{"ON 31-Dec-2024", &C{Since: day(2024, 12, 31), Before: day(2025, 1, 1)}},
		{"SINCE 1-Jan-2025 SINCE 5-Jan-2025 BEFORE 1-Mar-2025 BEFORE 9-Mar-2025", &C{Since: day(2025, 1, 5), Before: day(2025, 3, 1)}},
		{"SENTBEFORE 2-Jan-2025 SENTSINCE 1-Dec-2024", &C{SentBefore: day(2025, 1, 2), SentSince: day(2024, 12, 1)}},
		{"SENTON 2-Jan-2025", &C{SentSince: day(2025, 1, 2), SentBefore: day(2025, 1, 3)}},
		{"LARGER 100 SMALLER 5000 LARGER 50 SMALLER 9000", &C{Larger: 100, Smaller: 5000}},
		{"SMALLER 0", &C{UIDs: none}},
		{"LARGER 9223372036854775807", &C{UIDs: none}},
		{"SMALLER 9223372036854775807", &C{Smaller: 9223372036854775807}},
		{"MODSEQ 620162338", &C{ModSeq: 620162338}},
		{`MODSEQ "/flags/\\draft" all 620162338`, &C{ModSeq: 620162338}},
		{"UID 20:30,40:*", &C{UIDs: []store.UIDRange{{First: 20, Last: 20}, {First: 30, Last: 30}, {First: 40, Last: 40}}}},
		{"2:3", &C{UIDs: []store.UIDRange{{First: 20, Last: 20}, {First: 30, Last: 30}}}},
		{"9", &C{UIDs: none}},
		{"1:3 UID 20:40", &C{UIDs: []store.UIDRange{{First: 20, Last: 20}, {First: 30, Last: 30}}}},
		{"$", &C{UIDs: []store.UIDRange{{First: 7, Last: 7}, {First: 20, Last: 20}, {First: 30, Last: 30}, {First: 40, Last: 40}}}},
		{"UID $", &C{UIDs: []store.UIDRange{{First: 7, Last: 7}, {First: 20, Last: 20}, {First: 30, Last: 30}, {First: 40, Last: 40}}}},
		{"NOT SEEN", &C{Not: []*C{{Flags: []string{`\Seen`}}}}},
		{"NOT RECENT", &C{Not: []*C{{UIDs: none}}}},
		{"OR SEEN FLAGGED", &C{Or: [][2]*C{{{Flags: []string{`\Seen`}}, {Flags: []string{`\Flagged`}}}}}},
		{"OR (SEEN FROM a) NOT (UID 10 DRAFT)", &C{Or: [][2]*C{{
			{Flags: []string{`\Seen`}, From: "a"},
			{Not: []*C{{UIDs: []store.UIDRange{{First: 10, Last: 10}}, Flags: []string{`\Draft`}}}},
		}}}},
		{"(SEEN (FLAGGED (TO x)))", &C{Flags: []string{`\Seen`, `\Flagged`}, To: "x"}},
		{"CHARSET utf-8 SUBJECT cafe", &C{Subject: "cafe"}},
		{"CHARSET us-ascii ALL", &C{}},
	}
	for _, tt := range tests {
		s := parseSearch(t, tt.program)
		got, err := searchCriteria(s.Key, folder, s.Charset)
		if err != nil {
			t.Errorf("%s: %v", tt.program, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.program, got, tt.want)
		}
	}
}

func TestSearchBadCharset(t *testing.T) {
	s := parseSearch(t, "CHARSET ISO-8859-1 SUBJECT x")
	_, err := searchCriteria(s.Key, &fakeFolder{}, s.Charset)
	var bad *badCharsetError
	if !errors.As(err, &bad) || bad.Charset != "ISO-8859-1" {
		t.Fatalf("err = %v, want badCharsetError", err)
	}
}

func TestIntersectRanges(t *testing.T) {
	tests := []struct {
		a, b, want []store.UIDRange
	}{
		{[]store.UIDRange{{First: 1, Last: 10}}, []store.UIDRange{{First: 5, Last: 0}}, []store.UIDRange{{First: 5, Last: 10}}},
		{[]store.UIDRange{{First: 3, Last: 0}}, []store.UIDRange{{First: 5, Last: 0}}, []store.UIDRange{{First: 5, Last: 0}}},
		{[]store.UIDRange{{First: 10, Last: 1}}, []store.UIDRange{{First: 2, Last: 3}, {First: 8, Last: 20}}, []store.UIDRange{{First: 2, Last: 3}, {First: 8, Last: 10}}},
		{[]store.UIDRange{{First: 1, Last: 2}}, []store.UIDRange{{First: 3, Last: 4}}, []store.UIDRange{}},
	}
	for _, tt := range tests {
		if got := intersectRanges(tt.a, tt.b); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("intersect(%v, %v) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

// TestSearchStore runs translated searches against a real SQLite store.
func TestSearchStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	d, err := db.OpenSQLite(ctx, filepath.Join(dir, "mailroom.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	b, err := blob.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlstore.New(ctx, d, b, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.EnsureAccount(ctx, 1); err != nil {
		t.Fatal(err)
	}
	msgs := []struct {
		raw   string
		flags []string
		date  time.Time
	}{
		{"From: Ann <ann@example.com>\nTo: bob@example.com\nSubject: Lunch on Friday\nDate: Mon, 3 Feb 2025 10:00:00 +0000\n\nShall we meet at noon?\n",
			[]string{store.FlagSeen}, time.Date(2025, 2, 3, 10, 0, 0, 0, time.UTC)},
		{"From: Bob <bob@example.com>\nTo: ann@example.com\nCc: carl@example.com\nSubject: Re: Lunch on Friday\nDate: Mon, 3 Feb 2025 23:30:00 -0500\nX-Priority: 1\n\nYes, noon works. " + strings.Repeat("padding ", 100) + "\n",
			[]string{store.FlagSeen, store.FlagAnswered, "$Work"}, time.Date(2025, 2, 4, 4, 31, 0, 0, time.UTC)},
		{"From: Carl <carl@example.com>\nTo: ann@example.com\nSubject: Invoice\nDate: Wed, 5 Feb 2025 08:00:00 +0000\n\nPlease pay.\n",
			[]string{store.FlagFlagged}, time.Date(2025, 2, 5, 23, 59, 59, 0, time.UTC)},
		{"From: Dora <dora@example.com>\nTo: ann@example.com\nSubject: Draft idea\n\nnothing yet\n",
			[]string{store.FlagDraft, store.FlagDeleted}, time.Date(2025, 2, 6, 0, 0, 0, 0, time.UTC)},
	}
	var uids []store.UID
	var folderID store.FolderID
	for _, m := range msgs {
		ds, err := st.Deliver(ctx, store.NewMessage{Raw: []byte(crlf(m.raw)), Flags: m.flags, InternalDate: m.date}, []store.Placement{{Account: 1}})
		if err != nil {
			t.Fatal(err)
		}
		uids = append(uids, ds[0].UID)
		folderID = ds[0].Folder
	}
	infos, err := st.List(ctx, folderID)
	if err != nil {
		t.Fatal(err)
	}
	folder := &fakeFolder{uids: uids, saved: []store.UID{uids[1], uids[3]}}
	// Messages are named by position: 1 is uids[0].
	tests := []struct {
		program string
		want    []int
	}{
		{"ALL", []int{1, 2, 3, 4}},
		{"RECENT", nil},
		{"NOT RECENT", []int{1, 2, 3, 4}},
		{"NEW", []int{3, 4}},
		{"SEEN", []int{1, 2}},
		{"UNSEEN", []int{3, 4}},
		{"ANSWERED", []int{2}},
		{"DELETED", []int{4}},
		{"UNDELETED", []int{1, 2, 3}},
		{"DRAFT", []int{4}},
		{"FLAGGED", []int{3}},
		{"KEYWORD $work", []int{2}},
		{"UNKEYWORD $Work", []int{1, 3, 4}},
		{"FROM ann", []int{1}},
		{"FROM ANN@EXAMPLE", []int{1}},
		{"TO ann", []int{2, 3, 4}},
		{"CC carl", []int{2}},
		{"SUBJECT lunch", []int{1, 2}},
		{"SUBJECT lunch SUBJECT re:", []int{2}},
		{"HEADER X-Priority \"\"", []int{2}},
		{"HEADER x-priority 1", []int{2}},
		{"BODY noon", []int{1, 2}},
		{"BODY noon BODY meet", []int{1}},
		{"TEXT invoice", []int{3}},
		{"TEXT pay", []int{3}},
		{"BEFORE 4-Feb-2025", []int{1}},
		{"ON 4-Feb-2025", []int{2}},
		{"ON 5-Feb-2025", []int{3}},
		{"SINCE 5-Feb-2025", []int{3, 4}},
		{"SENTON 4-Feb-2025", []int{2}},
		{"SENTBEFORE 4-Feb-2025", []int{1, 4}},
		{"SENTSINCE 5-Feb-2025", []int{3}},
		{"LARGER 500", []int{2}},
		{"SMALLER 500", []int{1, 3, 4}},
		{"SMALLER 0", nil},
		{"MODSEQ 1", []int{1, 2, 3, 4}},
		{"MODSEQ " + itoa(int64(infos[2].ModSeq)), []int{3, 4}},
		{"2:3", []int{2, 3}},
		{"2:*", []int{2, 3, 4}},
		{"UID " + itoa(int64(uids[0])) + "," + itoa(int64(uids[3])), []int{1, 4}},
		{"$", []int{2, 4}},
		{"$ SEEN", []int{2}},
		{"OR FLAGGED DRAFT", []int{3, 4}},
		{"NOT (SEEN OR ANSWERED FLAGGED)", []int{1, 3, 4}},
		{"NOT SEEN NOT DRAFT", []int{3}},
		{"OR (FROM ann SUBJECT friday) (1:2 TO ann)", []int{1, 2}},
		{"1:3 NOT 2", []int{1, 3}},
	}
	for _, tt := range tests {
		s := parseSearch(t, tt.program)
		c, err := searchCriteria(s.Key, folder, s.Charset)
		if err != nil {
			t.Errorf("%s: %v", tt.program, err)
			continue
		}
		got, err := st.Search(ctx, folderID, c)
		if err != nil {
			t.Errorf("%s: %v", tt.program, err)
			continue
		}
		var want []store.UID
		for _, n := range tt.want {
			want = append(want, uids[n-1])
		}
		if !slices.Equal(got, want) {
			t.Errorf("SEARCH %s = %v, want %v (criteria %+v)", tt.program, got, want, c)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
