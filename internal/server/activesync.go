package server

import (
	"context"
	"log/slog"
	"net/http"

	"mailroom/internal/activesync"
	"mailroom/internal/auth"
	"mailroom/internal/instance"
	"mailroom/internal/mailflow"
	"mailroom/internal/pki"
	"mailroom/internal/profiles"
	"mailroom/internal/scheduling"
)

// ActiveSync builds the Exchange ActiveSync server of an instance: the server's own
// endpoint and the device administration commands share it. It enforces each user's
// e-mail profile and signs users in with the certificates the built-in CA issued.
func ActiveSync(ctx context.Context, in *instance.Instance, log *slog.Logger) (*activesync.Server, error) {
	svc, ca, err := Profiles(ctx, in)
	if err != nil {
		return nil, err
	}
	signIn, _, err := Auth(ctx, in, log)
	if err != nil {
		return nil, err
	}
	return activeSync(ctx, in, log, svc, ca, signIn, newScheduler(in, log), nil)
}

// activeSync builds the ActiveSync server over an opened profile service, CA, sign-in
// service and meeting scheduler. Parked Pings go back to the HTTP server through
// resume; nil keeps them in their handlers.
func activeSync(ctx context.Context, in *instance.Instance, log *slog.Logger, svc *profiles.Service, ca *pki.CA, signIn *auth.Service, sched *scheduling.Service, resume activesync.Resumer) (*activesync.Server, error) {
	// What SendMail delivers locally reaches the scheduler as SMTP's local deliveries
	// do, so an invitation to a colleague lands in their calendar. The scheduler's own
	// flow (in.Flow) has no hook: it files its invitations itself.
	flow := *in.Flow
	flow.Delivered = sched
	return activesync.New(ctx, activesync.Config{
		Store:     in.Store,
		Directory: in.Directory,
		Auth:      signIn,
		DB:        in.DB,
		Submitter: &mailflow.Submitter{
			Flow:    &flow,
			Senders: in.Directory,
			Signer:  dkimSigner{in.Directory, log},
			Store:   in.Store,
		},
		Policy:       activesync.DefaultPolicy(),
		Profiles:     profilePolicies{svc},
		Certificates: ca,
		Scheduler:    sched,
		ServerName:   in.Config.Hostname,
		Logger:       log.With("component", "activesync"),
		Resume:       resume,
	})
}

// easRoute serves ActiveSync at its fixed path, over TLS only: devices send the user's
// password in every request.
type easRoute struct{ h http.Handler }

func (e easRoute) Register(mux *http.ServeMux) {
	mux.HandleFunc("/Microsoft-Server-ActiveSync", func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			http.Error(w, "ActiveSync is served over HTTPS only", http.StatusForbidden)
			return
		}
		e.h.ServeHTTP(w, r)
	})
}
