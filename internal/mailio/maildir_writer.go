package mailio

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MaildirWriter delivers messages into one Maildir folder. It is safe for
// concurrent use, and file names stay unique across processes writing to
// the same folder.
type MaildirWriter struct {
	dir  string
	host string
	pid  int

	mu       sync.Mutex
	seq      uint64   // deliveries by this writer, the "Q" part of names
	keywords []string // dovecot-keywords, indexed by letter
}

// CreateMaildir makes dir a Maildir (cur/, new/, tmp/, mode 0700), keeping
// whatever it already holds, and returns a writer for it. A directory whose
// name starts with "." is a Maildir++ subfolder and also gets the empty
// maildirfolder file that Courier and Dovecot use to mark one.
func CreateMaildir(dir string) (*MaildirWriter, error) {
	for _, sub := range [...]string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return nil, fmt.Errorf("mailio: creating Maildir: %w", err)
		}
	}
	if strings.HasPrefix(filepath.Base(dir), ".") {
		f, err := os.OpenFile(filepath.Join(dir, "maildirfolder"), os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, fmt.Errorf("mailio: creating Maildir: %w", err)
		}
		if err := f.Close(); err != nil {
			return nil, fmt.Errorf("mailio: creating Maildir: %w", err)
		}
	}
	kw, err := readKeywords(dir)
	if err != nil {
		return nil, err
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	// The spec replaces "/" and ":" in the host name with octal escapes so
	// the name stays one path element and the info separator stays unique.
	host = strings.NewReplacer("/", `\057`, ":", `\072`).Replace(host)
	return &MaildirWriter{dir: dir, host: host, pid: os.Getpid(), keywords: kw}, nil
}

// Write delivers m as the spec describes (cr.yp.to/proto/maildir.html):
// the file is written and fsynced in tmp/, its mtime set to InternalDate
// (when known), then hard-linked into cur/ with the flags after ":2," and
// the tmp/ name removed; cur/ is fsynced so the delivery survives a crash.
// Linking fails rather than replaces when the name is taken, so a
// collision only costs a retry with a new name. The message is stored with
// LF line endings. Keywords get Dovecot letters, recorded in
// dovecot-keywords before the message that uses them appears; more than 26
// keywords in one folder yield [ErrTooManyKeywords]. It returns the name of
// the file in cur/.
func (w *MaildirWriter) Write(ctx context.Context, m *Message) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	flags, err := parseFlags(m.Flags, "")
	if err != nil {
		return "", err
	}
	info, err := w.info(flags)
	if err != nil {
		return "", err
	}
	for range 10 {
		base, err := w.uniqueName()
		if err != nil {
			return "", err
		}
		tmp := filepath.Join(w.dir, "tmp", base)
		if err := writeFileSync(tmp, toLF(m.Raw), m.InternalDate); err != nil {
			if errors.Is(err, fs.ErrExist) {
				continue
			}
			return "", err
		}
		if err := ctx.Err(); err != nil {
			_ = os.Remove(tmp)
			return "", err
		}
		name := base + infoPrefix + info
		err = moveNoReplace(tmp, filepath.Join(w.dir, "cur", name))
		if errors.Is(err, fs.ErrExist) {
			_ = os.Remove(tmp)
			continue
		}
		if err != nil {
			_ = os.Remove(tmp)
			return "", err
		}
		if err := syncDir(filepath.Join(w.dir, "cur")); err != nil {
			return "", err
		}
		return name, nil
	}
	return "", fmt.Errorf("mailio: delivering to Maildir %s: no unique file name after 10 tries", w.dir)
}

// info returns the ":2," letters for flags, assigning keyword letters.
func (w *MaildirWriter) info(flags flagSet) (string, error) {
	letters := make(map[string]byte, len(flags.keywords))
	for _, k := range flags.keywords {
		if strings.EqualFold(k, keywordForwarded) {
			letters[k] = 'P'
			continue
		}
		l, err := w.keywordLetter(k)
		if err != nil {
			return "", err
		}
		letters[k] = l
	}
	return infoLetters(flags, func(k string) byte { return letters[k] }), nil
}

// keywordLetter returns k's letter, recording a new one in dovecot-keywords
// first. The file is read again before a letter is added, in case another
// writer added keywords since.
func (w *MaildirWriter) keywordLetter(k string) (byte, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	find := func() (byte, bool) {
		for i, have := range w.keywords {
			if strings.EqualFold(have, k) {
				return byte('a' + i), true
			}
		}
		return 0, false
	}
	if l, ok := find(); ok {
		return l, nil
	}
	kw, err := readKeywords(w.dir)
	if err != nil {
		return 0, err
	}
	w.keywords = kw
	if l, ok := find(); ok {
		return l, nil
	}
	free := len(w.keywords)
	for i, have := range w.keywords {
		if have == "" {
			free = i
			break
		}
	}
	if free >= maxKeywordLetters {
		return 0, fmt.Errorf("%w: cannot store keyword %q in %s", ErrTooManyKeywords, k, w.dir)
	}
	next := append([]string(nil), w.keywords...)
	if free == len(next) {
		next = append(next, k)
	} else {
		next[free] = k
	}
	if err := writeKeywords(w.dir, next); err != nil {
		return 0, err
	}
	w.keywords = next
	return byte('a' + free), nil
}

// uniqueName makes a new file name in the spec's modern form
// "time.MusecPpidQdeliveriesRrandom.host": microseconds, process id and a
// per-writer counter keep one process's names apart, and random bits keep
// apart writers that share all three.
func (w *MaildirWriter) uniqueName() (string, error) {
	w.mu.Lock()
	w.seq++
	seq := w.seq
	w.mu.Unlock()
	var rnd [4]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return "", fmt.Errorf("mailio: making Maildir file name: %w", err)
	}
	now := time.Now()
	return strconv.FormatInt(now.Unix(), 10) +
		".M" + strconv.Itoa(now.Nanosecond()/1000) +
		"P" + strconv.Itoa(w.pid) +
		"Q" + strconv.FormatUint(seq, 10) +
		"R" + hex.EncodeToString(rnd[:]) +
		"." + w.host, nil
}

// writeFileSync creates path (failing if it exists), writes data, fsyncs
// it and sets its mtime to date unless date is zero.
func writeFileSync(path string, data []byte, date time.Time) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("mailio: writing Maildir message: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && !date.IsZero() {
		// A zero access time leaves it unchanged.
		err = os.Chtimes(path, time.Time{}, date)
	}
	if err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("mailio: writing Maildir message: %w", err)
	}
	return nil
}

// moveNoReplace moves from to to without ever replacing an existing file:
// link then unlink, as the spec's delivery does. Where the file system has
// no hard links it falls back to rename after checking that to is free.
func moveNoReplace(from, to string) error {
	err := os.Link(from, to)
	switch {
	case err == nil:
		if err := os.Remove(from); err != nil {
			return fmt.Errorf("mailio: delivering Maildir message: %w", err)
		}
		return nil
	case errors.Is(err, fs.ErrExist):
		return fmt.Errorf("mailio: delivering Maildir message: %w", err)
	}
	if _, serr := os.Lstat(to); serr == nil {
		return fmt.Errorf("mailio: delivering Maildir message: %s: %w", to, fs.ErrExist)
	}
	if err := os.Rename(from, to); err != nil {
		return fmt.Errorf("mailio: delivering Maildir message: %w", err)
	}
	return nil
}

// syncDir fsyncs a directory so that a new entry in it is durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("mailio: syncing Maildir: %w", err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("mailio: syncing Maildir: %w", err)
	}
	return nil
}
