package server

import (
	"context"
	"log/slog"

	"mailroom/internal/auth"
	"mailroom/internal/instance"
	"mailroom/internal/oauth"
)

// Auth builds the sign-in service every protocol shares: passwords, app passwords,
// lockout and the audit log, in the instance's database so that every node shares
// them, with the OAuth server's access tokens and second factors. It returns the
// token verifier too, which the OAuth server itself is built on.
func Auth(ctx context.Context, in *instance.Instance, log *slog.Logger) (*auth.Service, *oauth.Verifier, error) {
	store, err := oauth.Open(ctx, in.DB, nil)
	if err != nil {
		return nil, nil, err
	}
	tokens, err := oauth.NewVerifier(ctx, store, Issuer(in.Config))
	if err != nil {
		return nil, nil, err
	}
	svc, err := auth.New(ctx, auth.Config{DB: in.DB, Directory: in.Directory, Tokens: tokens, MFA: store, Logger: log.With("component", "auth")})
	if err != nil {
		return nil, nil, err
	}
	return svc, tokens, nil
}
