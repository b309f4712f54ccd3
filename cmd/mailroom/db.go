package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"mailroom/internal/instance"
)

// runDB is `mailroom db`: explicit database maintenance. Every command migrates on
// opening; `db migrate` does only that, for an upgrade of a PostgreSQL installation
// before its nodes are restarted.
func runDB(ctx context.Context, e *env, args []string) error {
	return dispatch(ctx, e, "db", []sub{
		{"migrate", func(ctx context.Context, e *env, args []string) error {
			f := newFlags(e, "db migrate", "[--data DIR]")
			if _, err := f.parse(args, 0, 0); err != nil {
				return err
			}
			applied, err := instance.Migrate(ctx, *f.data, logger(e, slog.LevelWarn))
			if err != nil {
				return err
			}
			return emit(e, *f.json, applied, func(w io.Writer) {
				latest := map[string]int{}
				var order []string
				for _, m := range applied {
					if _, ok := latest[m.Component]; !ok {
						order = append(order, m.Component)
					}
					latest[m.Component] = m.Version
				}
				fmt.Fprintln(w, "COMPONENT\tSCHEMA VERSION")
				for _, c := range order {
					fmt.Fprintf(w, "%s\t%d\n", c, latest[c])
				}
			})
		}},
	}, args)
}
