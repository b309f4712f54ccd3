// Package importer copies the messages of mail files (read by internal/mailio: an mbox
// file, a Maildir, a Maildir++ tree) into a mailbox of the store, creating the folders
// they go to. It is the one import loop that `mailroom import` and the console's
// import job share, and it reports progress after every message.
//
// It never parses a message (mailio and the store do), never holds more than one
// message in memory, and never deletes or changes what a mailbox already holds.
package importer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"mailroom/internal/mailio"
	"mailroom/internal/store"
)

// Store is what an import needs of the mailbox store; store.Store has it.
type Store interface {
	EnsureAccount(ctx context.Context, id store.AccountID) (store.Account, error)
	FolderByPath(ctx context.Context, id store.AccountID, path []string) (store.Folder, error)
	CreateFolder(ctx context.Context, id store.AccountID, parent store.FolderID, name string, role store.Role) (store.Folder, error)
	Deliver(ctx context.Context, m store.NewMessage, to []store.Placement) ([]store.Delivered, error)
}

// Source is one folder's worth of messages: where they go and how to read them.
type Source struct {
	Folder string // "/"-separated, such as Archive/2024
	Open   func() (mailio.Reader, io.Closer, error)
}

// Sources lists what importing path means: an mbox file goes into folder (INBOX when
// empty); a Maildir goes into folder when it is given, and otherwise every folder of
// the Maildir++ tree goes into the folder of the same name.
func Sources(path, folder string) ([]Source, error) {
	format, err := mailio.Detect(path)
	if err != nil {
		return nil, err
	}
	switch {
	case format == mailio.Mbox:
		if folder == "" {
			folder = "INBOX"
		}
		return []Source{{folder, func() (mailio.Reader, io.Closer, error) {
			fh, err := os.Open(path)
			if err != nil {
				return nil, nil, err
			}
			return mailio.NewMboxReader(fh), fh, nil
		}}}, nil
	case folder != "":
		return []Source{{folder, openMaildir(path)}}, nil
	}
	tree, err := mailio.ListMaildirFolders(path)
	if err != nil {
		return nil, err
	}
	out := make([]Source, 0, len(tree))
	for _, mf := range tree {
		out = append(out, Source{mf.Name, openMaildir(mf.Dir)})
	}
	return out, nil
}

func openMaildir(dir string) func() (mailio.Reader, io.Closer, error) {
	return func() (mailio.Reader, io.Closer, error) {
		r, err := mailio.OpenMaildir(dir)
		return r, io.NopCloser(nil), err
	}
}

// Progress is how far an import has come.
type Progress struct {
	Folder   string // the folder being filled, "/"-separated
	Imported int    // messages imported so far, in every folder
}

// FolderCount is how many messages went into one folder.
type FolderCount struct {
	Folder string
	Count  int
}

// Run imports every source into the account, in order, calling progress (when not
// nil) after each message. It stops at the first error: the messages imported before
// it stay, and the error says after how many and into which folder. The result
// counts what was imported either way.
func Run(ctx context.Context, st Store, acct store.AccountID, sources []Source, progress func(Progress)) ([]FolderCount, error) {
	if _, err := st.EnsureAccount(ctx, acct); err != nil {
		return nil, err
	}
	var done []FolderCount
	total := 0
	for _, src := range sources {
		dest, err := ensureFolder(ctx, st, acct, src.Folder)
		if err != nil {
			return done, fmt.Errorf("folder %s: %w", src.Folder, err)
		}
		name := strings.Join(dest.Path, "/")
		r, closer, err := src.Open()
		if err != nil {
			return done, err
		}
		n, err := importAll(ctx, st, acct, dest.ID, r, func(n int) {
			if progress != nil {
				progress(Progress{Folder: name, Imported: total + n})
			}
		})
		closer.Close()
		total += n
		if n > 0 {
			done = append(done, FolderCount{name, n})
		}
		if err != nil {
			return done, fmt.Errorf("after %d messages into %s: %w", total, name, err)
		}
	}
	return done, nil
}

// importAll delivers every message of r into the folder, calling step with the count
// after each.
func importAll(ctx context.Context, st Store, acct store.AccountID, folder store.FolderID, r mailio.Reader, step func(int)) (int, error) {
	n := 0
	for {
		m, err := r.Next()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		if err := ctx.Err(); err != nil {
			return n, err
		}
		_, err = st.Deliver(ctx, store.NewMessage{Raw: mailio.CRLF(m.Raw), Flags: m.Flags, InternalDate: m.InternalDate},
			[]store.Placement{{Account: acct, Folder: folder}})
		if err != nil {
			return n, err
		}
		n++
		step(n)
	}
}

// ensureFolder finds the folder with this "/"-separated path, creating it and any
// missing parents.
func ensureFolder(ctx context.Context, st Store, acct store.AccountID, name string) (store.Folder, error) {
	parts := strings.Split(strings.Trim(name, "/"), "/")
	var parent store.Folder
	for i := range parts {
		f, err := st.FolderByPath(ctx, acct, parts[:i+1])
		if errors.Is(err, store.ErrNotFound) {
			f, err = st.CreateFolder(ctx, acct, parent.ID, parts[i], store.RoleNone)
		}
		if err != nil {
			return store.Folder{}, err
		}
		parent = f
	}
	return parent, nil
}
