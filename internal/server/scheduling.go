package server

import (
	"log/slog"

	"mailroom/internal/instance"
	"mailroom/internal/scheduling"
)

// newScheduler builds the meeting scheduler of an instance: its invitations and
// replies go out through the instance's mail flow, DKIM-signed like any mail. The SMTP
// server hands it what it delivers locally; its Run processes that in the background.
func newScheduler(in *instance.Instance, log *slog.Logger) *scheduling.Service {
	return scheduling.New(scheduling.Config{
		Store:     in.Store,
		Directory: in.Directory,
		Flow:      in.Flow,
		Signer:    dkimSigner{in.Directory, log},
		Hostname:  in.Config.Hostname,
		Logger:    log.With("component", "scheduling"),
	})
}
