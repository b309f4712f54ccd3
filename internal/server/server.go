// Package server wires an opened Mailroom instance to its network listeners and runs
// them until the context ends, then shuts them down in order.
//
// It is the only package that binds sockets. It holds no protocol logic: each protocol
// package hands it a handler, and it never reaches into the store itself.
package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"mailroom/internal/acl"
	"mailroom/internal/adminapi"
	"mailroom/internal/auth"
	"mailroom/internal/autodiscover"
	"mailroom/internal/config"
	"mailroom/internal/dav"
	"mailroom/internal/httpresume"
	"mailroom/internal/imap"
	"mailroom/internal/instance"
	"mailroom/internal/oauth"
	"mailroom/internal/pop3"
	"mailroom/internal/profiles"
	"mailroom/internal/retention"
	"mailroom/internal/scheduling"
	"mailroom/internal/tlsconf"
	"mailroom/internal/web"
)

// Logger builds the process logger the configuration asks for.
func Logger(w io.Writer, c config.Log) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.Level)); err != nil {
		return nil, fmt.Errorf("log level %q: %w", c.Level, err)
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}

// endpoint is one configured listener address and what serves connections on it.
type endpoint struct {
	protocol string
	addr     string
	tls      *tls.Config // non-nil: implicit TLS on accept
	serve    func(net.Listener) error
	ln       net.Listener
}

// service is a protocol server that can be asked to stop.
type service interface {
	Shutdown(ctx context.Context) error
}

// Run binds every configured listener of the protocols this build serves, serves until
// ctx ends, then stops accepting, lets in-flight work finish (up to the configured
// shutdown timeout) and returns. A listener that cannot bind is an error before anything
// is served.
func Run(ctx context.Context, in *instance.Instance, log *slog.Logger) error {
	cfg := in.Config
	pairs, err := in.CertPairs()
	if err != nil {
		return err
	}
	tlsConfig, err := tlsconf.Server(pairs)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name:        "mailroom_db_queries_total",
		Help:        "SQL statements this process sent to the database, BEGIN and COMMIT included.",
		ConstLabels: prometheus.Labels{"dialect": string(in.DB.Dialect)},
	}, func() float64 { return float64(in.DB.Queries()) }))
	m := newMetrics(reg)

	signer, err := ProfileSigner(in)
	if err != nil {
		return err
	}
	profileService, ca, err := Profiles(ctx, in)
	if err != nil {
		return err
	}
	signIn, tokens, err := Auth(ctx, in, log)
	if err != nil {
		return err
	}
	auto := autodiscover.New(autodiscover.Config{Hostname: cfg.Hostname, Services: Discovery(cfg), Directory: in.Directory, Auth: signIn, Signer: signer, Logger: log.With("component", "autodiscover")})
	sched := newScheduler(in, log)
	// The connections of parked ActiveSync Pings come back to the web server here.
	resumed := httpresume.New()
	eas, err := activeSync(ctx, in, log, profileService, ca, signIn, sched, resumed)
	if err != nil {
		return err
	}
	authz, err := OAuth(in, signIn, tokens, log)
	if err != nil {
		return err
	}
	downloads := profiles.NewHandler(profileService, signIn, log.With("component", "profiles")).
		WithProofs(profiles.Proofs{Tokens: tokens, Certificates: ca})
	enrolment, err := SCEP(ctx, in, ca, log)
	if err != nil {
		return err
	}
	admin := adminapi.New(adminapi.Config{
		Directory: in.Directory, Domains: in, Queue: in.Queue, Devices: eas, Profiles: profileService, Certificates: ca,
		Services: Discovery(cfg), Hostname: cfg.Hostname, ProfileConfig: ProfileConfig(cfg),
		Authenticators: []adminapi.Authenticator{adminapi.Basic{Passwords: signIn}, adminapi.Bearer{Tokens: signIn}},
		Logger:         log.With("component", "adminapi"),
	})
	factors, err := oauth.Open(ctx, in.DB, nil) // second factors, for the console
	if err != nil {
		return err
	}
	console, err := web.New(ctx, web.Config{
		DB: in.DB, Passwords: signIn, AppPasswords: signIn, MFA: factors, Messages: in.Store, Directory: in.Directory, Domains: in, Mailboxes: in.Store, Devices: eas,
		Queue: in.Queue, Profiles: profileService, CA: ca, Resolver: in.Resolver, Services: Discovery(cfg),
		Hostname: cfg.Hostname, Logger: log.With("component", "web"),
	})
	if err != nil {
		return err
	}
	web := &http.Server{
		Handler:           m.instrument(routes(in, reg, auto, easRoute{eas}, downloads, admin, console, enrolment, authz, calDAV(in, signIn, sched, log))),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       5 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	services := []service{web, eas}
	var endpoints []*endpoint
	add := func(protocol string, addrs []string, implicitTLS bool, serve func(net.Listener) error) {
		for _, a := range addrs {
			e := &endpoint{protocol: protocol, addr: a, serve: serve}
			if implicitTLS {
				e.tls = tlsConfig
			}
			endpoints = append(endpoints, e)
		}
	}
	add("http", cfg.HTTP.Listen, false, web.Serve)
	add("https", cfg.HTTP.TLSListen, true, web.Serve)
	// HTTPS alone asks for client certificates of the built-in CA, for ActiveSync's
	// certificate sign-in; it does not require one, so password clients are unaffected.
	httpsTLS := tlsConfig.Clone()
	httpsTLS.ClientAuth = tls.VerifyClientCertIfGiven
	httpsTLS.ClientCAs = x509.NewCertPool()
	httpsTLS.ClientCAs.AddCert(ca.Certificate())
	for _, e := range endpoints {
		if e.protocol == "https" {
			e.tls = httpsTLS
		}
	}

	mta, worker := mailServices(ctx, in, tlsConfig, signIn, sched, log)
	services = append(services, mta, worker, runBackground(ctx, sched.Run))
	add("smtp", cfg.SMTP.Listen, false, mta.ServeMX)
	add("submission", cfg.SMTP.Submission, false, func(ln net.Listener) error { return mta.ServeSubmission(ln, false) })
	add("submissions", cfg.SMTP.Submissions, false, func(ln net.Listener) error { return mta.ServeSubmission(ln, true) })

	pop := pop3.New(pop3.Config{Store: in.Store, Auth: signIn, Domains: in.Directory, TLS: tlsConfig, Hostname: cfg.Hostname, Logger: log.With("component", "pop3")})
	purge := runBackground(ctx, func(ctx context.Context) {
		// Messages POP3 moved to Deleted Items are purged after their domain's period.
		if err := retention.Run(ctx, time.Hour, in.Store, in.Directory, log.With("component", "retention")); err != nil && ctx.Err() == nil {
			log.Error("retention purge stopped", "err", err)
		}
	})
	services = append(services, pop, purge)
	add("pop3", cfg.POP3.Listen, false, func(ln net.Listener) error { return pop.Serve(ln, false) })
	add("pop3s", cfg.POP3.TLSListen, false, func(ln net.Listener) error { return pop.Serve(ln, true) })

	acls, err := acl.Open(ctx, in.DB) // per-folder access lists of IMAP (RFC 4314)
	if err != nil {
		return err
	}
	mua := imap.New(imap.Config{Store: in.Store, Auth: signIn, Grants: in.Directory, ACL: acls, Users: in.Directory, TLS: tlsConfig, Hostname: cfg.Hostname, Logger: log.With("component", "imap")})
	services = append(services, mua)
	add("imap", cfg.IMAP.Listen, false, func(ln net.Listener) error { return mua.Serve(ln, false) })
	add("imaps", cfg.IMAP.TLSListen, false, func(ln net.Listener) error { return mua.Serve(ln, true) })

	for _, e := range endpoints {
		ln, err := net.Listen("tcp", e.addr)
		if err != nil {
			for _, done := range endpoints {
				if done.ln != nil {
					done.ln.Close()
				}
			}
			// Background work (the queue worker, the retention purge) has started; stop it
			// before the caller closes the database under it.
			sctx, cancel := context.WithTimeout(context.Background(), cfg.Limits.ShutdownTimeout)
			defer cancel()
			for _, svc := range services {
				svc.Shutdown(sctx)
			}
			return fmt.Errorf("%s listener %s: %w", e.protocol, e.addr, err)
		}
		if e.tls != nil {
			ln = tls.NewListener(ln, e.tls)
		}
		e.ln = ln
	}
	errs := make(chan error, len(endpoints)+1)
	var wg sync.WaitGroup
	for _, e := range endpoints {
		log.Info("listening", "protocol", e.protocol, "address", e.ln.Addr().String())
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := e.serve(e.ln); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
				errs <- fmt.Errorf("%s on %s: %w", e.protocol, e.ln.Addr(), err)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := web.Serve(resumed); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs <- fmt.Errorf("resumed HTTP connections: %w", err)
		}
	}()
	log.Info("mailroom serving", "hostname", cfg.Hostname, "data", cfg.Dir)

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errs:
	}
	log.Info("shutting down", "timeout", cfg.Limits.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.Limits.ShutdownTimeout)
	defer cancel()
	var swg sync.WaitGroup
	var mu sync.Mutex
	for _, svc := range services {
		swg.Add(1)
		go func() {
			defer swg.Done()
			if err := svc.Shutdown(sctx); err != nil {
				mu.Lock()
				runErr = errors.Join(runErr, fmt.Errorf("shutdown: %w", err))
				mu.Unlock()
			}
		}()
	}
	swg.Wait()
	wg.Wait()
	log.Info("stopped")
	return runErr
}

// Discovery is what Autodiscover, autoconfig and the DNS records offer clients: the
// configured services this build serves. Offering one it does not serve would send
// clients to set up accounts that fail.
func Discovery(cfg config.Config) autodiscover.Services {
	s := autodiscover.ServicesFromConfig(cfg)
	s.CalDAV, s.CardDAV = "", ""
	return s
}

// OAuth builds the OAuth 2.0 / OpenID Connect authorization server (docs/oauth.md) on
// the token verifier Auth made, whose sign-in page checks passwords and records
// events through signIn.
func OAuth(in *instance.Instance, signIn *auth.Service, tokens *oauth.Verifier, log *slog.Logger) (*oauth.Server, error) {
	return oauth.NewServer(oauth.Config{Verifier: tokens, Directory: in.Directory, Passwords: signIn, Audit: signIn, Logger: log.With("component", "oauth")})
}

// Issuer is the OAuth issuer: https://<hostname>, with the port of the first HTTPS
// listener unless it is 443.
func Issuer(c config.Config) string {
	port := "443"
	if len(c.HTTP.TLSListen) > 0 {
		if _, p, err := net.SplitHostPort(c.HTTP.TLSListen[0]); err == nil {
			port = p
		}
	}
	if port == "443" {
		return "https://" + c.Hostname
	}
	return "https://" + net.JoinHostPort(c.Hostname, port)
}

// calDAV builds the CalDAV and CardDAV server over the store, signing users in
// through signIn, listing the global address list through the directory and
// scheduling meetings through sched.
func calDAV(in *instance.Instance, signIn *auth.Service, sched *scheduling.Service, log *slog.Logger) *dav.Handler {
	return dav.New(dav.Config{Store: in.Store, Auth: dav.SignIn{Auth: signIn}, GAL: dav.Directory{Dir: in.Directory},
		Scheduler: sched, Users: in.Directory, Logger: log.With("component", "dav")})
}
