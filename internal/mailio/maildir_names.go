package mailio

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// infoPrefix introduces the flags in a Maildir file name in cur/:
// "unique:2,FLAGS" (cr.yp.to/proto/maildir.html, "info semantics").
const infoPrefix = ":2,"

// keywordsFile is where Dovecot maps the keyword letters a-z of a Maildir's
// file names to keywords, one "N keyword" line each, letter 'a'+N
// (Dovecot's Maildir format documentation, "IMAP keywords").
const keywordsFile = "dovecot-keywords"

// maxKeywordLetters is the number of letters a-z available for keywords.
const maxKeywordLetters = 26

// maildirFlags returns the flags of a message file named name. The letters
// after ":2," are the spec's: D draft, F flagged, P passed (kept as the
// $Forwarded keyword, IMAP has no such flag), R replied, S seen, T trashed;
// lowercase letters are Dovecot keywords looked up in keywords. Files in
// new/ have not been seen by any client, so they are never \Seen.
func maildirFlags(name string, inNew bool, keywords []string) []string {
	var s flagSet
	if i := strings.LastIndex(name, infoPrefix); i >= 0 {
		for _, c := range []byte(name[i+len(infoPrefix):]) {
			switch {
			case c == 'D':
				s.draft = true
			case c == 'F':
				s.flagged = true
			case c == 'P':
				s.addKeyword(keywordForwarded)
			case c == 'R':
				s.answered = true
			case c == 'S':
				s.seen = true
			case c == 'T':
				s.deleted = true
			case c >= 'a' && c <= 'z' && int(c-'a') < len(keywords) && keywords[c-'a'] != "":
				s.addKeyword(keywords[c-'a'])
			}
		}
	}
	if inNew {
		s.seen = false
	}
	return s.list()
}

// nameTime returns the delivery time at the start of a Maildir file name
// ("time.unique", seconds since the epoch), or zero.
func nameTime(name string) time.Time {
	secs, _, ok := strings.Cut(name, ".")
	if !ok {
		return time.Time{}
	}
	n, err := strconv.ParseInt(secs, 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}
	}
	return time.Unix(n, 0)
}

// readKeywords reads a Maildir's dovecot-keywords file into a slice indexed
// by letter ('a' is 0). A missing file means no keywords; malformed lines
// are passed over, as Dovecot does.
func readKeywords(dir string) ([]string, error) {
	data, err := os.ReadFile(filepath.Join(dir, keywordsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("mailio: reading Maildir keywords: %w", err)
	}
	var kw []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		num, word, ok := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		n, err := strconv.Atoi(num)
		word = strings.TrimSpace(word)
		if !ok || err != nil || n < 0 || n >= maxKeywordLetters || word == "" {
			continue
		}
		for len(kw) <= n {
			kw = append(kw, "")
		}
		kw[n] = word
	}
	return kw, nil
}

// writeKeywords replaces dir's dovecot-keywords file atomically, so a
// reader sees either the old or the new mapping, never half of one.
func writeKeywords(dir string, kw []string) error {
	var b strings.Builder
	for i, k := range kw {
		if k != "" {
			fmt.Fprintf(&b, "%d %s\n", i, k)
		}
	}
	f, err := os.CreateTemp(dir, "."+keywordsFile+"-*")
	if err != nil {
		return fmt.Errorf("mailio: writing Maildir keywords: %w", err)
	}
	tmp := f.Name()
	_, err = f.WriteString(b.String())
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, keywordsFile))
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("mailio: writing Maildir keywords: %w", err)
	}
	return nil
}

// infoLetters renders flags as the letters after ":2,", in ASCII order as
// the spec requires. keywordLetter gives each keyword's letter.
func infoLetters(s flagSet, keywordLetter func(string) byte) string {
	var letters []byte
	for _, f := range []struct {
		on     bool
		letter byte
	}{{s.draft, 'D'}, {s.flagged, 'F'}, {s.answered, 'R'}, {s.seen, 'S'}, {s.deleted, 'T'}} {
		if f.on {
			letters = append(letters, f.letter)
		}
	}
	for _, k := range s.keywords {
		letters = append(letters, keywordLetter(k))
	}
	slices.Sort(letters)
	return string(slices.Compact(letters))
}
