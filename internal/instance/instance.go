// Package instance opens a Mailroom data directory: its configuration, database (SQLite
// in the directory, or the PostgreSQL database the configuration names),
// directory and mailbox store, ready for the server or an admin command.
//
// It is the one place that knows how those parts are put together on disk; it never
// listens on the network (that is the server's job).
package instance

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"mailroom/internal/blob"
	"mailroom/internal/config"
	"mailroom/internal/db"
	"mailroom/internal/directory"
	"mailroom/internal/mailflow"
	"mailroom/internal/msgauth"
	"mailroom/internal/queue"
	"mailroom/internal/store"
	"mailroom/internal/store/sqlstore"
	"mailroom/internal/tlsconf"
)

// ErrNotInitialised says the data directory has no configuration file.
var ErrNotInitialised = errors.New("not a Mailroom data directory")

// Instance is an opened data directory.
type Instance struct {
	Config    config.Config
	DB        *db.DB
	Directory *directory.Directory
	Store     store.Store
	// Queue is the outbound queue; only the server runs its worker, admin commands
	// inspect and change it.
	Queue *queue.Queue
	// Flow routes finished messages to local mailboxes and the queue.
	Flow *mailflow.Flow
	// Resolver is the DNS resolver the configuration names.
	Resolver *net.Resolver
}

// Open loads DIR/mailroom.toml and opens what it names.
func Open(ctx context.Context, dir string, logger *slog.Logger) (*Instance, error) {
	file := filepath.Join(dir, config.DefaultFile)
	if _, err := os.Stat(file); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s has no %s (run 'mailroom init --data %s' first)", ErrNotInitialised, dir, config.DefaultFile, dir)
	}
	cfg, err := config.Load(file)
	if err != nil {
		return nil, err
	}
	return open(ctx, cfg, logger)
}

// OpenConfig opens what a validated configuration names, without a configuration file:
// `mailroom migrate` uses it to set up a PostgreSQL target as the nodes will open it.
func OpenConfig(ctx context.Context, cfg config.Config, logger *slog.Logger) (*Instance, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return open(ctx, cfg, logger)
}

// openStorage opens the database the configuration names and the blob areas of the
// store and the queue: SQLite with files in the data directory, or PostgreSQL with
// the bytes in the database too, so that every node sharing it sees the same mail.
func openStorage(ctx context.Context, cfg config.Config) (d *db.DB, storeBlobs, queueBlobs blob.Area, err error) {
	if cfg.Store.Backend == "postgres" {
		if d, err = db.OpenPostgres(ctx, cfg.Store.DSN); err != nil {
			return nil, nil, nil, err
		}
		var st, qu *blob.Table
		if st, err = blob.NewTable(ctx, d, "store"); err == nil {
			qu, err = blob.NewTable(ctx, d, "queue")
		}
		if err != nil {
			d.Close()
			return nil, nil, nil, err
		}
		return d, st, qu, nil
	}
	if d, err = db.OpenSQLite(ctx, cfg.Path(cfg.Store.Path)); err != nil {
		return nil, nil, nil, err
	}
	var st, qu *blob.Local
	if st, err = blob.OpenLocal(ctx, d, cfg.Path(cfg.Store.Blobs), "store", blob.DefaultInlineLimit); err == nil {
		qu, err = blob.OpenLocal(ctx, d, cfg.Path("queue"), "queue", blob.DefaultInlineLimit)
	}
	if err != nil {
		d.Close()
		return nil, nil, nil, err
	}
	return d, st, qu, nil
}

func open(ctx context.Context, cfg config.Config, logger *slog.Logger) (*Instance, error) {
	d, blobs, queueBlobs, err := openStorage(ctx, cfg)
	if err != nil {
		return nil, err
	}
	dir, err := directory.New(ctx, d)
	if err != nil {
		d.Close()
		return nil, err
	}
	st, err := sqlstore.New(ctx, d, blobs, sqlstore.Options{
		MaxMessageSize: int64(cfg.SMTP.MaxMessageSize),
		Logger:         logger,
	})
	if err != nil {
		d.Close()
		return nil, err
	}
	in := &Instance{Config: cfg, DB: d, Directory: dir, Store: st, Resolver: resolver(cfg.DNS.Resolver)}
	in.Flow = &mailflow.Flow{Directory: dir, Mailboxes: st, Logger: logger}
	in.Queue, err = queue.New(ctx, d, queueBlobs, in.Flow, queue.Config{
		Hostname: cfg.Hostname, Port: cfg.SMTP.RelayPort, Resolver: in.Resolver, Timeout: cfg.Queue.Timeout,
		// Admin commands (queue retry) and other nodes change the queue from another
		// process; a short poll lets the server's worker see them within seconds.
		PollInterval: 5 * time.Second,
		Logger:       logger.With("component", "queue"),
	})
	if err != nil {
		in.Close()
		return nil, err
	}
	in.Flow.Queue = in.Queue
	return in, nil
}

// resolver returns the DNS resolver the configuration names: the system's, or a DNS
// server at host:port asked directly.
func resolver(addr string) *net.Resolver {
	if addr == "" {
		return net.DefaultResolver
	}
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
}

// Close closes the store and the database.
func (in *Instance) Close() error {
	return errors.Join(in.Store.Close(), in.DB.Close())
}

// DKIMSelector names the DKIM key Mailroom makes for each domain: it signs with the key
// published at mailroom._domainkey.DOMAIN.
const DKIMSelector = "mailroom"

// AddDomain adds a mail domain together with a new DKIM signing key for it. If the key
// cannot be made or stored, the domain is removed again, so nothing is half-made.
func (in *Instance) AddDomain(ctx context.Context, name, netbios string) (directory.Domain, error) {
	d, err := in.Directory.AddDomain(ctx, name, netbios)
	if err != nil {
		return d, err
	}
	key, _, err := msgauth.GenerateKey(msgauth.KeyRSA2048)
	if err == nil {
		err = in.Directory.SetDKIMKey(ctx, d.Name, DKIMSelector, key)
	}
	if err != nil {
		return d, errors.Join(fmt.Errorf("DKIM key for %s: %w", d.Name, err), in.Directory.RemoveDomain(ctx, d.Name))
	}
	cert, keyFile := in.domainCert(d.Name)
	if _, err := os.Stat(cert); errors.Is(err, fs.ErrNotExist) {
		if err := tlsconf.WriteSelfSigned(cert, keyFile, []string{"autodiscover." + d.Name, "autoconfig." + d.Name}); err != nil {
			return d, errors.Join(fmt.Errorf("certificate for %s: %w", d.Name, err), in.Directory.RemoveDomain(ctx, d.Name))
		}
	}
	return d, nil
}

// RemoveDomain removes a mail domain (refused while addresses use it) and the
// certificate made for its discovery names.
func (in *Instance) RemoveDomain(ctx context.Context, name string) error {
	d, err := in.Directory.Domain(ctx, name)
	if err != nil {
		return err
	}
	if err := in.Directory.RemoveDomain(ctx, d.Name); err != nil {
		return err
	}
	cert, key := in.domainCert(d.Name)
	return errors.Join(removeIfThere(cert), removeIfThere(key))
}

func removeIfThere(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// domainCert is where the certificate for a domain's autodiscover and autoconfig names
// lives: a self-signed one made by AddDomain, which the administrator may replace with
// a real one under the same names.
func (in *Instance) domainCert(domain string) (cert, key string) {
	dir := in.Config.Path(filepath.Join("tls", "domains"))
	return filepath.Join(dir, domain+".crt"), filepath.Join(dir, domain+".key")
}

// CertPairs lists every certificate the TLS listeners offer: the configured pairs, then
// one per domain for its discovery names, chosen by SNI.
func (in *Instance) CertPairs() ([]tlsconf.Pair, error) {
	var out []tlsconf.Pair
	for _, p := range in.Config.CertPairs() {
		out = append(out, tlsconf.Pair(p))
	}
	certs, err := filepath.Glob(in.Config.Path(filepath.Join("tls", "domains", "*.crt")))
	if err != nil {
		return nil, err
	}
	for _, c := range certs {
		out = append(out, tlsconf.Pair{Cert: c, Key: strings.TrimSuffix(c, ".crt") + ".key"})
	}
	return out, nil
}

// InitOptions say what `mailroom init` creates.
type InitOptions struct {
	Dir      string
	Hostname string
	Domain   string // the first mail domain; "" adds none
	// DSN, when set, makes the store a PostgreSQL database (which must exist) instead
	// of SQLite in the data directory. A further node of the same installation gets
	// the same DSN and no Domain.
	DSN string
}

// Init creates a new data directory: configuration, database, blob area, a self-signed
// certificate and the first domain. It refuses a directory that exists and is not empty,
// and removes what it created if any step fails, so nothing is left half-made.
func Init(ctx context.Context, o InitOptions, logger *slog.Logger) (err error) {
	if o.Dir == "" {
		return errors.New("init needs a data directory")
	}
	if entries, rerr := os.ReadDir(o.Dir); rerr == nil && len(entries) > 0 {
		return fmt.Errorf("%s already exists and is not empty: init never overwrites a data directory", o.Dir)
	} else if rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
		return fmt.Errorf("data directory %s: %w", o.Dir, rerr)
	}
	cfg := config.Default(o.Dir, o.Hostname)
	if o.DSN != "" {
		cfg.Store.Backend, cfg.Store.DSN = "postgres", o.DSN
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := os.MkdirAll(o.Dir, 0o750); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	defer func() {
		if err != nil {
			// Only what init itself made is there: the directory was empty or absent.
			entries, _ := os.ReadDir(o.Dir)
			for _, e := range entries {
				os.RemoveAll(filepath.Join(o.Dir, e.Name()))
			}
		}
	}()
	names := []string{o.Hostname}
	if o.Domain != "" {
		names = append(names, "autodiscover."+o.Domain, "autoconfig."+o.Domain)
	}
	if err := tlsconf.WriteSelfSigned(cfg.Path(cfg.TLS.Cert), cfg.Path(cfg.TLS.Key), names); err != nil {
		return fmt.Errorf("self-signed certificate: %w", err)
	}
	in, err := open(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer in.Close()
	if o.Domain != "" {
		if _, err := in.AddDomain(ctx, o.Domain, ""); err != nil {
			return err
		}
	}
	// The configuration goes last: its presence marks a finished data directory.
	if err := os.WriteFile(filepath.Join(o.Dir, config.DefaultFile), config.Render(cfg), 0o640); err != nil {
		return fmt.Errorf("write configuration: %w", err)
	}
	return nil
}

// Migration is one applied schema migration.
type Migration struct {
	Component string
	Version   int
}

// Migrate brings the database of the data directory dir up to the schema this binary
// knows and returns every migration applied so far. Opening an instance migrates too;
// this is for doing it explicitly, e.g. before starting new nodes of a PostgreSQL
// installation (concurrent runs wait for each other).
func Migrate(ctx context.Context, dir string, logger *slog.Logger) ([]Migration, error) {
	in, err := Open(ctx, dir, logger)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	rows, err := in.DB.Read().QueryContext(ctx, `SELECT component, version FROM schema_migrations ORDER BY component, version`)
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	defer rows.Close()
	var out []Migration
	for rows.Next() {
		var m Migration
		if err := rows.Scan(&m.Component, &m.Version); err != nil {
			return nil, fmt.Errorf("list migrations: %w", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	return out, nil
}
