package mailio

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestMaildirRoundTrip(t *testing.T) {
	d := date("2022-03-04T05:06:07Z")
	tests := []struct {
		name string
		msgs []*Message
		lf   []string // Raw as read back, when it differs
	}{
		{name: "empty folder"},
		{
			name: "flags, keywords and dates",
			msgs: []*Message{
				{Raw: []byte("Subject: 1\n\nFrom here\n>From there\n"), InternalDate: d, Flags: []string{`\Seen`, `\Flagged`}},
				{Raw: []byte("Subject: 2\n\nno newline"), InternalDate: d.Add(time.Second), Flags: []string{`\Answered`, `\Deleted`, `\Draft`, "$Forwarded"}},
				{Raw: []byte("Subject: 3\n\n"), InternalDate: d.Add(2 * time.Second), Flags: []string{"Work", "$Label1", "a,b"}},
				{Raw: []byte("Subject: 4\n\n"), InternalDate: d.Add(3 * time.Second), Flags: []string{"work", `\Seen`}},
			},
		},
		{
			name: "CRLF input",
			msgs: []*Message{{Raw: []byte("Subject: c\r\n\r\nx\r\n"), InternalDate: d}},
			lf:   []string{"Subject: c\n\nx\n"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "Maildir")
			w, err := CreateMaildir(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range tt.msgs {
				name, err := w.Write(context.Background(), m)
				if err != nil {
					t.Fatalf("Write: %v", err)
				}
				if _, err := os.Stat(filepath.Join(dir, "cur", name)); err != nil {
					t.Errorf("returned name %q is not in cur/: %v", name, err)
				}
			}
			if tmp, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(tmp) != 0 {
				t.Errorf("tmp/ still holds %d files", len(tmp))
			}
			r, err := OpenMaildir(dir)
			if err != nil {
				t.Fatal(err)
			}
			got := readAll(t, r)
			if len(got) != len(tt.msgs) {
				t.Fatalf("read %d messages, wrote %d", len(got), len(tt.msgs))
			}
			for i, m := range tt.msgs {
				want := *m
				if i < len(tt.lf) {
					want.Raw = []byte(tt.lf[i])
				}
				if strings.Contains(string(m.Raw), "Subject: 4") {
					// Keywords are case-insensitive: "work" is the "Work"
					// stored before it.
					want.Flags = []string{"Work", `\Seen`}
				}
				checkMessage(t, i, got[i], &want)
			}
		})
	}
}

func TestMaildirTree(t *testing.T) {
	root := t.TempDir()
	write := func(path, data string, mtime time.Time) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	t1, t2 := date("2020-01-01T00:00:00Z"), date("2021-01-01T00:00:00Z")
	for _, d := range []string{"", ".Archive", ".Archive.2024", ".Entw&APw-rfe", ".a\\2eb", ".notmaildir"} {
		for _, sub := range []string{"cur", "new", "tmp"} {
			if d == ".notmaildir" && sub != "tmp" {
				continue
			}
			if err := os.MkdirAll(filepath.Join(root, d, sub), 0o700); err != nil {
				t.Fatal(err)
			}
		}
	}
	arch := filepath.Join(root, ".Archive.2024")
	write(filepath.Join(arch, keywordsFile), "0 Work\n1 $Forwarded\nbad line\n3 Later\n", t1)
	write(filepath.Join(arch, "cur", "200.M1P1.host:2,RSad"), "second", t2)
	write(filepath.Join(arch, "cur", "100.M1P1.host:2,Fcbz"), "first", t1)
	write(filepath.Join(arch, "new", "150.M1P1.host"), "first too, later name", t1)
	write(filepath.Join(arch, "new", "160.M1P1.host:2,S"), "new is never seen", t2)
	write(filepath.Join(arch, "cur", ".hidden"), "x", t1)
	write(filepath.Join(arch, "tmp", "300.M1P1.host"), "in delivery", t1)

	folders, err := ListMaildirFolders(root)
	if err != nil {
		t.Fatal(err)
	}
	wantFolders := []MaildirFolder{
		{Name: "INBOX", Dir: root},
		{Name: "Archive", Dir: filepath.Join(root, ".Archive")},
		{Name: "Archive/2024", Dir: arch},
		{Name: "Entwürfe", Dir: filepath.Join(root, ".Entw&APw-rfe")},
		{Name: "a.b", Dir: filepath.Join(root, ".a\\2eb")},
	}
	if !slices.Equal(folders, wantFolders) {
		t.Errorf("folders = %q\nwant %q", folders, wantFolders)
	}
	for _, f := range wantFolders {
		if got := MaildirSubfolder(root, f.Name); got != f.Dir {
			t.Errorf("MaildirSubfolder(%q) = %q, want %q", f.Name, got, f.Dir)
		}
	}

	r, err := OpenMaildir(arch)
	if err != nil {
		t.Fatal(err)
	}
	got := readAll(t, r)
	want := []*Message{
		// c is unmapped, z is beyond the file.
		{Raw: []byte("first"), InternalDate: t1, Flags: []string{`\Flagged`, "$Forwarded"}},
		{Raw: []byte("first too, later name"), InternalDate: t1},
		{Raw: []byte("new is never seen"), InternalDate: t2},
		{Raw: []byte("second"), InternalDate: t2, Flags: []string{`\Seen`, `\Answered`, "Work", "Later"}},
	}
	if len(got) != len(want) {
		t.Fatalf("read %d messages, want %d", len(got), len(want))
	}
	for i := range want {
		checkMessage(t, i, got[i], want[i])
	}

	// Writing into the tree keeps the existing keyword letters and adds new
	// ones in the first free slot.
	w, err := CreateMaildir(arch)
	if err != nil {
		t.Fatal(err)
	}
	name, err := w.Write(context.Background(), &Message{Raw: []byte("x"), Flags: []string{"later", "New"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(name, ":2,cd") {
		t.Errorf("name %q, want flags \"cd\"", name)
	}
	kw, err := os.ReadFile(filepath.Join(arch, keywordsFile))
	if err != nil {
		t.Fatal(err)
	}
	if string(kw) != "0 Work\n1 $Forwarded\n2 New\n3 Later\n" {
		t.Errorf("dovecot-keywords = %q", kw)
	}
}

func TestMaildirSubfolderNames(t *testing.T) {
	for _, name := range []string{"Archive/2024", "Entwürfe", "日本語/メール", "a&b", "x.y\\z", "../etc", "a//b", "Inbox/sub"} {
		dir := MaildirSubfolder("/r", name)
		if filepath.Dir(dir) != "/r" {
			t.Errorf("MaildirSubfolder(%q) = %q escapes the root", name, dir)
		}
		if got := decodeFolderName(strings.TrimPrefix(filepath.Base(dir), ".")); got != name {
			t.Errorf("decode(MaildirSubfolder(%q)) = %q", name, got)
		}
	}
	if got := MaildirSubfolder("/r", "inbox"); got != "/r" {
		t.Errorf("MaildirSubfolder(inbox) = %q, want the root", got)
	}
}

func TestMaildirSubfolderIsMarked(t *testing.T) {
	dir := MaildirSubfolder(t.TempDir(), "Sent")
	if _, err := CreateMaildir(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "maildirfolder")); err != nil {
		t.Errorf("maildirfolder missing: %v", err)
	}
}

func TestMaildirConcurrentWriters(t *testing.T) {
	dir := t.TempDir()
	const writers, each = 4, 50
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		names = map[string]bool{}
		errs  []error
	)
	for i := range writers {
		// Separate writers share pid and host, as two deliveries from one
		// process would.
		w, err := CreateMaildir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for j := range each {
			wg.Go(func() {
				name, err := w.Write(context.Background(), &Message{
					Raw:   fmt.Appendf(nil, "Subject: %d/%d\n\n", i, j),
					Flags: []string{fmt.Sprintf("k%d", j%3)},
				})
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
				}
				names[name] = true
			})
		}
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if len(names) != writers*each {
		t.Errorf("%d unique names for %d messages", len(names), writers*each)
	}
	r, err := OpenMaildir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, r); len(got) != writers*each {
		t.Errorf("read %d messages, want %d", len(got), writers*each)
	}
}

func TestMaildirWriterErrors(t *testing.T) {
	w, err := CreateMaildir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range maxKeywordLetters {
		if _, err := w.Write(ctx, &Message{Flags: []string{fmt.Sprint("k", i)}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Write(ctx, &Message{Flags: []string{"one-too-many"}}); !errors.Is(err, ErrTooManyKeywords) {
		t.Errorf("27th keyword: %v, want ErrTooManyKeywords", err)
	}
	if _, err := w.Write(ctx, &Message{Flags: []string{`\Bogus`}}); !errors.Is(err, ErrInvalidFlag) {
		t.Errorf("unknown system flag: %v, want ErrInvalidFlag", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := w.Write(cancelled, &Message{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v, want context.Canceled", err)
	}
	if _, err := OpenMaildir(t.TempDir()); !errors.Is(err, ErrNotMaildir) {
		t.Errorf("OpenMaildir(empty dir) = %v, want ErrNotMaildir", err)
	}
	if _, err := ListMaildirFolders(t.TempDir()); !errors.Is(err, ErrNotMaildir) {
		t.Errorf("ListMaildirFolders(empty dir) = %v, want ErrNotMaildir", err)
	}
}

func TestMaildirFlags(t *testing.T) {
	kw := []string{"Work", "", "Later"}
	tests := []struct {
		name  string
		inNew bool
		want  []string
	}{
		{"1.M1P1.h:2,DFPRST", false, []string{`\Draft`, `\Flagged`, "$Forwarded", `\Answered`, `\Seen`, `\Deleted`}},
		{"1.M1P1.h:2,", false, nil},
		{"1.M1P1.h", false, nil},
		{"1.M1P1.h:2,abcz", false, []string{"Work", "Later"}},
		{"1.M1P1.h:2,S", true, nil},
		{"1.M1P1.h:1,S", false, nil},
		{"1.M1P1.h,S=12:2,XS", false, []string{`\Seen`}},
	}
	for _, tt := range tests {
		if got := maildirFlags(tt.name, tt.inNew, kw); !sameFlags(got, tt.want) {
			t.Errorf("maildirFlags(%q, %v) = %q, want %q", tt.name, tt.inNew, got, tt.want)
		}
	}
}

func FuzzMaildirFlags(f *testing.F) {
	for _, seed := range []string{"1.M1P1.h:2,DFPRST", "x:2,abz", ":2,:2,", "", "1.2.3:2,\xff"} {
		f.Add(seed)
	}
	kw := []string{"Work", "", "Later"}
	f.Fuzz(func(t *testing.T, name string) {
		flags := maildirFlags(name, false, kw)
		s, err := parseFlags(flags, "")
		if err != nil {
			t.Fatalf("flags %q from %q are not writable: %v", flags, name, err)
		}
		if len(s.list()) != len(flags) {
			t.Fatalf("duplicate flags %q from %q", flags, name)
		}
	})
}
