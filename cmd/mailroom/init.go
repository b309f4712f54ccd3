package main

import (
	"context"
	"fmt"
	"log/slog"

	"mailroom/internal/instance"
	"mailroom/internal/server"
)

const levelWarn = slog.LevelWarn

func runInit(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "init", "--data DIR --hostname HOST [--domain DOMAIN] [--store postgres --dsn URL]")
	hostname := f.String("hostname", "", "this server's fully qualified host name, e.g. mail.example.test")
	domain := f.String("domain", "", "the first mail domain, e.g. example.test")
	backend := f.String("store", "sqlite", `where mail is kept: "sqlite" in the data directory, or "postgres" (shared by several nodes)`)
	dsn := f.String("dsn", "", "with --store postgres: the database URL, e.g. postgres://mailroom@db:5432/mailroom")
	if _, err := f.parse(args, 0, 0); err != nil {
		return err
	}
	if *hostname == "" {
		return usageErr("--hostname is required")
	}
	switch {
	case *backend == "postgres" && *dsn == "":
		return usageErr("--store postgres needs --dsn")
	case *backend == "sqlite" && *dsn != "":
		return usageErr("--dsn goes with --store postgres")
	case *backend != "sqlite" && *backend != "postgres":
		return usageErr("--store is sqlite or postgres, not %q", *backend)
	}
	err := instance.Init(ctx, instance.InitOptions{Dir: *f.data, Hostname: *hostname, Domain: *domain, DSN: *dsn}, logger(e, levelWarn))
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "Initialised %s for %s.\n", *f.data, *hostname)
	if *domain != "" {
		fmt.Fprintf(e.stdout, "Domain %s added. Next: mailroom user add --data %s someone@%s\n", *domain, *f.data, *domain)
	}
	fmt.Fprintf(e.stdout, "Start the server with: mailroom serve --data %s\n", *f.data)
	return nil
}

func runServe(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "serve", "[--data DIR]")
	if _, err := f.parse(args, 0, 0); err != nil {
		return err
	}
	in, err := instance.Open(ctx, *f.data, logger(e, slog.LevelInfo))
	if err != nil {
		return err
	}
	defer in.Close()
	log, err := server.Logger(e.stderr, in.Config.Log)
	if err != nil {
		return err
	}
	return server.Run(ctx, in, log)
}
