package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"mailroom/internal/instance"
	"mailroom/internal/mailio"
	"mailroom/internal/store"
)

func runImport(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "import", "[--folder NAME] USER FILE.mbox|MAILDIR")
	folder := f.String("folder", "", "folder to import into, such as Archive/2024 (default: INBOX for mbox, the Maildir's own folders for a Maildir tree)")
	pos, err := f.parse(args, 2, 2)
	if err != nil {
		return err
	}
	format, err := mailio.Detect(pos[1])
	if err != nil {
		return err
	}
	return f.with(ctx, e, func(in *instance.Instance) error {
		u, err := in.Directory.User(ctx, pos[0])
		if err != nil {
			return err
		}
		acct := store.AccountID(u.ID)
		if _, err := in.Store.EnsureAccount(ctx, acct); err != nil {
			return err
		}
		type source struct {
			folder string
			open   func() (mailio.Reader, io.Closer, error)
		}
		var sources []source
		switch {
		case format == mailio.Mbox:
			name := *folder
			if name == "" {
				name = "INBOX"
			}
			sources = append(sources, source{name, func() (mailio.Reader, io.Closer, error) {
				fh, err := os.Open(pos[1])
				if err != nil {
					return nil, nil, err
				}
				return mailio.NewMboxReader(fh), fh, nil
			}})
		case *folder != "":
			sources = append(sources, source{*folder, func() (mailio.Reader, io.Closer, error) {
				r, err := mailio.OpenMaildir(pos[1])
				return r, io.NopCloser(nil), err
			}})
		default:
			tree, err := mailio.ListMaildirFolders(pos[1])
			if err != nil {
				return err
			}
			for _, mf := range tree {
				sources = append(sources, source{mf.Name, func() (mailio.Reader, io.Closer, error) {
					r, err := mailio.OpenMaildir(mf.Dir)
					return r, io.NopCloser(nil), err
				}})
			}
		}
		total := 0
		for _, src := range sources {
			dest, err := ensureFolderPath(ctx, in.Store, acct, src.folder)
			if err != nil {
				return err
			}
			r, closer, err := src.open()
			if err != nil {
				return err
			}
			n, err := importAll(ctx, in.Store, acct, dest.ID, r)
			closer.Close()
			total += n
			if n > 0 {
				fmt.Fprintf(e.stdout, "%s: %d messages\n", strings.Join(dest.Path, "/"), n)
			}
			if err != nil {
				return fmt.Errorf("after %d messages into %s: %w", total, strings.Join(dest.Path, "/"), err)
			}
		}
		fmt.Fprintf(e.stdout, "Imported %d messages for %s.\n", total, u.Address)
		return nil
	})
}

func importAll(ctx context.Context, st store.Store, acct store.AccountID, folder store.FolderID, r mailio.Reader) (int, error) {
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
	}
}

// ensureFolderPath finds the folder with this "/"-separated path, creating it and any
// missing parents.
func ensureFolderPath(ctx context.Context, st store.Store, acct store.AccountID, name string) (store.Folder, error) {
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

func runExport(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "export", "[--format maildir|mbox] USER DIR")
	format := f.String("format", "maildir", "maildir: one Maildir++ tree; mbox: one mbox file per folder")
	pos, err := f.parse(args, 2, 2)
	if err != nil {
		return err
	}
	if *format != "maildir" && *format != "mbox" {
		return usageErr("--format must be maildir or mbox, not %q", *format)
	}
	out := pos[1]
	if entries, err := os.ReadDir(out); err == nil && len(entries) > 0 {
		return fmt.Errorf("%s exists and is not empty: export writes only into a new or empty directory", out)
	}
	return f.with(ctx, e, func(in *instance.Instance) error {
		u, err := in.Directory.User(ctx, pos[0])
		if err != nil {
			return err
		}
		folders, err := in.Store.Folders(ctx, store.AccountID(u.ID))
		if err != nil {
			return err
		}
		total := 0
		for _, fo := range folders {
			name := strings.Join(fo.Path, "/")
			var n int
			if *format == "maildir" {
				n, err = exportMaildir(ctx, in.Store, fo, mailio.MaildirSubfolder(out, name))
			} else {
				n, err = exportMbox(ctx, in.Store, fo, filepath.Join(out, filepath.FromSlash(name)+".mbox"))
			}
			if err != nil {
				return fmt.Errorf("export %s: %w", name, err)
			}
			total += n
		}
		fmt.Fprintf(e.stdout, "Exported %d messages in %d folders of %s to %s.\n", total, len(folders), u.Address, out)
		return nil
	})
}

// eachMessage calls fn with every message of a folder, bytes and all.
func eachMessage(ctx context.Context, st store.Store, fo store.Folder, fn func(*mailio.Message) error) (int, error) {
	list, err := st.List(ctx, fo.ID)
	if err != nil {
		return 0, err
	}
	for i, mi := range list {
		raw, err := st.Raw(ctx, mi.ID)
		if err != nil {
			return i, err
		}
		if err := fn(&mailio.Message{Raw: raw, Flags: mi.Flags, InternalDate: mi.InternalDate}); err != nil {
			return i, err
		}
	}
	return len(list), nil
}

func exportMaildir(ctx context.Context, st store.Store, fo store.Folder, dir string) (int, error) {
	w, err := mailio.CreateMaildir(dir)
	if err != nil {
		return 0, err
	}
	return eachMessage(ctx, st, fo, func(m *mailio.Message) error {
		_, err := w.Write(ctx, m)
		return err
	})
}

func exportMbox(ctx context.Context, st store.Store, fo store.Folder, file string) (int, error) {
	if err := os.MkdirAll(filepath.Dir(file), 0o750); err != nil {
		return 0, err
	}
	fh, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return 0, err
	}
	w := mailio.NewMboxWriter(fh)
	n, err := eachMessage(ctx, st, fo, w.Write)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if serr := fh.Sync(); err == nil {
		err = serr
	}
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	return n, err
}
