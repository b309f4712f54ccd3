package mailio

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// The tests in this file cross-check against Python's mailbox module, an
// independent implementation of both formats: files Python writes must read
// back as Python meant them, and files this package writes must look to
// Python as intended.

// pythonScript writes or reads mailboxes as the first argument says. Input
// and output are JSON; message bytes travel as Latin-1 strings so that any
// byte survives.
const pythonScript = `
import json, mailbox, os, sys, time

def msgs(spec):
    for m in spec:
        yield m["raw"].encode("latin-1"), m

mode, path = sys.argv[1], sys.argv[2]
if mode == "write-mbox":
    box = mailbox.mbox(path, create=True)
    for raw, m in msgs(json.load(sys.stdin)):
        msg = mailbox.mboxMessage(raw)
        msg.set_from(m["sender"], time.gmtime(m["date"]))
        msg.set_flags(m["letters"])
        box.add(msg)
    box.close()
elif mode == "write-maildir":
    root = mailbox.Maildir(path, create=True)
    for raw, m in msgs(json.load(sys.stdin)):
        box = root.add_folder(m["folder"]) if m["folder"] else root
        msg = mailbox.MaildirMessage(raw)
        msg.set_subdir(m["subdir"])
        msg.set_flags(m["letters"])
        msg.set_date(m["date"])
        box.add(msg)
elif mode == "read-mbox":
    box = mailbox.mbox(path, create=False)
    out = []
    for key in box.keys():
        msg = box.get_message(key)
        out.append({"raw": box.get_bytes(key).decode("latin-1"), "letters": msg.get_flags(),
                    "from": msg.get_from(), "folder": "", "subdir": "", "date": 0})
    json.dump(out, sys.stdout)
elif mode == "read-maildir":
    root = mailbox.Maildir(path, factory=None, create=False)
    out = []
    for folder in [""] + sorted(root.list_folders()):
        box = root.get_folder(folder) if folder else root
        for key in box.keys():
            msg = box.get_message(key)
            out.append({"raw": box.get_bytes(key).decode("latin-1"), "letters": msg.get_flags(),
                        "from": "", "folder": folder, "subdir": msg.get_subdir(), "date": msg.get_date()})
    json.dump(out, sys.stdout)
`

// pyMessage is one message as the script above sees it.
type pyMessage struct {
	Raw     string  `json:"raw"`
	Letters string  `json:"letters"` // Python's flag letters for the format
	Sender  string  `json:"sender,omitempty"`
	From    string  `json:"from"`   // the From_ line after "From "
	Folder  string  `json:"folder"` // Maildir++ folder as Python names it
	Subdir  string  `json:"subdir"` // "new" or "cur"
	Date    float64 `json:"date"`   // seconds since the epoch
}

func runPython(t *testing.T, in []pyMessage, args ...string) []pyMessage {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, append([]string{"-c", pythonScript}, args...)...)
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdin = bytes.NewReader(data)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3 %s: %v\n%s", args[0], err, stderr.Bytes())
	}
	if len(out) == 0 {
		return nil
	}
	var msgs []pyMessage
	if err := json.Unmarshal(out, &msgs); err != nil {
		t.Fatalf("python3 %s output: %v", args[0], err)
	}
	return msgs
}

// crossDates are the arrival dates of crossMessages.
var crossDates = []time.Time{
	date("2024-02-03T04:05:06Z"), date("2023-11-12T13:14:15Z"), date("2024-07-08T09:10:11Z"),
}

// crossMessages are the messages both directions exchange. Python's mbox
// writer quotes "From " lines mboxo style, so the first one checks that
// the quoting of one format is undone by the other.
func crossMessages() []*Message {
	return []*Message{
		{
			Raw:          []byte("From: Alice <alice@example.com>\nTo: bob@example.com\nSubject: one\n\nHello\nFrom the start\n"),
			InternalDate: crossDates[0],
			Flags:        []string{`\Seen`, `\Answered`},
		},
		{
			Raw:          []byte("From: Bob <bob@example.com>\nSubject: two\n\nbody\n"),
			InternalDate: crossDates[1],
			Flags:        []string{`\Flagged`, `\Deleted`},
		},
		{
			Raw:          []byte("Subject: three\n\nplain\n"),
			InternalDate: crossDates[2],
		},
	}
}

func TestPythonWritesMbox(t *testing.T) {
	path := filepath.Join(t.TempDir(), "py.mbox")
	runPython(t, []pyMessage{
		{Raw: string(crossMessages()[0].Raw), Sender: "alice@example.com", Letters: "RA", Date: float64(crossDates[0].Unix())},
		{Raw: string(crossMessages()[1].Raw), Sender: "bob@example.com", Letters: "FD", Date: float64(crossDates[1].Unix())},
		{Raw: string(crossMessages()[2].Raw), Sender: "MAILER-DAEMON", Letters: "", Date: float64(crossDates[2].Unix())},
	}, "write-mbox", path)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := readAll(t, NewMboxReader(f))
	want := crossMessages()
	if len(got) != len(want) {
		t.Fatalf("read %d messages, want %d", len(got), len(want))
	}
	for i := range want {
		checkMessage(t, i, got[i], want[i])
	}
}

func TestPythonReadsMbox(t *testing.T) {
	path := filepath.Join(t.TempDir(), "go.mbox")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := NewMboxWriter(f)
	for _, m := range crossMessages() {
		if err := w.Write(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	got := runPython(t, nil, "read-mbox", path)
	want := []struct{ from, letters, raw string }{
		{
			"alice@example.com Sat Feb  3 04:05:06 2024", "ROA",
			"Status: RO\nX-Status: A\nFrom: Alice <alice@example.com>\nTo: bob@example.com\nSubject: one\n\nHello\n>From the start\n",
		},
		{
			"bob@example.com Sun Nov 12 13:14:15 2023", "OFD",
			"Status: O\nX-Status: FD\nFrom: Bob <bob@example.com>\nSubject: two\n\nbody\n",
		},
		{"MAILER-DAEMON Mon Jul  8 09:10:11 2024", "O", "Status: O\nSubject: three\n\nplain\n"},
	}
	if len(got) != len(want) {
		t.Fatalf("Python read %d messages, want %d", len(got), len(want))
	}
	for i, w := range want {
		if got[i].From != w.from || sortLetters(got[i].Letters) != sortLetters(w.letters) || got[i].Raw != w.raw {
			t.Errorf("message %d: Python saw from %q, flags %q, bytes %q\nwant %q, %q, %q",
				i, got[i].From, got[i].Letters, got[i].Raw, w.from, w.letters, w.raw)
		}
	}
}

func TestPythonWritesMaildir(t *testing.T) {
	root := filepath.Join(t.TempDir(), "Maildir")
	msgs := crossMessages()
	runPython(t, []pyMessage{
		{Raw: string(msgs[0].Raw), Letters: "RS", Subdir: "cur", Date: float64(crossDates[0].Unix())},
		{Raw: string(msgs[1].Raw), Letters: "FT", Subdir: "cur", Folder: "Archive.2024", Date: float64(crossDates[1].Unix())},
		{Raw: string(msgs[2].Raw), Letters: "", Subdir: "new", Folder: "Archive.2024", Date: float64(crossDates[2].Unix())},
	}, "write-maildir", root)
	folders, err := ListMaildirFolders(root)
	if err != nil {
		t.Fatal(err)
	}
	want := []MaildirFolder{{Name: "INBOX", Dir: root}, {Name: "Archive/2024", Dir: filepath.Join(root, ".Archive.2024")}}
	if !slices.Equal(folders, want) {
		t.Fatalf("folders = %q, want %q", folders, want)
	}
	var got []*Message
	for _, f := range folders {
		r, err := OpenMaildir(f.Dir)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, readAll(t, r)...)
	}
	if len(got) != len(msgs) {
		t.Fatalf("read %d messages, want %d", len(got), len(msgs))
	}
	// The archive folder sorts by date: message 1 (2023) before 2 (2024).
	for i := range msgs {
		checkMessage(t, i, got[i], msgs[i])
	}
}

func TestPythonReadsMaildir(t *testing.T) {
	root := filepath.Join(t.TempDir(), "Maildir")
	msgs := crossMessages()
	for i, m := range msgs {
		folder := "INBOX"
		if i > 0 {
			folder = "Archive/2024"
		}
		w, err := CreateMaildir(MaildirSubfolder(root, folder))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	got := runPython(t, nil, "read-maildir", root)
	want := []pyMessage{
		{Raw: string(msgs[0].Raw), Letters: "RS", Subdir: "cur", Date: float64(crossDates[0].Unix())},
		{Raw: string(msgs[1].Raw), Letters: "FT", Subdir: "cur", Folder: "Archive.2024", Date: float64(crossDates[1].Unix())},
		{Raw: string(msgs[2].Raw), Letters: "", Subdir: "cur", Folder: "Archive.2024", Date: float64(crossDates[2].Unix())},
	}
	slices.SortFunc(got, func(a, b pyMessage) int { return strings.Compare(a.Raw, b.Raw) })
	slices.SortFunc(want, func(a, b pyMessage) int { return strings.Compare(a.Raw, b.Raw) })
	if len(got) != len(want) {
		t.Fatalf("Python read %d messages, want %d", len(got), len(want))
	}
	for i := range want {
		got[i].Letters = sortLetters(got[i].Letters)
		if got[i] != want[i] {
			t.Errorf("Python saw %+v\nwant %+v", got[i], want[i])
		}
	}
}

func sortLetters(s string) string {
	b := []byte(s)
	slices.Sort(b)
	return string(b)
}
