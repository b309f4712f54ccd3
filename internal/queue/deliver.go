package queue

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"

	"github.com/emersion/go-smtp"
)

// failure is why a delivery did not succeed: a reply of the remote server, or a code
// we chose for what went wrong on our side (DNS, connection).
type failure struct {
	code   int    // SMTP reply code
	status string // enhanced status code (RFC 3463)
	text   string
	remote bool // the reply came from the remote server
}

func (f *failure) Error() string { return fmt.Sprintf("%d %s %s", f.code, f.status, f.text) }

// outcome is what one attempt decided for one recipient.
type outcome struct {
	failure
	mta string // the mail exchanger that answered, if any
	tls bool   // the conversation was under STARTTLS
	// relayDSN is set when the mail exchanger advertised DSN (RFC 3461 section 4.1): it
	// now owes the sender any success notification.
	relayDSN bool
}

// attempt tries to deliver a message to the recipients of one domain over one SMTP
// transaction, trying the domain's mail exchangers in order until one gives a verdict
// for every recipient. It returns one outcome per recipient.
func (q *Queue) attempt(ctx context.Context, m msgRow, domain string, rcpts []*rcptRow) []outcome {
	ctx, cancel := context.WithTimeout(ctx, q.cfg.Timeout)
	defer cancel()
	all := func(f failure, mta string) []outcome {
		out := make([]outcome, len(rcpts))
		for i := range out {
			out[i] = outcome{failure: f, mta: mta}
		}
		return out
	}
	body, err := q.blobs.Open(ctx, m.blob)
	if err != nil {
		return all(failure{code: 451, status: "4.3.0", text: fmt.Sprintf("read queued message: %v", err)}, "")
	}
	defer body.Close()

	rt, f := q.resolveRoute(ctx, domain)
	if f != nil {
		return all(*f, "")
	}
	last, lastHost := &failure{code: 451, status: "4.4.1", text: "no mail exchanger could be reached"}, ""
	for _, host := range rt.hosts {
		ips, err := q.addresses(ctx, host)
		if err != nil {
			if rt.implicit && isNotFound(err) {
				return all(failure{code: 550, status: "5.1.2", text: fmt.Sprintf("domain %s has no mail exchanger and no address", domain)}, "")
			}
			last, lastHost = &failure{code: 451, status: "4.4.3", text: err.Error()}, host
			continue
		}
		for _, ip := range ips {
			if _, err := body.Seek(0, io.SeekStart); err != nil {
				return all(failure{code: 451, status: "4.3.0", text: fmt.Sprintf("read queued message: %v", err)}, "")
			}
			out, f := q.session(ctx, host, ip, m, rcpts, body)
			if f == nil {
				return out
			}
			q.log.Info("queue: mail exchanger failed", "message", m.id, "host", host, "ip", ip.String(), "error", f.Error())
			last, lastHost = f, host
			if ctx.Err() != nil {
				return all(*last, lastHost)
			}
		}
	}
	return all(*last, lastHost)
}

// session runs one SMTP conversation with one address of a mail exchanger. It returns
// the outcomes once the server has judged every recipient, or a failure when the next
// mail exchanger should be tried (no connection, refused greeting, temporary refusal
// of MAIL, a connection lost mid-way).
func (q *Queue) session(ctx context.Context, host string, ip net.IP, m msgRow, rcpts []*rcptRow, body io.Reader) ([]outcome, *failure) {
	c, tlsOn, stop, err := q.connect(ctx, host, ip, true)
	var tlsErr *tlsFailure
	if errors.As(err, &tlsErr) {
		// Opportunistic TLS (RFC 7435 section 3) falls back to cleartext rather than
		// not delivering at all.
		q.log.Warn("queue: STARTTLS failed, retrying in cleartext", "host", host, "error", tlsErr.err)
		c, tlsOn, stop, err = q.connect(ctx, host, ip, false)
	}
	if err != nil {
		return nil, asFailure(err, "4.4.1")
	}
	defer stop()
	defer c.Close()
	now := micros(q.now())
	if known, did := q.hostTLS(ctx, host); known && did && !tlsOn {
		q.log.Warn("queue: host did STARTTLS before but not now", "host", host)
	}
	if err := q.rememberHost(ctx, host, tlsOn, now); err != nil {
		q.log.Error("queue: remember host", "error", err)
	}

	relayDSN, _ := c.Extension("DSN")
	res := func(f failure) outcome { return outcome{failure: f, mta: host, tls: tlsOn, relayDSN: relayDSN} }
	out := make([]outcome, len(rcpts))
	allFinal := func(f failure) []outcome {
		for i := range out {
			out[i] = res(f)
		}
		_ = c.Quit()
		return out
	}

	utf8 := !isASCII(m.sender)
	for _, r := range rcpts {
		utf8 = utf8 || !isASCII(r.addr)
	}
	if ok, _ := c.Extension("SMTPUTF8"); utf8 && !ok {
		// The addresses cannot be expressed without SMTPUTF8 (RFC 6531 section 3.2).
		return allFinal(failure{code: 553, status: "5.6.7", text: "the server does not support SMTPUTF8, which the addresses need"}), nil
	}
	if max, ok := c.MaxMessageSize(); ok && max > 0 && m.size > int64(max) {
		// RFC 1870 section 6.1: the message exceeds the fixed size limit.
		return allFinal(failure{code: 552, status: "5.3.4", text: fmt.Sprintf("message of %d bytes exceeds the server's limit of %d", m.size, max)}), nil
	}
	opts := &smtp.MailOptions{Size: m.size, UTF8: utf8, Return: smtp.DSNReturn(m.ret), EnvelopeID: m.envid}
	if err := c.Mail(m.sender, opts); err != nil {
		if f := replyFailure(err); f != nil && f.code >= 500 {
			return allFinal(*f), nil
		}
		return nil, asFailure(err, "4.4.2")
	}
	var accepted []int
	for i, r := range rcpts {
		if err := c.Rcpt(r.addr, rcptOptions(r)); err != nil {
			f := replyFailure(err)
			if f == nil {
				return nil, asFailure(err, "4.4.2")
			}
			out[i] = res(*f)
			continue
		}
		accepted = append(accepted, i)
	}
	if len(accepted) == 0 {
		_ = c.Quit()
		return out, nil
	}
	verdict := func(f failure) {
		for _, i := range accepted {
			out[i] = res(f)
		}
	}
	w, err := c.Data()
	if err != nil {
		f := replyFailure(err)
		if f == nil {
			return nil, asFailure(err, "4.4.2")
		}
		verdict(*f)
		_ = c.Quit()
		return out, nil
	}
	if _, err := io.Copy(w, body); err != nil {
		return nil, asFailure(err, "4.4.2")
	}
	resp, err := w.CloseWithResponse()
	if err != nil {
		// A connection lost after the final dot leaves it unknown whether the server
		// took the message; trying again may deliver it twice (at least once).
		f := replyFailure(err)
		if f == nil {
			return nil, asFailure(err, "4.4.2")
		}
		verdict(*f)
		_ = c.Quit()
		return out, nil
	}
	verdict(failure{code: 250, status: "2.0.0", text: resp.StatusText, remote: true})
	_ = c.Quit()
	return out, nil
}

// tlsFailure marks a STARTTLS that the server offered but that did not complete.
type tlsFailure struct{ err error }

func (e *tlsFailure) Error() string { return "STARTTLS: " + e.err.Error() }

// connect dials one address, reads the greeting, says EHLO and, when the server offers
// it and tryTLS is set, does STARTTLS (RFC 3207). It hands go-smtp the connection with
// the greeting replayed: go-smtp's client can only start TLS before its own EHLO, which
// would then name us "localhost". stop ends the watch that closes the connection when
// ctx is done.
func (q *Queue) connect(ctx context.Context, host string, ip net.IP, tryTLS bool) (*smtp.Client, bool, func() bool, error) {
	conn, err := q.cfg.Dialer.DialContext(ctx, "tcp", net.JoinHostPort(ip.String(), strconv.Itoa(q.cfg.Port)))
	if err != nil {
		return nil, false, nil, err
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	fail := func(err error) (*smtp.Client, bool, func() bool, error) {
		stop()
		conn.Close()
		return nil, false, nil, err
	}
	br := bufio.NewReader(conn)
	greeting, code, _, err := readReply(br)
	if err != nil {
		return fail(err)
	}
	if code != 220 {
		// RFC 5321 section 3.1: a server that will not serve answers the connection
		// with 554; whatever it is, this exchanger is not taking mail now.
		return fail(&failure{code: code, status: classStatus(code), text: strings.TrimSpace(string(greeting)), remote: true})
	}
	var rc net.Conn = &replayConn{Conn: conn, r: io.MultiReader(bytes.NewReader(greeting), br)}
	tlsOn := false
	if tryTLS {
		if _, err := fmt.Fprintf(conn, "EHLO %s\r\n", q.cfg.Hostname); err != nil {
			return fail(err)
		}
		_, code, lines, err := readReply(br)
		if err != nil {
			return fail(err)
		}
		if code == 250 && offers(lines, "STARTTLS") {
			if _, err := io.WriteString(conn, "STARTTLS\r\n"); err != nil {
				return fail(err)
			}
			_, code, _, err := readReply(br)
			if err != nil {
				return fail(err)
			}
			if code == 220 {
				// RFC 3207 section 4.2: what came before TLS is forgotten. Bytes
				// already waiting would be read as if protected: refuse them.
				if br.Buffered() > 0 {
					return fail(&tlsFailure{errors.New("server sent data after its STARTTLS reply")})
				}
				cfg := q.tlsConfig(host)
				tc := tls.Client(conn, cfg)
				if err := tc.HandshakeContext(ctx); err != nil {
					return fail(&tlsFailure{err})
				}
				rc = &replayConn{Conn: tc, r: io.MultiReader(bytes.NewReader(greeting), tc)}
				tlsOn = true
			}
		}
	}
	c := smtp.NewClient(rc)
	c.CommandTimeout = q.cfg.Timeout
	c.SubmissionTimeout = q.cfg.Timeout
	if err := c.Hello(q.cfg.Hostname); err != nil {
		c.Close()
		stop()
		return nil, false, nil, err
	}
	return c, tlsOn, stop, nil
}

func (q *Queue) tlsConfig(host string) *tls.Config {
	var cfg *tls.Config
	if q.cfg.TLS != nil {
		cfg = q.cfg.TLS.Clone()
	} else {
		// Opportunistic: encryption without authentication (RFC 7435 section 1.3).
		cfg = &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}
	}
	if cfg.ServerName == "" && !strings.HasPrefix(host, "[") {
		cfg.ServerName = host
	}
	return cfg
}

// replayConn is a connection whose reads start with bytes already read from it (the
// greeting), so that go-smtp's client finds the session where it expects to.
type replayConn struct {
	net.Conn
	r io.Reader
}

func (c *replayConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// readReply reads one SMTP reply (RFC 5321 section 4.2: lines "code-text" ending with
// "code text"), returning its raw bytes, its code and the text of each line.
func readReply(br *bufio.Reader) (raw []byte, code int, lines []string, err error) {
	for n := 0; ; n++ {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return nil, 0, nil, fmt.Errorf("read reply: %w", err)
		}
		raw = append(raw, line...)
		s := strings.TrimRight(string(line), "\r\n")
		if len(s) < 3 || n > 100 {
			return nil, 0, nil, fmt.Errorf("malformed reply %q", s)
		}
		c, err := strconv.Atoi(s[:3])
		if err != nil || c < 200 || c > 599 || (code != 0 && c != code) {
			return nil, 0, nil, fmt.Errorf("malformed reply %q", s)
		}
		code = c
		if len(s) > 4 {
			lines = append(lines, s[4:])
		} else {
			lines = append(lines, "")
		}
		if len(s) == 3 || s[3] == ' ' {
			return raw, code, lines, nil
		}
	}
}

// offers reports whether an EHLO reply lists an extension (RFC 5321 section 4.1.1.1:
// the first line is the greeting, each further line a keyword and parameters).
func offers(lines []string, ext string) bool {
	for _, l := range lines[1:] {
		kw, _, _ := strings.Cut(l, " ")
		if strings.EqualFold(kw, ext) {
			return true
		}
	}
	return false
}

func rcptOptions(r *rcptRow) *smtp.RcptOptions {
	opts := &smtp.RcptOptions{}
	if r.notify != "" {
		for _, n := range strings.Split(r.notify, ",") {
			opts.Notify = append(opts.Notify, smtp.DSNNotify(n))
		}
	}
	if typ, addr, ok := strings.Cut(r.orcpt, ";"); ok {
		switch {
		case strings.EqualFold(typ, "rfc822") && printableASCII(addr):
			opts.OriginalRecipientType, opts.OriginalRecipient = smtp.DSNAddressTypeRFC822, addr
		case strings.EqualFold(typ, "utf-8"):
			opts.OriginalRecipientType, opts.OriginalRecipient = smtp.DSNAddressTypeUTF8, addr
		}
	}
	return opts
}

// replyFailure returns the server's reply in err, or nil when err is not a reply.
func replyFailure(err error) *failure {
	var se *smtp.SMTPError
	if !errors.As(err, &se) {
		return nil
	}
	status := classStatus(se.Code)
	if ec := se.EnhancedCode; ec != smtp.EnhancedCodeNotSet && ec != smtp.NoEnhancedCode && ec[0] == se.Code/100 {
		status = fmt.Sprintf("%d.%d.%d", ec[0], ec[1], ec[2])
	}
	return &failure{code: se.Code, status: status, text: se.Message, remote: true}
}

// asFailure makes any error of a conversation a failure: a reply stays what it was, a
// network or protocol error becomes a temporary failure with the given status.
func asFailure(err error, status string) *failure {
	var f *failure
	if errors.As(err, &f) {
		return f
	}
	if f := replyFailure(err); f != nil {
		return f
	}
	return &failure{code: 451, status: status, text: err.Error()}
}

// classStatus is the enhanced status a reply without one implies (RFC 3463 section 3.1:
// class.0.0).
func classStatus(code int) string {
	return fmt.Sprintf("%d.0.0", code/100)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
