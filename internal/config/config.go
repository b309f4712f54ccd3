package config

import (
	"path/filepath"
	"time"
)

// DefaultFile is the name of the configuration file inside the data directory.
const DefaultFile = "mailroom.toml"

// Config is the whole validated configuration of one Mailroom server.
type Config struct {
	// Hostname is the fully qualified name of this server, e.g. mail.example.test.
	Hostname string
	Log      Log
	Store    Store
	TLS      TLS
	SMTP     SMTP
	// IMAP listeners: Listen offers STARTTLS, TLSListen is implicit TLS.
	IMAP Listeners
	// POP3 listeners: Listen offers STLS, TLSListen is implicit TLS.
	POP3 Listeners
	HTTP HTTP
	// DNS says which DNS server mail checks and outbound delivery ask.
	DNS DNS
	// Queue tunes outbound delivery.
	Queue Queue
	// Limits bounds how long and how much the server waits and accepts.
	Limits Limits
	// Dir is the data directory; relative paths in the file resolve against it.
	Dir string `toml:"-"`
}

// Log selects what is logged and how.
type Log struct {
	Level  string // debug, info, warn or error
	Format string // text or json
}

// Store selects the storage backend: "sqlite" (Path and Blobs in the data directory)
// or "postgres" (everything, message bodies included, in the database DSN names,
// which several nodes may share).
type Store struct {
	Backend string // "sqlite" or "postgres"
	Path    string // SQLite database file
	Blobs   string // SQLite: directory of message bodies
	DSN     string // PostgreSQL: postgres://user:password@host:port/database?sslmode=...
}

// TLS names the certificates the server presents.
type TLS struct {
	Cert, Key string // PEM files of the default certificate
	Extra     []Pair // more pairs, chosen by SNI name
}

// Pair is one certificate file and its private key file. It has the same
// shape as tlsconf.Pair so callers can convert with tlsconf.Pair(p).
type Pair struct{ Cert, Key string }

// SMTP configures the three SMTP roles and the message size limit.
type SMTP struct {
	Listen         []string // MX, from other servers; STARTTLS offered
	Submission     []string // from users; STARTTLS
	Submissions    []string // from users; implicit TLS
	MaxMessageSize Size
	// RelayPort is the port of other domains' mail exchangers that outbound delivery
	// connects to: 25 everywhere but in tests.
	RelayPort int
}

// Listeners is a protocol's plain (upgradable) and implicit-TLS listeners.
// A nil list disables that listener.
type Listeners struct {
	Listen    []string
	TLSListen []string
}

// HTTP configures the web listeners.
type HTTP struct {
	Listen    []string // plain HTTP: health checks and redirects
	TLSListen []string // ActiveSync, Autodiscover, admin API, DAV, metrics
}

// DNS selects the resolver.
type DNS struct {
	// Resolver is the host:port of a DNS server; empty means the system's resolver.
	Resolver string
}

// Queue tunes the outbound queue.
type Queue struct {
	// Timeout bounds one SMTP conversation with a remote server. A node holds a
	// recipient's lease for Timeout plus as much again (at most five minutes more); if
	// the node dies, another one retries the recipient once that lease has expired.
	Timeout time.Duration
}

// Limits bounds the server's waiting.
type Limits struct {
	ShutdownTimeout time.Duration
}

// Default returns the configuration `mailroom init` writes: unprivileged
// ports, so the server runs without root until someone chooses otherwise.
func Default(dataDir, hostname string) Config {
	return Config{
		Hostname: hostname,
		Log:      Log{Level: "info", Format: "text"},
		Store:    Store{Backend: "sqlite", Path: "mailroom.db", Blobs: "blobs"},
		TLS:      TLS{Cert: "tls/cert.pem", Key: "tls/key.pem"},
		SMTP: SMTP{
			Listen:         []string{":2525"},
			Submission:     []string{":2587"},
			Submissions:    []string{":2465"},
			MaxMessageSize: 50 * MB,
			RelayPort:      25,
		},
		IMAP:   Listeners{Listen: []string{":2143"}, TLSListen: []string{":2993"}},
		POP3:   Listeners{Listen: []string{":2110"}, TLSListen: []string{":2995"}},
		HTTP:   HTTP{Listen: []string{":8080"}, TLSListen: []string{":8443"}},
		Queue:  Queue{Timeout: 10 * time.Minute},
		Limits: Limits{ShutdownTimeout: 30 * time.Second},
		Dir:    absDir(dataDir),
	}
}

// Path resolves rel against the data directory; absolute paths stay as they are.
func (c Config) Path(rel string) string {
	if filepath.IsAbs(rel) {
		return rel
	}
	return filepath.Join(c.Dir, rel)
}

// CertPairs returns the default pair followed by the extra ones, with paths
// resolved against the data directory, in the order the TLS layer wants them.
func (c Config) CertPairs() []Pair {
	pairs := make([]Pair, 0, 1+len(c.TLS.Extra))
	pairs = append(pairs, Pair{Cert: c.Path(c.TLS.Cert), Key: c.Path(c.TLS.Key)})
	for _, p := range c.TLS.Extra {
		pairs = append(pairs, Pair{Cert: c.Path(p.Cert), Key: c.Path(p.Key)})
	}
	return pairs
}

// absDir makes dir absolute so that a Config does not change meaning when the
// process changes its working directory; if that fails, the cleaned path is
// the best there is.
func absDir(dir string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		return abs
	}
	return filepath.Clean(dir)
}
