// Package server wires an opened Mailroom instance to its network listeners and runs
// them until the context ends, then shuts them down in order.
//
// It is the only package that binds sockets. It holds no protocol logic: each protocol
// package hands it a handler, and it never reaches into the store itself.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"mailroom/internal/config"
	"mailroom/internal/instance"
	"mailroom/internal/tlsconf"
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

// Run binds every configured listener of the protocols this build serves, serves until
// ctx ends, then stops accepting, lets in-flight requests finish (up to the configured
// shutdown timeout) and returns. A listener that cannot bind is an error before anything
// is served.
func Run(ctx context.Context, in *instance.Instance, log *slog.Logger) error {
	cfg := in.Config
	tlsConfig, err := tlsconf.Server(pairs(cfg))
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := newMetrics(reg)
	handler := m.instrument(routes(in, reg))

	type bound struct {
		name string
		ln   net.Listener
	}
	var listeners []bound
	closeAll := func() {
		for _, b := range listeners {
			b.ln.Close()
		}
	}
	bind := func(name string, addrs []string, tlsCfg *tls.Config) error {
		for _, addr := range addrs {
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("%s listener %s: %w", name, addr, err)
			}
			if tlsCfg != nil {
				ln = tls.NewListener(ln, tlsCfg)
			}
			listeners = append(listeners, bound{name, ln})
		}
		return nil
	}
	if err := bind("http", cfg.HTTP.Listen, nil); err != nil {
		closeAll()
		return err
	}
	if err := bind("https", cfg.HTTP.TLSListen, tlsConfig); err != nil {
		closeAll()
		return err
	}
	for _, p := range unbuilt(cfg) {
		log.Info("listener not opened: this build does not serve the protocol yet", "protocol", p.name, "addresses", strings.Join(p.addrs, ","))
	}

	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       5 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errs := make(chan error, len(listeners))
	var wg sync.WaitGroup
	for _, b := range listeners {
		log.Info("listening", "protocol", b.name, "address", b.ln.Addr().String())
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Serve(b.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errs <- fmt.Errorf("%s on %s: %w", b.name, b.ln.Addr(), err)
			}
		}()
	}
	log.Info("mailroom serving", "hostname", cfg.Hostname, "data", cfg.Dir)

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errs:
	}
	log.Info("shutting down", "timeout", cfg.Limits.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.Limits.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		runErr = errors.Join(runErr, fmt.Errorf("shutdown: %w", err))
	}
	wg.Wait()
	log.Info("stopped")
	return runErr
}

func pairs(cfg config.Config) []tlsconf.Pair {
	var out []tlsconf.Pair
	for _, p := range cfg.CertPairs() {
		out = append(out, tlsconf.Pair(p))
	}
	return out
}

type protocolListeners struct {
	name  string
	addrs []string
}

// unbuilt lists the configured listeners of protocols this build does not serve yet, so
// that the log says plainly why nothing answers on those ports.
func unbuilt(cfg config.Config) []protocolListeners {
	var out []protocolListeners
	for _, p := range []protocolListeners{
		{"smtp", cfg.SMTP.Listen}, {"submission", cfg.SMTP.Submission}, {"submissions", cfg.SMTP.Submissions},
		{"imap", cfg.IMAP.Listen}, {"imaps", cfg.IMAP.TLSListen},
		{"pop3", cfg.POP3.Listen}, {"pop3s", cfg.POP3.TLSListen},
	} {
		if len(p.addrs) > 0 {
			out = append(out, p)
		}
	}
	return out
}
