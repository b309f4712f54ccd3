package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"mailroom/internal/config"
	"mailroom/internal/db"
	"mailroom/internal/instance"
	"mailroom/internal/migrate"
	"mailroom/internal/server"
)

// runMigrate is `mailroom migrate --from sqlite:DIR --to postgres:DSN`: it copies a
// one-node SQLite installation into an empty PostgreSQL database that nodes then share.
// It rewrites nothing in the source data directory; it prints the configuration lines
// that switch a node over.
func runMigrate(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "migrate", "--from sqlite:DIR --to postgres:DSN")
	from := f.String("from", "", "the source: sqlite:DIR, a data directory (default: sqlite: and --data)")
	to := f.String("to", "", "the target: postgres:DSN, an empty PostgreSQL database")
	if _, err := f.parse(args, 0, 0); err != nil {
		return err
	}
	if *from == "" {
		*from = "sqlite:" + *f.data
	}
	dir, ok := strings.CutPrefix(*from, "sqlite:")
	if !ok || dir == "" {
		return usageErr("--from is sqlite:DIR, not %q", *from)
	}
	dsn, ok := strings.CutPrefix(*to, "postgres:")
	if !ok || dsn == "" {
		return usageErr("--to is postgres:DSN, e.g. postgres:postgres://mailroom@db:5432/mailroom")
	}
	cfg, err := config.Load(filepath.Join(dir, config.DefaultFile))
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	if cfg.Store.Backend != "sqlite" {
		return fmt.Errorf("source %s keeps its store in %s, not SQLite", dir, cfg.Store.Backend)
	}
	target, err := db.OpenPostgres(ctx, dsn)
	if err != nil {
		return err
	}
	defer target.Close()

	// The target is set up by opening it as a node would: every component applies its
	// migrations (the certificate authority it makes is replaced by the source's).
	pgCfg := cfg
	pgCfg.Store.Backend, pgCfg.Store.DSN = "postgres", dsn
	log := logger(e, levelWarn)
	setup := func(ctx context.Context) error {
		in, err := instance.OpenConfig(ctx, pgCfg, log)
		if err != nil {
			return err
		}
		defer in.Close()
		return server.Schema(ctx, in, log)
	}
	rep, err := migrate.Run(ctx, migrate.Options{
		SQLiteFile: cfg.Path(cfg.Store.Path),
		StoreBlobs: cfg.Path(cfg.Store.Blobs),
		QueueBlobs: cfg.Path("queue"),
		Target:     target,
		Setup:      setup,
	})
	if err != nil && !errors.Is(err, migrate.ErrMismatch) {
		return err
	}
	if perr := emit(e, *f.json, rep, func(w io.Writer) {
		fmt.Fprintln(w, "TABLE\tSOURCE ROWS\tTARGET ROWS")
		for _, t := range rep.Tables {
			fmt.Fprintf(w, "%s\t%d\t%d\n", t.Table, t.Source, t.Target)
		}
		if err != nil {
			return
		}
		fmt.Fprintf(w, "\nCopied and verified: %d message blobs (%d bytes), each matching its SHA-256.\n", rep.Blobs, rep.BlobBytes)
		fmt.Fprintf(w, "%s was not changed. To switch a node over, set in its %s:\n\n", dir, config.DefaultFile)
		fmt.Fprintf(w, "[store]\nbackend = %q\ndsn = %q\n\n", "postgres", dsn)
		fmt.Fprintln(w, "Further nodes: mailroom init --store postgres --dsn DSN (without --domain).")
	}); perr != nil {
		return perr
	}
	return err
}
