// Package queue is Mailroom's durable outbound mail queue: it keeps each message for
// remote recipients until the recipients' mail exchangers accept or refuse it, retries
// with backoff, and reports the outcome to the sender as RFC 3464 delivery status
// notifications.
//
// It must never report a message accepted before its bytes and its rows are on disk,
// never hold a database transaction open during an SMTP conversation, and never send a
// notification about a message whose envelope sender is empty (a bounce is not
// bounced). Delivery is at least once: a recipient whose acceptance by the remote server
// was not yet recorded when the process died is tried again after its lease expires.
package queue

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"mailroom/internal/blob"
	"mailroom/internal/db"
)

//go:embed migrations/*/*.sql
var migrationFiles embed.FS

// Errors callers can match with errors.Is.
var (
	ErrNotFound = errors.New("queue entry not found")
	ErrInvalid  = errors.New("invalid message for the queue")
)

// Notify is one value of the RCPT NOTIFY parameter (RFC 3461 section 4.1).
type Notify string

// NOTIFY values.
const (
	NotifyNever   Notify = "NEVER"
	NotifySuccess Notify = "SUCCESS"
	NotifyFailure Notify = "FAILURE"
	NotifyDelay   Notify = "DELAY"
)

// Ret is the MAIL RET parameter (RFC 3461 section 4.3): how much of the message a
// notification returns.
type Ret string

// RET values; the empty Ret lets the queue choose (the whole message for a failure,
// the header otherwise).
const (
	RetFull    Ret = "FULL"
	RetHeaders Ret = "HDRS"
)

// RcptDSN holds the RFC 3461 parameters one recipient was given.
type RcptDSN struct {
	// Notify is empty (the default: failure and delay), NEVER alone, or any of
	// SUCCESS, FAILURE, DELAY (RFC 3461 section 4.1).
	Notify []Notify
	// ORcpt is the original recipient as "addr-type;address", e.g.
	// "rfc822;user@example.org", xtext already decoded (RFC 3461 section 4.2).
	ORcpt string
}

// Message is what Enqueue accepts.
type Message struct {
	From  string   // envelope sender; "" for a notification, which is never answered by one
	To    []string // envelope recipients, all remote
	Raw   []byte   // the message, CRLF line endings
	Ret   Ret
	EnvID string             // RFC 3461 ENVID
	DSN   map[string]RcptDSN // per recipient, keyed as in To; absent means defaults
}

// Deliverer takes a delivery status notification the queue wrote; Mailroom routes it
// to a local mailbox or back into a queue.
type Deliverer interface {
	Deliver(ctx context.Context, from string, to []string, raw []byte) error
}

// Resolver looks up mail exchangers and addresses; a *net.Resolver satisfies it.
type Resolver interface {
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// Dialer opens connections to mail exchangers; a *net.Dialer satisfies it.
type Dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// Config tunes a Queue. Zero fields take the defaults documented on each.
type Config struct {
	Hostname      string        // our name in EHLO and in notifications; default os.Hostname
	Port          int           // remote SMTP port; default 25
	MaxConcurrent int           // deliveries at once, all domains; default 16
	MaxPerDomain  int           // deliveries at once to one domain; default 4
	RetryFor      time.Duration // give up this long after enqueueing; default 5 days
	DelayNotice   time.Duration // send a delay notification after this long; default 4 hours
	BackoffBase   time.Duration // first wait after a temporary failure; default 5 minutes
	BackoffMax    time.Duration // longest wait between attempts; default 4 hours
	// Timeout bounds one SMTP conversation; a recipient's lease lasts Timeout plus as
	// much again, at most five minutes more. Default 10 minutes.
	Timeout time.Duration
	// PollInterval is the longest the worker sleeps, so that work added by another
	// process (an admin command) is seen. Default 1 minute.
	PollInterval time.Duration
	Resolver     Resolver // default net.DefaultResolver
	Dialer       Dialer   // default a net.Dialer with a 30 s timeout
	// TLS is the client configuration for STARTTLS. The default verifies nothing:
	// STARTTLS to MX hosts is opportunistic (RFC 7435), encrypting against passive
	// eavesdroppers only. ServerName is set to the MX host name.
	TLS    *tls.Config
	Logger *slog.Logger     // default discards
	Now    func() time.Time // default time.Now
	// Node names this worker in leases; default the host name and a random suffix, so
	// that two Queues over one database never take each other's leases for their own.
	Node string
}

// Queue is the outbound queue over one database and one blob area of its own.
type Queue struct {
	db     *db.DB
	blobs  blob.Area
	notify Deliverer
	cfg    Config
	log    *slog.Logger
	wake   chan struct{}
}

// New opens the queue, applying its migrations. blobs must be an area only the queue
// uses (a blob.Dir beside SQLite, a blob.Table named "queue" in PostgreSQL): the queue
// removes a blob when its last queued message is done. notify receives the delivery
// status notifications.
func New(ctx context.Context, d *db.DB, blobs blob.Area, notify Deliverer, cfg Config) (*Queue, error) {
	if d == nil || blobs == nil || notify == nil {
		return nil, errors.New("queue: database, blob area and notification deliverer are required")
	}
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("queue migrations: %w", err)
	}
	if err := d.Migrate(ctx, "queue", sub); err != nil {
		return nil, err
	}
	if cfg.Hostname == "" {
		if cfg.Hostname, err = os.Hostname(); err != nil {
			return nil, fmt.Errorf("queue: host name: %w", err)
		}
	}
	defaults(&cfg)
	if cfg.Node == "" {
		var b [4]byte
		_, _ = rand.Read(b[:])
		cfg.Node = cfg.Hostname + "-" + hex.EncodeToString(b[:])
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Queue{db: d, blobs: blobs, notify: notify, cfg: cfg, log: log, wake: make(chan struct{}, 1)}, nil
}

func defaults(c *Config) {
	setDefault := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if c.Port == 0 {
		c.Port = 25
	}
	if c.MaxConcurrent <= 0 {
		c.MaxConcurrent = 16
	}
	if c.MaxPerDomain <= 0 {
		c.MaxPerDomain = 4
	}
	setDefault(&c.RetryFor, 5*24*time.Hour)
	setDefault(&c.DelayNotice, 4*time.Hour)
	setDefault(&c.BackoffBase, 5*time.Minute)
	setDefault(&c.BackoffMax, 4*time.Hour)
	setDefault(&c.Timeout, 10*time.Minute)
	setDefault(&c.PollInterval, time.Minute)
	if c.Resolver == nil {
		c.Resolver = net.DefaultResolver
	}
	if c.Dialer == nil {
		c.Dialer = &net.Dialer{Timeout: 30 * time.Second}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

func (q *Queue) now() time.Time { return q.cfg.Now() }

// lease is how long a claimed recipient stays ours: one conversation and some slack.
func (q *Queue) lease() time.Duration { return q.cfg.Timeout + min(q.cfg.Timeout, 5*time.Minute) }

// Enqueue makes the message durable in the queue and returns its id: when it returns
// nil the blob is fsynced and the rows are committed, so the SMTP server may answer 250.
// The worker of this process is woken at once.
func (q *Queue) Enqueue(ctx context.Context, m Message) (int64, error) {
	rcpts, err := validate(m)
	if err != nil {
		return 0, err
	}
	// The bytes are fsynced outside the write lock. A crash before the commit leaves
	// an unreferenced file behind: harmless, and removed when a later message with the
	// same bytes is done.
	id, err := q.blobs.Put(ctx, m.Raw)
	if err != nil {
		return 0, fmt.Errorf("queue message: %w", err)
	}
	var msgID int64
	err = q.db.WriteTx(ctx, func(tx *sql.Tx) error {
		var err error
		msgID, err = insertMessage(ctx, tx, m, rcpts, id, micros(q.now()))
		if err != nil {
			return err
		}
		// Under the write lock (SQLite) or holding the blob row (PostgreSQL): a concurrent
		// removal of the last message with the same bytes may have taken the blob Put
		// found; write it again if so.
		return q.blobs.Ensure(ctx, tx, id, m.Raw)
	})
	if err != nil {
		return 0, fmt.Errorf("queue message: %w", err)
	}
	q.Wake()
	return msgID, nil
}

// Wake tells this process's worker to look for due work now.
func (q *Queue) Wake() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// newRcpt is a recipient as Enqueue stores it.
type newRcpt struct {
	addr, domain, notify, orcpt string
}

func validate(m Message) ([]newRcpt, error) {
	if len(m.Raw) == 0 {
		return nil, fmt.Errorf("%w: the message is empty", ErrInvalid)
	}
	if len(m.To) == 0 {
		return nil, fmt.Errorf("%w: no recipients", ErrInvalid)
	}
	if m.From != "" {
		if _, err := domainOf(m.From); err != nil {
			return nil, err
		}
	}
	switch m.Ret {
	case "", RetFull, RetHeaders:
	default:
		return nil, fmt.Errorf("%w: RET=%s", ErrInvalid, m.Ret)
	}
	if !printableASCII(m.EnvID) {
		return nil, fmt.Errorf("%w: ENVID must be printable ASCII", ErrInvalid)
	}
	out := make([]newRcpt, 0, len(m.To))
	for _, to := range m.To {
		dom, err := domainOf(to)
		if err != nil {
			return nil, err
		}
		p := m.DSN[to]
		notify, err := notifyString(p.Notify)
		if err != nil {
			return nil, err
		}
		if p.ORcpt != "" {
			if typ, addr, ok := strings.Cut(p.ORcpt, ";"); !ok || typ == "" || addr == "" || strings.ContainsAny(p.ORcpt, "\r\n") {
				return nil, fmt.Errorf("%w: ORCPT %q is not addr-type;address", ErrInvalid, p.ORcpt)
			}
		}
		out = append(out, newRcpt{addr: to, domain: dom, notify: notify, orcpt: p.ORcpt})
	}
	return out, nil
}

// domainOf returns the lower-cased domain of an address, refusing what cannot go into
// an SMTP command.
func domainOf(addr string) (string, error) {
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 || strings.ContainsAny(addr, "\r\n <>") {
		return "", fmt.Errorf("%w: address %q", ErrInvalid, addr)
	}
	return strings.ToLower(addr[at+1:]), nil
}

// notifyString checks a NOTIFY set (RFC 3461 section 4.1: NEVER stands alone) and
// returns it comma-separated.
func notifyString(n []Notify) (string, error) {
	seen := map[Notify]bool{}
	for _, v := range n {
		switch v {
		case NotifyNever, NotifySuccess, NotifyFailure, NotifyDelay:
		default:
			return "", fmt.Errorf("%w: NOTIFY=%s", ErrInvalid, v)
		}
		seen[v] = true
	}
	if seen[NotifyNever] && len(seen) > 1 {
		return "", fmt.Errorf("%w: NOTIFY=NEVER cannot be combined", ErrInvalid)
	}
	parts := make([]string, 0, len(seen))
	for _, v := range []Notify{NotifyNever, NotifySuccess, NotifyFailure, NotifyDelay} {
		if seen[v] {
			parts = append(parts, string(v))
		}
	}
	return strings.Join(parts, ","), nil
}

// wants reports whether a recipient's NOTIFY asks for a notification of kind k; an
// absent NOTIFY means FAILURE,DELAY (RFC 3461 section 4.1 leaves the default to the
// MTA; this is the common choice).
func wants(notify string, k Notify) bool {
	if notify == "" {
		return k == NotifyFailure || k == NotifyDelay
	}
	for _, v := range strings.Split(notify, ",") {
		if Notify(v) == k {
			return true
		}
	}
	return false
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us)
}
