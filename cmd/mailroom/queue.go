package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"mailroom/internal/instance"
	"mailroom/internal/queue"
)

func runQueue(ctx context.Context, e *env, args []string) error {
	withID := func(verb string, act func(ctx context.Context, in *instance.Instance, id int64) error, done string) sub {
		return sub{verb, func(ctx context.Context, e *env, args []string) error {
			return withInstance(ctx, e, "queue "+verb, "ID", args, 1, 1, func(in *instance.Instance, pos []string, _ bool) error {
				id, err := strconv.ParseInt(pos[0], 10, 64)
				if err != nil || id <= 0 {
					return usageErr("%q is not a queue id (see 'mailroom queue list')", pos[0])
				}
				if err := act(ctx, in, id); err != nil {
					return fmt.Errorf("queue entry %d: %w", id, err)
				}
				fmt.Fprintf(e.stdout, done+"\n", id)
				return nil
			})
		}}
	}
	return dispatch(ctx, e, "queue", []sub{
		{"list", func(ctx context.Context, e *env, args []string) error {
			return withInstance(ctx, e, "queue list", "", args, 0, 0, func(in *instance.Instance, _ []string, asJSON bool) error {
				entries, err := in.Queue.List(ctx)
				if err != nil {
					return err
				}
				if entries == nil {
					entries = []queue.Entry{}
				}
				return emit(e, asJSON, entries, func(w io.Writer) {
					fmt.Fprintln(w, "ID\tFROM\tSIZE\tQUEUED\tRECIPIENTS")
					for _, q := range entries {
						var rcpts []string
						for _, r := range q.Recipients {
							rcpts = append(rcpts, r.Address+" ("+string(r.Status)+")")
						}
						from := q.From
						if from == "" {
							from = "<>"
						}
						fmt.Fprintf(w, "%d\t%s\t%d\t%s\t%s\n", q.ID, from, q.Size, q.Created.Format(time.DateTime), strings.Join(rcpts, ", "))
					}
				})
			})
		}},
		{"show", func(ctx context.Context, e *env, args []string) error {
			return withInstance(ctx, e, "queue show", "ID", args, 1, 1, func(in *instance.Instance, pos []string, asJSON bool) error {
				id, err := strconv.ParseInt(pos[0], 10, 64)
				if err != nil || id <= 0 {
					return usageErr("%q is not a queue id (see 'mailroom queue list')", pos[0])
				}
				q, err := in.Queue.Show(ctx, id)
				if err != nil {
					return fmt.Errorf("queue entry %d: %w", id, err)
				}
				return emit(e, asJSON, q, func(w io.Writer) {
					fmt.Fprintf(w, "ID:\t%d\nFrom:\t%s\nSize:\t%d\nQueued:\t%s\n", q.ID, q.From, q.Size, q.Created.Format(time.DateTime))
					for _, r := range q.Recipients {
						next := "-"
						if !r.NextAttempt.IsZero() {
							next = r.NextAttempt.Format(time.DateTime)
						}
						fmt.Fprintf(w, "Recipient:\t%s %s, %d attempts, next %s, last: %s\n", r.Address, r.Status, r.Attempts, next, r.LastError)
					}
				})
			})
		}},
		withID("retry", func(ctx context.Context, in *instance.Instance, id int64) error { return in.Queue.Retry(ctx, id) },
			"Queue entry %d is due now; the running server picks it up within a minute."),
		withID("drop", func(ctx context.Context, in *instance.Instance, id int64) error { return in.Queue.Drop(ctx, id) },
			"Dropped queue entry %d without a notification."),
	}, args)
}
