package smtp

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-smtp"

	"mailroom/internal/directory"
	"mailroom/internal/store"
)

// role says which service a connection came in on.
type role int

const (
	roleMX         role = iota // RFC 5321 relay into our domains, port 25
	roleSubmission             // RFC 6409 message submission, ports 587 and 465
)

func (r role) String() string {
	if r == roleSubmission {
		return "submission"
	}
	return "mx"
}

// session is one client's conversation after EHLO; go-smtp makes a new one after
// STARTTLS (RFC 3207 4.2 forgets everything said before TLS).
type session struct {
	srv  *Server
	role role
	conn *smtp.Conn
	tc   *trackedConn
	log  *slog.Logger
	ip   net.IP
	addr string // addressKey(ip), what the client's limits are counted under
	tls  bool

	rdns       string // reverse DNS name of ip, looked up at the first message
	rdnsLooked bool

	user         *directory.User // authenticated user (submission only)
	rejections   int
	authFailures int

	tx *transaction // open between MAIL and the end of DATA or RSET
}

// transaction is the state of one MAIL transaction (RFC 5321 3.3).
type transaction struct {
	id     string
	from   string
	mail   *smtp.MailOptions
	rcpts  []rcpt
	sendAs map[string]bool // submission: addresses the user may send as, lower case
}

// rcpt is one accepted recipient.
type rcpt struct {
	dsn   Recipient
	users []directory.User // mailboxes it resolves to; none for a remote recipient
}

func (s *Server) newSession(c *smtp.Conn, r role) (smtp.Session, error) {
	tc, err := tracked(c.Conn())
	if err != nil {
		return nil, err
	}
	if s.isDraining() {
		tc.closeAfterWrite.Store(true)
		return nil, errShuttingDown()
	}
	_, isTLS := c.TLSConnectionState()
	remote := c.Conn().RemoteAddr()
	ip := remoteIP(remote)
	return &session{
		srv:  s,
		role: r,
		conn: c,
		tc:   tc,
		ip:   ip,
		addr: addressKey(ip),
		tls:  isTLS,
		log:  s.log.With("role", r.String(), "remote", remote.String(), "helo", c.Hostname(), "tls", isTLS),
	}, nil
}

func remoteIP(a net.Addr) net.IP {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.IP
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return nil
	}
	return net.ParseIP(host)
}

func (s *session) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), opTimeout)
}

// reject counts a refused command and, past the limit, turns the reply into a 421 that
// ends the connection, so a client probing addresses or passwords cannot go on.
func (s *session) reject(e *smtp.SMTPError) error {
	s.rejections++
	if s.rejections >= maxRejections {
		s.log.Warn("closing connection after too many refused commands", "last", e.Message)
		return s.closing(errTooManyErrors())
	}
	return e
}

// closing returns e, a 421 reply, after which the connection is closed.
func (s *session) closing(e *smtp.SMTPError) error {
	s.tc.closeAfterWrite.Store(true)
	return e
}

// Reset implements smtp.Session: RSET, a new EHLO, or the end of DATA.
func (s *session) Reset() {
	s.tx = nil
	s.tc.busy.Store(false)
	if s.srv.isDraining() {
		s.tc.Close()
	}
}

// Logout implements smtp.Session.
func (s *session) Logout() error {
	s.tx = nil
	s.tc.busy.Store(false)
	return nil
}

// Mail implements smtp.Session (RFC 5321 4.1.1.2).
func (s *session) Mail(from string, opts *smtp.MailOptions) error {
	if s.srv.isDraining() {
		return s.closing(errShuttingDown())
	}
	if s.tx != nil {
		// RFC 5321 4.1.4. go-smtp would let MAIL start over while keeping the
		// recipients it counted, so a second MAIL needs RSET first.
		return reply(503, 5, 5, 1, "Nested MAIL command")
	}
	tx := &transaction{id: rand.Text(), from: from, mail: opts}
	if s.role == roleSubmission {
		if s.user == nil {
			return s.reject(errAuthRequired())
		}
		ctx, cancel := s.ctx()
		defer cancel()
		sendAs, err := s.sendableAddresses(ctx)
		if err != nil {
			return err
		}
		if !sendAs[strings.ToLower(from)] {
			s.log.Info("sender refused", "from", from)
			return s.reject(reply(550, 5, 7, 1, "<%s> is not an address %s may send as", from, s.user.Address))
		}
		tx.sendAs = sendAs
		// Each transaction takes a token at MAIL, whatever becomes of it, so that
		// parallel connections cannot all start one before any is counted.
		if ok, wait := s.srv.rate.take(strconv.FormatInt(s.user.ID, 10)); !ok {
			s.log.Warn("sending rate exceeded", "limit", s.srv.cfg.MessagesPerMinute, "retry_in", wait.Round(time.Second))
			return errRateExceeded()
		}
	}
	s.tx = tx
	s.tc.busy.Store(true)
	return nil
}

// Rcpt implements smtp.Session (RFC 5321 4.1.1.3). Addresses in our domains must
// exist; others are relayed only for an authenticated submission.
func (s *session) Rcpt(to string, opts *smtp.RcptOptions) error {
	if s.tx == nil {
		return reply(503, 5, 5, 1, "MAIL first")
	}
	ctx, cancel := s.ctx()
	defer cancel()
	r := rcpt{dsn: Recipient{Addr: to}}
	for _, n := range opts.Notify {
		r.dsn.Notify = append(r.dsn.Notify, string(n))
	}
	if opts.OriginalRecipient != "" {
		r.dsn.ORcpt = string(opts.OriginalRecipientType) + ";" + opts.OriginalRecipient
	}
	res, err := s.srv.cfg.Directory.ResolveRecipient(ctx, to)
	switch {
	case err == nil:
		if len(res.Users) == 0 {
			return s.reject(reply(550, 5, 1, 1, "<%s>: no such user", to))
		}
		if e := s.checkQuota(ctx, to, res.Users); e != nil {
			return e
		}
		r.users = res.Users
	case errors.Is(err, directory.ErrUnknownDomain):
		// Checked before ErrNotFound, which an unknown domain also matches.
		if s.role == roleMX || s.srv.cfg.Outbound == nil {
			s.log.Info("relaying denied", "from", s.tx.from, "to", to)
			return s.reject(errRelayDenied())
		}
	case errors.Is(err, directory.ErrNotFound):
		s.log.Info("no such user", "to", to)
		return s.reject(reply(550, 5, 1, 1, "<%s>: no such user", to))
	case errors.Is(err, directory.ErrInvalid):
		return s.reject(reply(553, 5, 1, 3, "<%s>: bad destination mailbox address syntax", to))
	default:
		s.log.Error("resolve recipient", "to", to, "err", err)
		return errTemporary()
	}
	s.tx.rcpts = append(s.tx.rcpts, r)
	return nil
}

// checkQuota refuses a recipient whose mailbox is already full, or would be by the size
// the client announced (RFC 1870 6.1), with a temporary reply: space may be freed
// before the sender gives up.
func (s *session) checkQuota(ctx context.Context, to string, users []directory.User) error {
	for _, u := range users {
		a, err := s.srv.cfg.Mailboxes.Account(ctx, store.AccountID(u.ID))
		if errors.Is(err, store.ErrNotFound) {
			continue // no account yet: Deliver decides
		}
		if err != nil {
			s.log.Error("read account", "account", u.ID, "err", err)
			return errTemporary()
		}
		if a.QuotaBytes > 0 && a.UsedBytes+s.tx.mail.Size >= a.QuotaBytes {
			s.log.Info("mailbox full", "to", to, "mailbox", u.Address)
			return errMailboxFull(to)
		}
	}
	return nil
}

// Data implements smtp.Session: it reads the message and acknowledges it only once every
// copy is durable (RFC 5321 4.1.1.4, 6.1).
func (s *session) Data(r io.Reader) error {
	// With BDAT go-smtp runs Data in a goroutine of its own while it goes on reading
	// commands, and an RSET there ends the transaction under this read; so the read
	// uses only what it took beforehand.
	tx, log := s.tx, s.log
	if tx == nil || len(tx.rcpts) == 0 {
		return reply(503, 5, 5, 1, "No valid recipients")
	}
	in, err := readMessage(idleReader{r: r, conn: s.conn.Conn(), timeout: s.srv.cfg.ReadTimeout})
	if err != nil {
		var se *smtp.SMTPError
		if errors.As(err, &se) {
			return se // the size limit, enforced while reading
		}
		if errors.Is(err, smtp.ErrTooLongLine) {
			return reply(554, 5, 6, 0, "Message has a line longer than %d octets (RFC 5321 4.5.3.1.6)", maxLineLength)
		}
		log.Info("message not received", "id", tx.id, "err", err)
		return errTemporary()
	}
	ctx, cancel := s.ctx()
	defer cancel()
	return s.deliver(ctx, in)
}

// idleReader refreshes the read deadline before each read, so a message may take as
// long as it needs while no single wait exceeds the timeout (RFC 5321 4.5.3.2.5).
type idleReader struct {
	r       io.Reader
	conn    net.Conn
	timeout time.Duration
}

func (r idleReader) Read(p []byte) (int, error) {
	if err := r.conn.SetReadDeadline(time.Now().Add(r.timeout)); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}
