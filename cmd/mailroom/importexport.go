package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"mailroom/internal/importer"
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
	sources, err := importer.Sources(pos[1], *folder)
	if err != nil {
		return err
	}
	return f.with(ctx, e, func(in *instance.Instance) error {
		u, err := in.Directory.User(ctx, pos[0])
		if err != nil {
			return err
		}
		done, err := importer.Run(ctx, in.Store, store.AccountID(u.ID), sources, nil)
		total := 0
		for _, fc := range done {
			fmt.Fprintf(e.stdout, "%s: %d messages\n", fc.Folder, fc.Count)
			total += fc.Count
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "Imported %d messages for %s.\n", total, u.Address)
		return nil
	})
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
