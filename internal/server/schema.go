package server

import (
	"context"
	"log/slog"

	"mailroom/internal/acl"
	"mailroom/internal/instance"
	"mailroom/internal/web"
)

// Schema brings the instance's database to the schema of every component a node runs,
// by opening each the way Run does, without serving anything. `mailroom migrate` sets
// up its PostgreSQL target with it, so that every source table has its counterpart.
func Schema(ctx context.Context, in *instance.Instance, log *slog.Logger) error {
	// ActiveSync opens the profiles, the certificate authority, the sign-in service
	// and the OAuth server's tables on its way.
	if _, err := ActiveSync(ctx, in, log); err != nil {
		return err
	}
	ca, err := openCA(ctx, in)
	if err != nil {
		return err
	}
	if _, err := SCEP(ctx, in, ca, log); err != nil {
		return err
	}
	if _, err := acl.Open(ctx, in.DB); err != nil {
		return err
	}
	_, err = web.New(ctx, web.Config{DB: in.DB, Logger: log})
	return err
}
