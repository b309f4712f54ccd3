package sqlstore_test

import (
	"context"
	"strings"
	"testing"

	"mailroom/internal/db"
	"mailroom/internal/store"
)

// TestLongTextTail searches long plain-text messages, whose text SQLite keeps partly in
// the message itself (texttail.go), in both blob tiers and on PostgreSQL, before and
// after the indexer has run: every string finds what strings.Contains finds in the
// lower-cased text.
func TestLongTextTail(t *testing.T) {
	tiers(t, func(t *testing.T, newPlace func(testing.TB) place) {
		s, d := withAccount(t, newPlace(t))
		ctx := context.Background()
		filler := strings.Repeat("Filler line of a long message.\r\n", 700)
		msgs := []string{
			"Subject: Quarterly Figures\r\nFrom: Ann <ann@x.test>\r\n\r\n" + filler + "The Wombat Report ends here.\r\nLast line\r\n",
			"Subject: second\r\n\r\n" + filler + "Nothing about marsupials.\r\n",
			// Not a tail: Latin-1 bytes are not ASCII.
			"Subject: third\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\n" + filler + "Caf\xe9 wombat\r\n",
			// A short text: in the index, no tail.
			"Subject: fourth\r\n\r\nA short wombat.\r\n",
		}
		var uids []store.UID
		var folder store.FolderID
		for _, m := range msgs {
			got, err := s.Deliver(ctx, store.NewMessage{Raw: []byte(m)}, []store.Placement{{Account: 1}})
			if err != nil {
				t.Fatal(err)
			}
			uids, folder = append(uids, got[0].UID), got[0].Folder
		}
		if d.Dialect == db.SQLite {
			var tails int
			if err := d.Read().QueryRowContext(ctx, `SELECT count(*) FROM message_text WHERE tail_end > 0`).Scan(&tails); err != nil {
				t.Fatal(err)
			}
			if want := map[bool]int{true: 2, false: 0}[strings.HasSuffix(t.Name(), "inline")]; tails != want {
				t.Errorf("%d texts have a tail, want %d", tails, want)
			}
		}
		cases := map[string][]store.UID{
			"wombat report":         {uids[0]},
			"WOMBAT":                {uids[0], uids[2], uids[3]},
			"quarterly figures":     {uids[0]},
			"ann@x.test":            {uids[0]},
			"ends here.\nlast line": {uids[0]},
			"here.\r\nlast":         nil, // the text has LF where the message has CRLF
			"marsupials":            {uids[1]},
			"café":                  {uids[2]},
			"filler line":           {uids[0], uids[1], uids[2]},
			"zz":                    nil,
			"%":                     nil,
		}
		searchBody(t, s, folder, cases)
		waitIndexed(t, d)
		searchBody(t, s, folder, cases)
	})
}
