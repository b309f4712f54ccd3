package imap

import (
	"bufio"
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"mailroom/internal/imap/imapwire"
	"mailroom/internal/store"
)

// threadText returns the thread-lists of roots, UIDs as numbers.
func threadText(roots []*threadNode) string {
	var b bytes.Buffer
	w := imapwire.NewWriter(bufio.NewWriter(&b))
	writeThread(w, roots, func(u store.UID) uint32 { return uint32(u) })
	w.Flush()
	return b.String()
}

func leaf(uid store.UID, kids ...*threadNode) *threadNode {
	return &threadNode{UID: uid, Children: kids}
}

func TestWriteThread(t *testing.T) {
	tests := []struct {
		name  string
		roots []*threadNode
		want  string
	}{
		// The example of RFC 5256 section 4.
		{"rfc5256", []*threadNode{leaf(2), leaf(3, leaf(6, leaf(4, leaf(23)), leaf(44, leaf(7, leaf(96)))))}, "(2)(3 6 (4 23)(44 7 96))"},
		{"dummy root", []*threadNode{leaf(0, leaf(3), leaf(5))}, "((3)(5))"},
		{"dummy with a chain", []*threadNode{leaf(0, leaf(3, leaf(4)), leaf(5))}, "((3 4)(5))"},
		{"nested dummy", []*threadNode{leaf(0, leaf(0, leaf(1), leaf(2)), leaf(3))}, "(((1)(2))(3))"},
		{"lone dummy child", []*threadNode{leaf(1, leaf(0, leaf(2), leaf(3)))}, "(1 (2)(3))"},
		{"dummy with one child", []*threadNode{leaf(0, leaf(7, leaf(8)))}, "(7 8)"},
		{"empty dummy", []*threadNode{leaf(0), leaf(9, leaf(0))}, "(9)"},
		{"none", nil, ""},
	}
	for _, tt := range tests {
		if got := threadText(tt.roots); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
	// num maps UIDs to what the client asked for.
	var b bytes.Buffer
	w := imapwire.NewWriter(bufio.NewWriter(&b))
	writeThread(w, []*threadNode{leaf(20, leaf(30), leaf(40))}, func(u store.UID) uint32 { return uint32(u / 10) })
	w.Flush()
	if b.String() != "(2 (3)(4))" {
		t.Errorf("numbered: %s", b.String())
	}
}

// threadMsgs builds messages from "uid|day|headers" specs, headers separated by ";".
func threadMsgs(specs ...string) []store.Message {
	var out []store.Message
	for _, s := range specs {
		f := strings.SplitN(s, "|", 3)
		var uid, day int
		fmt.Sscan(f[0], &uid)
		fmt.Sscan(f[1], &day)
		h := strings.ReplaceAll(f[2], ";", "\n")
		if day > 0 {
			h += fmt.Sprintf("\nDate: %d Mar 2025 10:00:00 +0000", day)
		}
		m := testMessage([]byte(crlf(h+"\n\nbody\n")), store.UID(uid))
		m.InternalDate = time.Date(2025, 4, 1, 0, 0, uid, 0, time.UTC)
		out = append(out, *m)
	}
	return out
}

func TestThreadReferences(t *testing.T) {
	tests := []struct {
		name string
		msgs []store.Message
		want string
	}{
		{"rfc5256 tree", threadMsgs(
			"2|1|Message-ID: <2@x>;Subject: first",
			"3|2|Message-ID: <3@x>;Subject: second",
			"4|4|Message-ID: <4@x>;Subject: Re: second;References: <3@x> <6@x>",
			"6|3|Message-ID: <6@x>;Subject: Re: second;References: <3@x>",
			"7|7|Message-ID: <7@x>;Subject: Re: second;References: <3@x> <6@x> <44@x>",
			"23|5|Message-ID: <23@x>;Subject: Re: second;References: <3@x> <6@x> <4@x>",
			"44|6|Message-ID: <44@x>;Subject: Re: second;References: <3@x> <6@x>",
			"96|8|Message-ID: <96@x>;Subject: Re: second;References: <3@x> <6@x> <44@x> <7@x>",
		), "(2)(3 6 (4 23)(44 7 96))"},
		// A missing parent becomes a dummy; at the top with two children it stays.
		{"dummy parent", threadMsgs(
			"3|1|Message-ID: <3@x>;Subject: Re: a;References: <gone@x>",
			"5|2|Message-ID: <5@x>;Subject: Re: b;References: <gone@x>",
		), "((3)(5))"},
		// With one child the dummy is replaced by it.
		{"dummy promoted", threadMsgs(
			"5|2|Message-ID: <5@x>;Subject: Re: b;References: <gone@x>",
			"6|1|Message-ID: <6@x>;Subject: other",
		), "(6)(5)"},
		// A dummy in the middle of a chain disappears, its child moves up.
		{"dummy spliced", threadMsgs(
			"1|1|Message-ID: <1@x>;Subject: a",
			"2|2|Message-ID: <2@x>;Subject: Re: a;References: <1@x> <lost@x>",
		), "(1 2)"},
		// In-Reply-To stands in for a missing References.
		{"in-reply-to", threadMsgs(
			"1|1|Message-ID: <1@x>;Subject: a",
			"2|2|Message-ID: <2@x>;Subject: b;In-Reply-To: <1@x> (sent by Ann)",
		), "(1 2)"},
		// The last reference wins over a link made from a truncated References.
		{"reparent", threadMsgs(
			"1|1|Message-ID: <1@x>;Subject: a",
			"2|2|Message-ID: <2@x>;Subject: b",
			"3|3|Message-ID: <3@x>;Subject: c;References: <1@x> <4@x>",
			"4|4|Message-ID: <4@x>;Subject: d;References: <2@x>",
		), "(1)(2 4 3)"},
		// Loops in References are not followed.
		{"loop", threadMsgs(
			"1|1|Message-ID: <1@x>;Subject: a;References: <2@x>",
			"2|2|Message-ID: <2@x>;Subject: b;References: <1@x>",
		), "(2 1)"},
		{"self reference", threadMsgs(
			"1|1|Message-ID: <1@x>;Subject: a;References: <1@x>",
		), "(1)"},
		// A repeated Message-ID gives the later message an id of its own.
		{"duplicate id", threadMsgs(
			"1|1|Message-ID: <1@x>;Subject: a",
			"2|2|Message-ID: <1@x>;Subject: b",
			"3|3|Message-ID: <3@x>;Subject: c;References: <1@x>",
		), "(1 3)(2)"},
		// Step 5: threads merge by base subject.
		{"reply by subject", threadMsgs(
			"1|1|Message-ID: <1@x>;Subject: Lunch",
			"2|2|Message-ID: <2@x>;Subject: Re: lunch",
		), "(1 2)"},
		{"reply first by subject", threadMsgs(
			"1|1|Message-ID: <1@x>;Subject: Re: Lunch",
			"2|2|Message-ID: <2@x>;Subject: lunch",
		), "(2 1)"},
		{"two originals by subject", threadMsgs(
			"1|1|Message-ID: <1@x>;Subject: Lunch",
			"2|2|Message-ID: <2@x>;Subject: lunch",
		), "((1)(2))"},
		{"dummy by subject", threadMsgs(
			"1|1|Message-ID: <1@x>;Subject: Re: Lunch;References: <gone@x>",
			"2|2|Message-ID: <2@x>;Subject: Re: Lunch;References: <gone@x>",
			"3|3|Message-ID: <3@x>;Subject: Lunch",
		), "((1)(2)(3))"},
		{"empty subjects stay apart", threadMsgs(
			"1|1|Message-ID: <1@x>",
			"2|2|Message-ID: <2@x>;Subject: Re:",
		), "(1)(2)"},
		// Sorting by sent date, internal date when there is no Date, then by order.
		{"dates", threadMsgs(
			"1|9|Message-ID: <1@x>;Subject: a",
			"2|0|Message-ID: <2@x>;Subject: b",
			"3|1|Message-ID: <3@x>;Subject: c",
			"4|5|Message-ID: <4@x>;Subject: Re: c;References: <3@x>",
			"5|2|Message-ID: <5@x>;Subject: Re: c;References: <3@x>",
		), "(3 (5)(4))(1)(2)"},
		{"no messages", nil, ""},
	}
	for _, tt := range tests {
		roots, err := threadUIDs(tt.msgs, "REFERENCES")
		if err != nil {
			t.Fatal(err)
		}
		if got := threadText(roots); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
		if got, want := threadUIDList(roots), sortedUIDs(tt.msgs); !slices.Equal(got, want) {
			t.Errorf("%s: messages %v, want each of %v once", tt.name, got, want)
		}
	}
}

func TestThreadOrderedSubject(t *testing.T) {
	msgs := threadMsgs(
		"1|5|Subject: beta",
		"2|1|Subject: Re: alpha",
		"3|3|Subject: alpha",
		"4|2|Subject: [list] Beta",
		"5|7|Subject: gamma",
		"6|4|Subject: Fwd: ALPHA",
		"7|2|Subject: beta (fwd)",
	)
	roots, err := threadUIDs(msgs, "ORDEREDSUBJECT")
	if err != nil {
		t.Fatal(err)
	}
	// alpha: 2 (day 1), 3, 6; beta: 4 and 7 (day 2, sequence order), 1; gamma: 5.
	if got, want := threadText(roots), "(2 (3)(6))(4 (7)(1))(5)"; got != want {
		t.Errorf("ORDEREDSUBJECT: %s, want %s", got, want)
	}
	if _, err := threadUIDs(msgs, "X-CLEVER"); err == nil {
		t.Error("unknown algorithm accepted")
	}
}

func threadUIDList(roots []*threadNode) []store.UID {
	var out []store.UID
	var walk func(n *threadNode)
	walk = func(n *threadNode) {
		if n.UID != 0 {
			out = append(out, n.UID)
		}
		for _, k := range n.Children {
			walk(k)
		}
	}
	for _, r := range roots {
		walk(r)
	}
	slices.Sort(out)
	return out
}

func sortedUIDs(msgs []store.Message) []store.UID {
	var out []store.UID
	for _, m := range msgs {
		out = append(out, m.UID)
	}
	slices.Sort(out)
	return out
}
