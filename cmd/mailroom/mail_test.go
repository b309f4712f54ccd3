package main

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

const sampleMbox = `From alice@example.test Mon Mar  2 10:00:00 2026
From: alice@example.test
To: bob@example.test
Subject: first
Status: RO
X-Keywords: $Work

Hello Bob.
>From the archive, a line that must stay escaped once.

From carol@example.test Tue Mar  3 11:00:00 2026
From: carol@example.test
To: bob@example.test
Subject: second
X-Status: F

Unread and flagged.
`

// TestImportExport moves mail in from an mbox file and out as Maildir and mbox, and
// back in again, checking bytes, flags and dates survive.
func TestImportExport(t *testing.T) {
	data := newData(t)
	d := "--data=" + data
	ok(t, goodPassword+"\n", "user", "add", d, "--password-stdin", "bob@example.test")
	ok(t, goodPassword+"\n", "user", "add", d, "--password-stdin", "carl@example.test")
	mbox := writeFile(t, "in.mbox", sampleMbox)
	out := ok(t, "", "import", d, "--folder", "Archive/2026", "bob@example.test", mbox)
	if !strings.Contains(out, "Imported 2 messages") {
		t.Fatalf("import said %q", out)
	}
	var bob struct{ Messages int }
	okJSON(t, &bob, "user", "show", d, "bob@example.test")
	if bob.Messages != 2 {
		t.Fatalf("bob has %d messages", bob.Messages)
	}

	maildir := filepath.Join(t.TempDir(), "export")
	ok(t, "", "export", d, "bob@example.test", maildir)
	sub := filepath.Join(maildir, ".Archive.2026", "cur")
	files, err := os.ReadDir(sub)
	if err != nil || len(files) != 2 {
		t.Fatalf("exported Maildir folder %s: %v, %d files", sub, err, len(files))
	}
	var infos []string
	for _, f := range files {
		infos = append(infos, f.Name()[strings.LastIndex(f.Name(), ":2,")+3:])
		if st, _ := os.Stat(filepath.Join(sub, f.Name())); st.ModTime().Year() != 2026 {
			t.Errorf("internal date lost: %v", st.ModTime())
		}
	}
	sort.Strings(infos)
	if infos[0] != "F" || !strings.HasPrefix(infos[1], "S") {
		t.Fatalf("maildir flags = %v", infos)
	}
	// The exported tree imports as a whole into another mailbox, folders and all.
	ok(t, "", "import", d, "carl@example.test", maildir)
	mboxOut := filepath.Join(t.TempDir(), "mbox")
	ok(t, "", "export", d, "--format", "mbox", "carl@example.test", mboxOut)
	got, err := os.ReadFile(filepath.Join(mboxOut, "Archive", "2026.mbox"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Subject: first", "Subject: second", ">From the archive", "Status: RO", "X-Keywords: $Work", "X-Status: F", "Hello Bob."} {
		if !strings.Contains(string(got), want) {
			t.Errorf("round-tripped mbox lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(string(got), ">>From") {
		t.Errorf("escaping doubled:\n%s", got)
	}
}
