package mailio

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// maildirEntry is one message file found when the Maildir was opened.
type maildirEntry struct {
	path  string
	name  string
	inNew bool
	date  time.Time
}

// maildirReader yields the files listed by OpenMaildir, reading each file
// only when its turn comes.
type maildirReader struct {
	entries  []maildirEntry
	keywords []string
	next     int
}

// OpenMaildir lists the messages of one Maildir folder (new/ and cur/; tmp/
// holds deliveries in progress) and returns a reader that yields them by
// date, then file name. The date is the file's mtime, which Dovecot and
// Python's mailbox module set to the arrival date; the time in the file
// name, which records when the file was delivered to this folder, is used
// only when the mtime is missing (the epoch or earlier). Keyword letters are
// mapped through dovecot-keywords when the folder has one. Hidden files and
// anything but regular files are passed over.
func OpenMaildir(dir string) (Reader, error) {
	if !isMaildir(dir) {
		return nil, fmt.Errorf("%w: %s", ErrNotMaildir, dir)
	}
	kw, err := readKeywords(dir)
	if err != nil {
		return nil, err
	}
	r := &maildirReader{keywords: kw}
	for _, sub := range [...]string{"new", "cur"} {
		subdir := filepath.Join(dir, sub)
		des, err := os.ReadDir(subdir)
		if err != nil {
			return nil, fmt.Errorf("mailio: listing Maildir: %w", err)
		}
		for _, de := range des {
			if strings.HasPrefix(de.Name(), ".") {
				continue
			}
			path := filepath.Join(subdir, de.Name())
			fi, err := os.Stat(path)
			if errors.Is(err, fs.ErrNotExist) {
				// Moved by a client (new/ to cur/) while we listed.
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("mailio: listing Maildir: %w", err)
			}
			if !fi.Mode().IsRegular() {
				continue
			}
			date := fi.ModTime()
			if date.Unix() <= 0 {
				date = nameTime(de.Name())
			}
			r.entries = append(r.entries, maildirEntry{path: path, name: de.Name(), inNew: sub == "new", date: date})
		}
	}
	slices.SortFunc(r.entries, func(a, b maildirEntry) int {
		return cmp.Or(a.date.Compare(b.date), cmp.Compare(a.name, b.name))
	})
	return r, nil
}

// Next returns the next message or io.EOF.
func (r *maildirReader) Next() (*Message, error) {
	if r.next >= len(r.entries) {
		return nil, io.EOF
	}
	e := r.entries[r.next]
	r.next++
	raw, err := os.ReadFile(e.path)
	if err != nil {
		return nil, fmt.Errorf("mailio: reading Maildir message: %w", err)
	}
	return &Message{
		Raw:          raw,
		InternalDate: e.date,
		Flags:        maildirFlags(e.name, e.inNew, r.keywords),
	}, nil
}

// isMaildir reports whether dir has the cur/ and new/ directories of a
// Maildir (tmp/ may be missing from copies and is not needed to read).
func isMaildir(dir string) bool {
	for _, sub := range [...]string{"cur", "new"} {
		fi, err := os.Stat(filepath.Join(dir, sub))
		if err != nil || !fi.IsDir() {
			return false
		}
	}
	return true
}
