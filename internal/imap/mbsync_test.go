package imap

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"mailroom/internal/store"
)

// TestMbsync synchronises a mailbox of a few thousand messages to a Maildir with
// mbsync (Debian package isync), changes it over the store, as another client or
// protocol would, and checks that the second run moves only the changes and leaves
// the Maildir matching the server.
func TestMbsync(t *testing.T) {
	mbsync, err := exec.LookPath("mbsync")
	if err != nil {
		t.Skip("mbsync not installed (Debian package isync)")
	}
	const total = 2000
	e := newSrvEnv(t)
	ctx := context.Background()
	acct := store.AccountID(e.alice.ID)
	inbox := e.folder(t, e.alice.ID, "INBOX")
	for i := 1; i <= total; i++ {
		var flags []string
		if i%3 == 0 {
			flags = []string{store.FlagSeen}
		}
		e.deliver(t, e.alice.ID, 0, srvMsg(i, fmt.Sprintf("bulk %d", i)), flags...)
	}

	dir := t.TempDir()
	maildir := filepath.Join(dir, "mail")
	_, port, _ := strings.Cut(e.implicit, ":")
	config := fmt.Sprintf(`IMAPAccount test
Host 127.0.0.1
Port %s
User alice@example.com
Pass "%s"
SSLType IMAPS
CertificateFile %s
AuthMechs PLAIN

IMAPStore remote
Account test

MaildirStore local
Path %s/
Inbox %s/INBOX

Channel test
Far :remote:
Near :local:
Patterns INBOX
Create Near
Sync All
Expunge Both
SyncState *
`, port, srvPassword, e.caFile, maildir, maildir)
	if err := os.MkdirAll(maildir, 0o700); err != nil {
		t.Fatal(err)
	}
	rc := filepath.Join(dir, "mbsyncrc")
	if err := os.WriteFile(rc, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func() string {
		t.Helper()
		out, err := exec.Command(mbsync, "-D", "-c", rc, "-a").CombinedOutput()
		if err != nil {
			t.Fatalf("mbsync: %v\n%s", err, out)
		}
		return string(out)
	}
	// pulled counts the messages a run downloaded: mbsync -D logs each command.
	pulled := func(out string) int {
		return len(regexp.MustCompile(`>>> \d+ UID FETCH \d+ \(BODY\.PEEK\[\]\)`).FindAllString(out, -1))
	}
	if got := pulled(run()); got != total {
		t.Errorf("first sync pulled %d messages, want %d", got, total)
	}
	checkMaildir(t, e, inbox.ID, maildir)

	// Changes made elsewhere: flags on ten messages, five expunged, three delivered.
	var flagged, gone []store.UID
	for i := 1; i <= 10; i++ {
		flagged = append(flagged, store.UID(i*7))
		gone = append(gone, store.UID(1000+i*11))
	}
	gone = gone[:5]
	if _, err := e.store.StoreFlags(ctx, store.FlagUpdate{Folder: inbox.ID, UIDs: flagged, Op: store.FlagsAdd, Flags: []string{store.FlagFlagged}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Expunge(ctx, inbox.ID, gone); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		e.deliver(t, int64(acct), 0, srvMsg(total+i, "late"))
	}
	// Only the three new messages are downloaded; the flags and expunges come with
	// the flag listing, and the Maildir shows them.
	if got := pulled(run()); got != 3 {
		t.Errorf("second sync pulled %d messages, want 3", got)
	}
	checkMaildir(t, e, inbox.ID, maildir)
	// Nothing changed: nothing moves.
	if got := pulled(run()); got != 0 {
		t.Errorf("third sync pulled %d messages, want none", got)
	}
	checkMaildir(t, e, inbox.ID, maildir)
}

// checkMaildir compares the Maildir's INBOX with the folder: the same number of
// messages, and for each Message-ID the same \Seen and \Flagged flags.
func checkMaildir(t *testing.T, e *srvEnv, folder store.FolderID, maildir string) {
	t.Helper()
	infos, err := e.store.List(context.Background(), folder)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, in := range infos {
		m, err := e.store.Message(context.Background(), in.ID)
		if err != nil {
			t.Fatal(err)
		}
		want[m.Envelope.MessageID] = maildirFlags(in.Flags)
	}
	got := map[string]string{}
	for _, sub := range []string{"cur", "new"} {
		files, err := os.ReadDir(filepath.Join(maildir, "INBOX", sub))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			data, err := os.ReadFile(filepath.Join(maildir, "INBOX", sub, f.Name()))
			if err != nil {
				t.Fatal(err)
			}
			id := regexp.MustCompile(`(?m)^Message-ID: (<[^>]+>)`).FindSubmatch(data)
			if id == nil {
				t.Fatalf("%s has no Message-ID", f.Name())
			}
			_, info, _ := strings.Cut(f.Name(), ":2,")
			var fl []string
			if strings.Contains(info, "S") {
				fl = append(fl, store.FlagSeen)
			}
			if strings.Contains(info, "F") {
				fl = append(fl, store.FlagFlagged)
			}
			got[string(id[1])] = maildirFlags(fl)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("Maildir holds %d messages, the server %d", len(got), len(want))
	}
	for id, w := range want {
		if g, ok := got[id]; !ok || g != w {
			t.Errorf("message %s: Maildir flags %q, server %q", id, g, w)
		}
	}
}

// maildirFlags spells \Seen and \Flagged as Maildir letters, in order.
func maildirFlags(flags []string) string {
	s := ""
	if slices.Contains(flags, store.FlagFlagged) {
		s += "F"
	}
	if slices.Contains(flags, store.FlagSeen) {
		s += "S"
	}
	return s
}
