package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"

	"mailroom/internal/auth"
	"mailroom/internal/directory"
	"mailroom/internal/instance"
	"mailroom/internal/msgauth"
	"mailroom/internal/queue"
	"mailroom/internal/scheduling"
	"mailroom/internal/smtp"
)

// outboundQueue hands SMTP submission's remote recipients, with their RFC 3461
// parameters, to the queue.
type outboundQueue struct{ q *queue.Queue }

func (o outboundQueue) Send(ctx context.Context, e smtp.Envelope, raw []byte) error {
	m := queue.Message{From: e.From, Raw: raw, Ret: queue.Ret(strings.ToUpper(e.Ret)), EnvID: e.EnvID, DSN: map[string]queue.RcptDSN{}}
	for _, r := range e.To {
		m.To = append(m.To, r.Addr)
		var d queue.RcptDSN
		for _, n := range r.Notify {
			d.Notify = append(d.Notify, queue.Notify(strings.ToUpper(n)))
		}
		d.ORcpt = r.ORcpt
		m.DSN[r.Addr] = d
	}
	_, err := o.q.Enqueue(ctx, m)
	return err
}

// checker gives SMTP the Authentication-Results field of an incoming message and, when
// DMARC failed, the policy the sender domain asks for.
type checker struct{ v *msgauth.Verifier }

func (c checker) Check(ctx context.Context, ip net.IP, helo, mailFrom string, raw []byte) (smtp.Verdict, error) {
	res, err := c.v.Check(ctx, ip, helo, mailFrom, raw)
	if err != nil {
		return smtp.Verdict{}, fmt.Errorf("msgauth: %w", err)
	}
	return smtp.Verdict{Header: res.Header, Policy: res.DMARCPolicy}, nil
}

// dkimSigner signs outgoing mail with the sending domain's key. A domain without a key
// (none was made for it) sends unsigned, which is logged once per message.
type dkimSigner struct {
	dir *directory.Directory
	log *slog.Logger
}

func (s dkimSigner) Sign(ctx context.Context, domain string, raw []byte) ([]byte, error) {
	k, err := s.dir.DKIMKey(ctx, domain)
	if errors.Is(err, directory.ErrNotFound) {
		s.log.Warn("sending unsigned: the domain has no DKIM key", "domain", domain)
		return raw, nil
	}
	if err != nil {
		return nil, err
	}
	signer, err := msgauth.NewSigner(k.Domain, k.Selector, k.PrivateKey)
	if err != nil {
		return nil, err
	}
	return signer.Sign(raw)
}

// background is a goroutine that runs until its service is shut down.
type background struct {
	cancel context.CancelFunc
	done   sync.WaitGroup
}

func runBackground(ctx context.Context, fn func(ctx context.Context)) *background {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	b := &background{cancel: cancel}
	b.done.Add(1)
	go func() {
		defer b.done.Done()
		fn(ctx)
	}()
	return b
}

func (b *background) Shutdown(ctx context.Context) error {
	b.cancel()
	done := make(chan struct{})
	go func() { b.done.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// mailServices starts the outbound queue's worker and builds the SMTP server, which
// hands what it delivers locally to the scheduler.
func mailServices(ctx context.Context, in *instance.Instance, tlsConfig *tls.Config, signIn *auth.Service, sched *scheduling.Service, log *slog.Logger) (*smtp.Server, *background) {
	cfg := in.Config
	worker := runBackground(ctx, func(ctx context.Context) {
		if err := in.Queue.Run(ctx); err != nil && ctx.Err() == nil {
			log.Error("outbound queue stopped", "err", err)
		}
	})
	srv := smtp.New(smtp.Config{
		Hostname:       cfg.Hostname,
		Directory:      in.Directory,
		Auth:           signIn,
		Mailboxes:      in.Store,
		Outbound:       outboundQueue{in.Queue},
		Checker:        checker{&msgauth.Verifier{Resolver: in.Resolver, Hostname: cfg.Hostname, Logger: log}},
		Signer:         dkimSigner{in.Directory, log},
		Delivered:      sched,
		TLS:            tlsConfig,
		MaxMessageSize: int64(cfg.SMTP.MaxMessageSize),
		Logger:         log.With("component", "smtp"),
	})
	return srv, worker
}
