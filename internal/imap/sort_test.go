package imap

import (
	"bufio"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"mailroom/internal/imap/imapwire"
	"mailroom/internal/store"
)

func TestBaseSubject(t *testing.T) {
	tests := []struct {
		subject string
		want    string
		reply   bool
	}{
		{"hello", "HELLO", false},
		{"Re: hello", "HELLO", true},
		{"RE:hello", "HELLO", true},
		{"Fwd: hello", "HELLO", true},
		{"Fw: Fwd:Re:   hello", "HELLO", true},
		{"Re [2]: hello", "HELLO", true},
		{"[list] Re: hello", "HELLO", true},
		{"[list] [other] hello", "HELLO", false},
		{"[list]", "[LIST]", false},
		{"Re: [list]", "[LIST]", true},
		{"hello (fwd)", "HELLO", true},
		{"hello (fwd) (FWD)  ", "HELLO", true},
		{"[Fwd: hello]", "HELLO", true},
		{"[Fwd: Re: [list] hello] (fwd)", "HELLO", true},
		{"  hello \t  world  ", "HELLO WORLD", false},
		{"Rex: hello", "REX: HELLO", false},
		{"Re hello", "RE HELLO", false},
		{"Re: Re: (fwd)", "", true},
		{"", "", false},
		{"=?utf-8?q?Re=3A_caf=C3=A9?=", collationKey("CAFÉ"), true},
		{"=?iso-8859-1?q?caf=E9?=", collationKey("CAFÉ"), false},
	}
	for _, tt := range tests {
		got, reply := baseSubject(tt.subject)
		if got != tt.want || reply != tt.reply {
			t.Errorf("baseSubject(%q) = %q, %v; want %q, %v", tt.subject, got, reply, tt.want, tt.reply)
		}
	}
	// Case folding follows Unicode, not only ASCII.
	if a, _ := baseSubject("grüße"); a != must(baseSubject("GRÜßE")) {
		t.Errorf("case folding: %q", a)
	}
}

func must(s string, _ bool) string { return s }

// sortMsg builds a message for sorting.
func sortMsg(uid store.UID, headers string, size int64, arrival time.Time) store.Message {
	m := testMessage([]byte(crlf(headers+"\n\nbody\n")), uid)
	m.Size, m.InternalDate = size, arrival
	return *m
}

func TestSortUIDs(t *testing.T) {
	d := func(day int) time.Time { return time.Date(2025, 3, day, 12, 0, 0, 0, time.UTC) }
	msgs := []store.Message{
		sortMsg(1, "From: Zed <zed@example.com>\nTo: amy@example.com\nCc: b@example.com\nSubject: Re: beta\nDate: Tue, 4 Mar 2025 10:00:00 +0000", 300, d(9)),
		sortMsg(2, "From: \"Adam\" <yan@example.com>\nTo: Bea <bea@example.com>\nSubject: alpha\nDate: Wed, 5 Mar 2025 10:00:00 +0000", 100, d(2)),
		sortMsg(3, "From: bob@example.com\nTo: carl@example.com\nCc: a@example.com\nSubject: [list] Beta", 200, d(3)),
		sortMsg(4, "From: =?utf-8?q?=C3=84rger?= <c@example.com>\nSubject: Fwd: gamma\nDate: Mon, 3 Mar 2025 23:00:00 -0500", 100, d(1)),
	}
	tests := []struct {
		criteria string
		want     []store.UID
	}{
		{"ARRIVAL", []store.UID{4, 2, 3, 1}},
		{"REVERSE ARRIVAL", []store.UID{1, 3, 2, 4}},
		// Message 3 has no Date: its internal date (3 March) stands in; message 4's
		// Date is 4 March 04:00 UTC.
		{"DATE", []store.UID{3, 4, 1, 2}},
		{"SIZE", []store.UID{2, 4, 3, 1}},
		{"REVERSE SIZE", []store.UID{1, 3, 2, 4}},
		{"SIZE REVERSE ARRIVAL", []store.UID{2, 4, 3, 1}},
		{"FROM", []store.UID{3, 4, 2, 1}},
		{"TO", []store.UID{4, 1, 2, 3}},
		{"CC", []store.UID{2, 4, 3, 1}},
		{"SUBJECT", []store.UID{2, 1, 3, 4}},
		{"SUBJECT DATE", []store.UID{2, 3, 1, 4}},
		{"SUBJECT REVERSE DATE", []store.UID{2, 1, 3, 4}},
		{"REVERSE SUBJECT", []store.UID{4, 1, 3, 2}},
		// RFC 5051 collation: "Ärger" sorts with the A's.
		{"DISPLAYFROM", []store.UID{2, 4, 3, 1}},
		{"DISPLAYTO", []store.UID{4, 1, 2, 3}},
	}
	for _, tt := range tests {
		got := sortUIDs(msgs, parseSort(t, tt.criteria))
		if !slices.Equal(got, tt.want) {
			t.Errorf("SORT (%s) = %v, want %v", tt.criteria, got, tt.want)
		}
	}
	// Equal keys keep sequence order.
	same := []store.Message{sortMsg(5, "Subject: x", 10, d(1)), sortMsg(6, "Subject: Re: x", 10, d(1)), sortMsg(7, "Subject: X", 10, d(1))}
	for _, c := range []string{"SUBJECT", "REVERSE SUBJECT", "SIZE", "ARRIVAL", "REVERSE FROM"} {
		if got := sortUIDs(same, parseSort(t, c)); !slices.Equal(got, []store.UID{5, 6, 7}) {
			t.Errorf("SORT (%s) of equal messages = %v", c, got)
		}
	}
	if got := sortUIDs(nil, parseSort(t, "DATE")); len(got) != 0 {
		t.Errorf("SORT of nothing = %v", got)
	}
}

// parseSort parses the sort criteria of "SORT (criteria) UTF-8 ALL".
func parseSort(t *testing.T, criteria string) []imapwire.SortCriterion {
	t.Helper()
	s := parseCommand(t, fmt.Sprintf("SORT (%s) UTF-8 ALL", criteria))
	return s.(*imapwire.Sort).Criteria
}

// parseCommand parses one command line and returns its Args.
func parseCommand(t *testing.T, line string) any {
	t.Helper()
	r := imapwire.NewReader(bufio.NewReader(strings.NewReader("a "+line+"\r\n")), imapwire.Options{})
	cmd, err := r.ReadCommand()
	if err != nil {
		t.Fatalf("parse %q: %v", line, err)
	}
	return cmd.Args
}

func TestCollationKey(t *testing.T) {
	for _, pair := range [][2]string{{"abc", "ABC"}, {"äb", "Äb"}, {"ǆ", "ǅ"}, {"Ａ", "A"}} {
		if collationKey(pair[0]) != collationKey(pair[1]) {
			t.Errorf("%q and %q collate differently", pair[0], pair[1])
		}
	}
	if strings.Compare(collationKey("apple"), collationKey("Banana")) >= 0 {
		t.Error("apple does not sort before Banana")
	}
}
