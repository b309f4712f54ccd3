package importer_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"mailroom/internal/blob"
	"mailroom/internal/db"
	"mailroom/internal/importer"
	"mailroom/internal/mailio"
	"mailroom/internal/store"
	"mailroom/internal/store/sqlstore"
)

const acct = store.AccountID(7)

func newStore(t *testing.T) *sqlstore.Store {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	d, err := db.OpenSQLite(ctx, filepath.Join(dir, "mailroom.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	blobs, err := blob.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlstore.New(ctx, d, blobs, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// mbox writes an mbox file of n messages.
func mbox(t *testing.T, n int) string {
	t.Helper()
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "From sender@example.test Thu Jan  1 10:00:00 2026\nFrom: sender@example.test\nSubject: message %d\n\nThe body of %d.\n\n", i, i)
	}
	p := filepath.Join(t.TempDir(), "in.mbox")
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// maildirTree writes a Maildir++ tree with an INBOX of one message and a folder
// Archive.2024 of two.
func maildirTree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for dir, n := range map[string]int{root: 1, filepath.Join(root, ".Archive.2024"): 2} {
		w, err := mailio.CreateMaildir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			m := &mailio.Message{Raw: []byte(fmt.Sprintf("Subject: %d\n\nbody\n", i)), Flags: []string{`\Seen`}}
			if _, err := w.Write(context.Background(), m); err != nil {
				t.Fatal(err)
			}
		}
	}
	return root
}

func TestRun(t *testing.T) {
	cases := []struct {
		name   string
		path   func(t *testing.T) string
		folder string
		want   []importer.FolderCount
	}{
		{"mbox into INBOX", func(t *testing.T) string { return mbox(t, 3) }, "", []importer.FolderCount{{"INBOX", 3}}},
		{"mbox into a new nested folder", func(t *testing.T) string { return mbox(t, 2) }, "Archive/2024/Q1", []importer.FolderCount{{"Archive/2024/Q1", 2}}},
		{"empty mbox", func(t *testing.T) string { return mbox(t, 0) }, "", nil},
		{"maildir tree", maildirTree, "", []importer.FolderCount{{"INBOX", 1}, {"Archive/2024", 2}}},
		{"maildir into one folder", func(t *testing.T) string { return maildirTree(t) }, "Old", []importer.FolderCount{{"Old", 1}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			st := newStore(t)
			sources, err := importer.Sources(c.path(t), c.folder)
			if err != nil {
				t.Fatal(err)
			}
			var seen []int
			got, err := importer.Run(ctx, st, acct, sources, func(p importer.Progress) { seen = append(seen, p.Imported) })
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, c.want) {
				t.Fatalf("imported %+v, want %+v", got, c.want)
			}
			total := 0
			for _, fc := range c.want {
				total += fc.Count
				f, err := st.FolderByPath(ctx, acct, strings.Split(fc.Folder, "/"))
				if err != nil {
					t.Fatal(err)
				}
				list, err := st.List(ctx, f.ID)
				if err != nil || len(list) != fc.Count {
					t.Errorf("%s holds %d messages (%v), want %d", fc.Folder, len(list), err, fc.Count)
				}
			}
			// Progress counts every message once, in order.
			if len(seen) != total || total > 0 && seen[len(seen)-1] != total {
				t.Errorf("progress %v for %d messages", seen, total)
			}
		})
	}
}

// failing yields n messages, then fails as a damaged file would.
type failing struct{ n int }

func (f *failing) Next() (*mailio.Message, error) {
	if f.n == 0 {
		return nil, errors.New("disk read error")
	}
	f.n--
	return &mailio.Message{Raw: []byte("Subject: x\r\n\r\nbody\r\n")}, nil
}

// TestRunStopsAtError: the messages before a failure stay, and the error says how far
// the import came.
func TestRunStopsAtError(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	src := []importer.Source{{Folder: "INBOX", Open: func() (mailio.Reader, io.Closer, error) { return &failing{n: 2}, io.NopCloser(nil), nil }}}
	got, err := importer.Run(ctx, st, acct, src, nil)
	if err == nil || !strings.Contains(err.Error(), "after 2 messages into INBOX") || !strings.Contains(err.Error(), "disk read error") {
		t.Fatalf("error %v", err)
	}
	if !slices.Equal(got, []importer.FolderCount{{"INBOX", 2}}) {
		t.Errorf("result %+v", got)
	}
	// A cancelled import stops before the next message.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	src[0].Open = func() (mailio.Reader, io.Closer, error) { return &failing{n: 5}, io.NopCloser(nil), nil }
	if _, err := importer.Run(cctx, st, acct, src, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled import: %v", err)
	}
	if _, err := importer.Sources(filepath.Join(t.TempDir(), "missing"), ""); err == nil {
		t.Error("a missing path gave sources")
	}
}
