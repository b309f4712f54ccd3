package imap

import (
	"compress/flate"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"time"

	"mailroom/internal/directory"
	"mailroom/internal/imap/imapwire"
	"mailroom/internal/store"
)

// state is a session's state (RFC 9051 section 3). The logout state has no value of
// its own: the session ends with it.
type state int

const (
	stateNotAuthenticated state = iota
	stateAuthenticated
	stateSelected
)

// session is one client connection.
type session struct {
	srv         *Server
	raw         net.Conn // the TCP connection, for deadlines and closing
	conn        net.Conn // raw, or the TLS connection over it
	implicitTLS bool
	log         *slog.Logger

	// r and w take their buffers from the server's pools and give them back while
	// the session waits for its client (park), so that an idle connection holds
	// neither. r reads from the connection or, once COMPRESS is active, from the
	// inflater; w writes to the connection or to fw.
	fw *flate.Writer // the deflater of COMPRESS (RFC 4978), nil before
	r  *imapwire.Reader
	w  *imapwire.Writer

	tls         bool
	state       state
	failures    int // failed logins
	badCommands int // malformed, unknown and refused commands

	user    directory.User
	account store.AccountID // the user's own mailbox, once authenticated

	// Extensions the client enabled (RFC 5161).
	rev2      bool // IMAP4rev2 (RFC 9051 appendix E)
	utf8      bool // IMAP4rev2 or UTF8=ACCEPT: mailbox names in UTF-8
	condstore bool // CONDSTORE (RFC 7162 section 3.1), also set by its first use
	qresync   bool // QRESYNC (RFC 7162 section 3.2)

	sel *selection // the selected mailbox, nil unless stateSelected

	// mu guards closing and orders the read deadlines the session sets against the
	// one interrupt sets, so that Shutdown's wake-up cannot be overwritten.
	mu      sync.Mutex
	closing bool
	parked  parkState // IDLE's wait without a goroutine (park.go)

	push   pushState // IDLE's pushes from the server's idle hub (idle.go)
	opened time.Time
}

// selection is the state of the selected mailbox.
type selection struct {
	mbox     mailbox
	view     *view
	readOnly bool
	// saved is the SEARCHRES result, "$" (RFC 5182); nil when none.
	saved []store.UID
	// reported holds, per UID, the ModSeq whose flags the client has just been sent
	// in answer to STORE or FETCH, so that the change is not sent twice; nil between
	// commands.
	reported map[store.UID]store.ModSeq
}

func newSession(s *Server, conn net.Conn, implicitTLS bool) *session {
	return &session{
		srv:         s,
		raw:         conn,
		conn:        conn,
		implicitTLS: implicitTLS,
		log: s.log.With("session", s.nextID.Add(1), "remote", conn.RemoteAddr().String(),
			"implicit_tls", implicitTLS),
	}
}

// deadlineWriter gives every write to the client the idle timeout to complete, so a
// client that stops reading cannot hold a session forever.
type deadlineWriter struct{ c *session }

func (d deadlineWriter) Write(p []byte) (int, error) {
	if err := d.c.raw.SetWriteDeadline(time.Now().Add(d.c.srv.cfg.IdleTimeout)); err != nil {
		return 0, err
	}
	return d.c.conn.Write(p)
}

// serve runs the session until the client logs out, times out or misbehaves, or the
// server shuts down.
func (c *session) serve(ctx context.Context) {
	c.opened = time.Now()
	c.log.Info("connection opened")
	c.run(func() (string, bool) {
		if c.implicitTLS {
			if err := c.handshake(ctx); err != nil {
				return "TLS handshake failed: " + err.Error(), true
			}
		}
		c.w = imapwire.NewPooledWriter(deadlineWriter{c}, &c.srv.writeBufs)
		c.r = imapwire.NewPooledReader(connReader{c}, &c.srv.readBufs, imapwire.Options{
			MaxAppendLiteral: c.srv.cfg.AppendLimit,
			Continue:         c.continueLiteral,
		})
		// RFC 9051 section 7.1.1: the greeting may carry the capabilities.
		c.w.StatusResponse("", imapwire.OK, imapwire.CodeCapability(c.capabilities()),
			c.srv.cfg.Hostname+" Mailroom IMAP server ready")
		return c.loop(ctx)
	})
}

// run runs the session on the current goroutine until step returns: then, unless
// step says the session parked (end false, park.go), the connection closes.
func (c *session) run(step func() (reason string, end bool)) {
	reason, end := "", true
	defer func() {
		// A bug in one session must not take the server down: log it and say BYE.
		if e := recover(); e != nil {
			c.log.Error("panic in session", "panic", e, "stack", string(debug.Stack()))
			if c.w != nil {
				c.w.StatusResponse("", imapwire.BYE, codeServerBug, "internal server error, closing connection")
				c.flush()
			}
			reason, end = "panic", true
		}
		if !end {
			return
		}
		c.raw.Close()
		c.stopIdle() // after a panic in IDLE
		if c.parked.detached {
			c.srv.parking.leave(c)
		}
		c.log.Info("connection closed", "reason", reason, "duration", time.Since(c.opened).Round(time.Millisecond))
	}()
	reason, end = step()
}

// literalRefused is the error continueLiteral returns for a synchronising literal
// the server will not read; the client, waiting for "+", gets the tagged reply.
type literalRefused struct {
	tag string
	r   *reply
}

func (e *literalRefused) Error() string { return e.r.Error() }

// continueLiteral asks for a synchronising literal (RFC 9051 section 7.5), unless the
// command cannot be valid in the session's state: a client that has not logged in
// cannot make the server read megabytes of APPEND.
func (c *session) continueLiteral(li imapwire.LiteralInfo) error {
	if c.state == stateNotAuthenticated && li.Command != "LOGIN" && li.Command != "ID" {
		return &literalRefused{tag: li.Tag, r: bad("%s is not valid before logging in", li.Command)}
	}
	c.w.Continue("Ready")
	return c.flush()
}

// loop reads and runs commands; it returns why the session ended, or end false when
// the session parked in IDLE and the goroutine must leave it alone.
func (c *session) loop(ctx context.Context) (reason string, end bool) {
	for {
		if err := c.flush(); err != nil {
			return err.Error(), true
		}
		if !c.arm(c.srv.cfg.IdleTimeout) {
			c.bye("server shutting down")
			return "server shutting down", true
		}
		c.park()
		cmd, err := c.r.ReadCommand()
		if err != nil {
			if reason, end := c.readFailed(err); end {
				return reason, true
			}
			continue
		}
		err = c.execute(ctx, cmd)
		if errors.Is(err, errDetached) {
			return "", false
		}
		if reason, end := c.ended(err); end {
			return reason, true
		}
	}
}

// ended says whether the session ends after a command that returned err, and why.
func (c *session) ended(err error) (reason string, end bool) {
	var r *reply
	switch {
	case err == nil:
	case errors.Is(err, errLogout):
		c.flush()
		return "client logged out", true
	case errors.Is(err, errInterrupted):
		return "server shutting down", true
	case errors.As(err, &r):
		if r.bye {
			c.flush()
			return r.text, true
		}
	default:
		return err.Error(), true
	}
	return "", false
}

// readFailed answers a command that could not be read, and says whether the session
// ends.
func (c *session) readFailed(err error) (reason string, end bool) {
	var se *imapwire.SyntaxError
	var le *imapwire.LimitError
	var lr *literalRefused
	switch {
	case errors.As(err, &se):
		return c.tagged(se.Tag, bad("%s", se.Message))
	case errors.As(err, &le):
		r := &reply{cond: imapwire.BAD, code: codeTooBig, bad: true,
			text: fmt.Sprintf("%s too long: the limit is %d octets", le.What, le.Limit)}
		if le.Command == "APPEND" && le.What == "literal" {
			// RFC 7889 section 3: a message over APPENDLIMIT is refused with TOOBIG.
			r.cond, r.bad = imapwire.NO, false
			r.text = fmt.Sprintf("message too large: the limit is %d octets", le.Limit)
		}
		if !le.Recoverable {
			c.tagged(le.Tag, r)
			c.bye("input too long, closing connection")
			return "input over the limits", true
		}
		return c.tagged(le.Tag, r)
	case errors.As(err, &lr):
		return c.tagged(lr.tag, lr.r)
	case errors.Is(err, io.EOF):
		return "client closed the connection", true
	case isTimeout(err):
		if c.isClosing() {
			c.bye("server shutting down")
			return "server shutting down", true
		}
		// RFC 9051 section 5.4: the autologout timer.
		c.bye("idle for too long, closing connection")
		return "idle timeout", true
	}
	return err.Error(), true
}

// tagged writes a reply for a command that was never run; it counts bad commands.
func (c *session) tagged(tag string, r *reply) (string, bool) {
	if r.bad {
		c.badCommands++
	}
	c.w.StatusResponse(tag, r.cond, r.code, r.text)
	if c.badCommands >= maxBadCommands {
		c.bye("too many bad commands, closing connection")
		return "too many bad commands", true
	}
	return "", false
}

// bye sends an untagged BYE before the connection closes (RFC 9051 section 7.1.5);
// a failure does not matter.
func (c *session) bye(text string) {
	c.w.StatusResponse("", imapwire.BYE, nil, text)
	c.flush()
}

// execute runs one command in the state it needs (RFC 9051 section 6), brings the
// client up to date with the selected mailbox, and writes the tagged response.
func (c *session) execute(ctx context.Context, cmd *imapwire.Command) error {
	err := c.checkState(cmd.Name)
	if err == nil {
		err = c.dispatch(ctx, cmd)
	}
	return c.respond(ctx, cmd, err)
}

// respond writes the tagged response to cmd, whose handler returned err, after the
// update of the selected mailbox.
func (c *session) respond(ctx context.Context, cmd *imapwire.Command, err error) error {
	name := cmd.Name
	if cmd.UID {
		name = "UID " + name
	}
	var r *reply
	switch {
	case err == nil:
		r = &reply{cond: imapwire.OK, text: name + " completed"}
	case errors.As(err, &r):
	case errors.Is(err, errAnswered):
		return nil
	case errors.Is(err, errLogout), errors.Is(err, errInterrupted), errors.Is(err, errDetached):
		return err
	default:
		// A failure writing to the client or one the handler did not expect.
		var ne net.Error
		if errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
			return err
		}
		r = noErr(err, codeServerBug, "%s failed because of an internal error", name)
	}
	if r.err != nil {
		c.log.Warn("command failed", "command", name, "err", r.err)
	}
	if r.cond == imapwire.BYE {
		// The command ends the session: BYE is never tagged (RFC 9051 section 7.1.5).
		c.bye(r.text)
		r.bye = true
		return r
	}
	if r.bad {
		c.badCommands++
	}
	if c.sel != nil && r.cond != imapwire.BAD {
		if err := c.syncSelected(ctx, allowExpunge(cmd)); err != nil {
			c.log.Warn("cannot update the selected mailbox", "err", err)
		}
	}
	code := r.code
	if r.cond == imapwire.OK && code == nil && (cmd.Name == "LOGIN" || cmd.Name == "AUTHENTICATE") {
		// RFC 9051 section 6.2.3: the capabilities change once logged in.
		code = imapwire.CodeCapability(c.capabilities())
	}
	c.w.StatusResponse(cmd.Tag, r.cond, code, r.text)
	if c.badCommands >= maxBadCommands && !r.bye {
		c.bye("too many bad commands, closing connection")
		return &reply{cond: imapwire.BYE, text: "too many bad commands", bye: true}
	}
	if r.bye {
		c.bye(r.text)
	}
	return r
}

// allowExpunge says whether the answer to cmd may carry EXPUNGE: not FETCH, STORE or
// SEARCH by sequence number, whose numbers would shift under the client (RFC 9051
// section 7.5.1); SORT and THREAD are searches too.
func allowExpunge(cmd *imapwire.Command) bool {
	switch cmd.Name {
	case "FETCH", "STORE", "SEARCH", "SORT", "THREAD":
		return cmd.UID
	}
	return true
}

// checkState refuses a command the session's state does not allow (RFC 9051
// section 3) with BAD.
func (c *session) checkState(name string) error {
	switch name {
	case "CAPABILITY", "NOOP", "LOGOUT", "ID":
		return nil
	case "STARTTLS", "LOGIN", "AUTHENTICATE":
		if c.state != stateNotAuthenticated {
			return bad("%s is only valid before logging in", name)
		}
		return nil
	case "ENABLE":
		// RFC 5161 section 3.1: only in the authenticated state.
		if c.state != stateAuthenticated {
			return bad("ENABLE is only valid after logging in and before selecting a mailbox")
		}
		return nil
	case "CHECK", "CLOSE", "UNSELECT", "EXPUNGE", "SEARCH", "FETCH", "STORE", "COPY", "MOVE", "SORT", "THREAD":
		if c.state != stateSelected {
			return bad("%s is only valid with a mailbox selected", name)
		}
		return nil
	}
	if c.state == stateNotAuthenticated {
		return bad("%s is only valid after logging in", name)
	}
	return nil
}

// dispatch runs the handler of cmd.
func (c *session) dispatch(ctx context.Context, cmd *imapwire.Command) error {
	switch a := cmd.Args.(type) {
	case nil:
		switch cmd.Name {
		case "CAPABILITY":
			c.w.Capability(c.capabilities())
			return nil
		case "NOOP", "CHECK":
			// CHECK is a NOOP here: every write is durable when it returns (RFC 3501
			// section 6.4.1); the update of the selected mailbox follows any command.
			return nil
		case "LOGOUT":
			c.w.StatusResponse("", imapwire.BYE, nil, "logging out")
			c.w.StatusResponse(cmd.Tag, imapwire.OK, nil, "LOGOUT completed")
			return errLogout
		case "STARTTLS":
			return c.cmdStartTLS(ctx, cmd)
		case "NAMESPACE":
			return c.cmdNamespace(ctx)
		case "UNSELECT":
			c.deselect()
			return nil
		case "CLOSE":
			return c.cmdClose(ctx)
		case "EXPUNGE":
			return c.cmdExpunge(ctx, nil)
		case "IDLE":
			return c.cmdIdle(ctx, cmd)
		}
	case *imapwire.Login:
		return c.cmdLogin(ctx, a)
	case *imapwire.Authenticate:
		return c.cmdAuthenticate(ctx, a)
	case *imapwire.ID:
		return c.cmdID(a)
	case *imapwire.Enable:
		return c.cmdEnable(a)
	case *imapwire.Compress:
		return c.cmdCompress(cmd, a)
	case *imapwire.Select:
		return c.cmdSelect(ctx, a)
	case *imapwire.Create:
		return c.cmdCreate(ctx, a)
	case *imapwire.Delete:
		return c.cmdDelete(ctx, a)
	case *imapwire.Rename:
		return c.cmdRename(ctx, a)
	case *imapwire.Subscribe:
		return c.cmdSubscribe(ctx, a.Mailbox, true)
	case *imapwire.Unsubscribe:
		return c.cmdSubscribe(ctx, a.Mailbox, false)
	case *imapwire.List:
		return c.cmdList(ctx, a)
	case *imapwire.Lsub:
		return c.cmdLsub(ctx, a)
	case *imapwire.Status:
		return c.cmdStatus(ctx, a)
	case *imapwire.Append:
		return c.cmdAppend(ctx, a)
	case *imapwire.Copy:
		return c.cmdCopy(ctx, cmd.UID, a.Set, a.Mailbox, false)
	case *imapwire.Move:
		return c.cmdCopy(ctx, cmd.UID, a.Set, a.Mailbox, true)
	case *imapwire.Expunge:
		return c.cmdExpunge(ctx, &a.Set)
	case *imapwire.Fetch:
		return c.cmdFetch(ctx, cmd.UID, a)
	case *imapwire.Store:
		return c.cmdStore(ctx, cmd.UID, a)
	case *imapwire.Search:
		return c.cmdSearch(ctx, cmd.Tag, cmd.UID, a)
	case *imapwire.Sort:
		return c.cmdSort(ctx, cmd.UID, a)
	case *imapwire.Thread:
		return c.cmdThread(ctx, cmd.UID, a)
	case *imapwire.GetQuota:
		return c.cmdGetQuota(ctx, a)
	case *imapwire.GetQuotaRoot:
		return c.cmdGetQuotaRoot(ctx, a)
	case *imapwire.SetQuota:
		return no(codeNoPerm, "quotas are set by administrators")
	case *imapwire.SetACL:
		return c.cmdSetACL(ctx, a)
	case *imapwire.DeleteACL:
		return c.cmdDeleteACL(ctx, a)
	case *imapwire.GetACL:
		return c.cmdGetACL(ctx, a)
	case *imapwire.ListRights:
		return c.cmdListRights(ctx, a)
	case *imapwire.MyRights:
		return c.cmdMyRights(ctx, a)
	}
	return bad("%s is not supported", cmd.Name)
}

// flush sends what is buffered, through the deflater when COMPRESS is active, which
// then ends the burst with a sync flush so the client can read all of it at once
// (RFC 4978 section 4).
func (c *session) flush() error {
	if err := c.w.Flush(); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if c.fw != nil {
		if err := c.fw.Flush(); err != nil {
			return fmt.Errorf("write: %w", err)
		}
	}
	return nil
}

// park gives the read and write buffers back to the server's pools while the session
// waits for its client; they are taken again when the client speaks or the server has
// something to say.
func (c *session) park() {
	c.r.Release()
	c.w.Release()
}

// arm sets the connection's read deadline, unless the server is shutting down.
func (c *session) arm(d time.Duration) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return false
	}
	c.raw.SetReadDeadline(time.Now().Add(d))
	return true
}

// interrupt wakes a session waiting for a command or idling so that it says BYE; a
// session running a command finishes it first and then finds closing set.
func (c *session) interrupt() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return
	}
	c.closing = true
	c.raw.SetReadDeadline(time.Now())
	c.wakeParked()
}

func (c *session) isClosing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
