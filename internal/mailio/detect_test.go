package mailio

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestDetect(t *testing.T) {
	dir := t.TempDir()
	file := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	maildir := filepath.Join(dir, "Maildir")
	for _, sub := range []string{"cur", "new"} {
		if err := os.MkdirAll(filepath.Join(maildir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		path    string
		want    Format
		wantErr error
	}{
		{file("a.mbox", "From a Mon Jan  1 00:00:00 2024\n\nx\n"), Mbox, nil},
		{file("empty.mbox", ""), Mbox, nil},
		{file("mail.eml", "Subject: x\n\nbody\n"), 0, ErrUnknownFormat},
		{file("short", "Fro"), 0, ErrUnknownFormat},
		{maildir, Maildir, nil},
		{filepath.Join(maildir, "cur"), 0, ErrUnknownFormat},
		{filepath.Join(dir, "missing"), 0, os.ErrNotExist},
	}
	for _, tt := range tests {
		got, err := Detect(tt.path)
		if got != tt.want || !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
			t.Errorf("Detect(%s) = %v, %v; want %v, %v", filepath.Base(tt.path), got, err, tt.want, tt.wantErr)
		}
	}
	if Mbox.String() != "mbox" || Maildir.String() != "Maildir" {
		t.Errorf("Format names: %v, %v", Mbox, Maildir)
	}
}
