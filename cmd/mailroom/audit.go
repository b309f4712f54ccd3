package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"mailroom/internal/auth"
	"mailroom/internal/instance"
	"mailroom/internal/server"
)

// runAudit lists the sign-in audit log: sign-ins on every protocol, token grants and
// revocations, app passwords created and revoked (docs/authentication.md).
func runAudit(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "audit", "")
	user := f.String("user", "", "only events of this user (address, alias, UPN or DOMAIN\\sam)")
	since := f.String("since", "", "only events since this time: RFC 3339 (2026-01-02T15:04:05Z), a date (2026-01-02) or a duration back from now (24h)")
	limit := f.Int("limit", 1000, "at most this many events, newest first")
	if _, err := f.parse(args, 0, 0); err != nil {
		return err
	}
	from, err := parseSince(*since, time.Now())
	if err != nil {
		return usageErr("--since: %v", err)
	}
	return f.with(ctx, e, func(in *instance.Instance) error {
		svc, _, err := server.Auth(ctx, in, logger(e, levelWarn))
		if err != nil {
			return err
		}
		filter := auth.AuditFilter{Since: from, Limit: *limit}
		if *user != "" {
			u, err := in.Directory.User(ctx, *user)
			if err != nil {
				return err
			}
			filter.UserID = u.ID
		}
		evs, err := svc.Events(ctx, filter)
		if err != nil {
			return err
		}
		return emit(e, *f.json, evs, func(w io.Writer) {
			fmt.Fprintln(w, "TIME\tEVENT\tRESULT\tLOGIN\tPROTOCOL\tREMOTE\tMETHOD\tDETAIL")
			for _, ev := range evs {
				result := "failed"
				if ev.Success {
					result = "ok"
				}
				login := ev.Login
				if login == "" && ev.UserID != 0 {
					login = fmt.Sprintf("user %d", ev.UserID)
				}
				remote := ""
				if ev.Remote.IsValid() {
					remote = ev.Remote.String()
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ev.At.Format(time.DateTime), ev.Kind, result, login, ev.Protocol, remote, ev.Method, ev.Detail)
			}
		})
	})
}

// parseSince reads --since: an RFC 3339 time, a date, or a duration back from now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q is neither a time (2026-01-02T15:04:05Z), a date (2026-01-02) nor a duration (24h)", s)
}
