package queue

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"mailroom/internal/blob"
	"mailroom/internal/mime"
	"mailroom/internal/testnet"
)

// dsnReport is what a test reads out of a notification.
type dsnReport struct {
	status   string // the message/delivery-status body
	returned *mime.Part
	raw      []byte
}

// parseDSN checks the RFC 3464 / RFC 6522 structure of a notification with the mime
// package and returns its parts.
func parseDSN(t *testing.T, s sent, sender string) dsnReport {
	t.Helper()
	if s.from != "" {
		t.Errorf("notification sent from %q, want the empty sender", s.from)
	}
	if len(s.to) != 1 || s.to[0] != sender {
		t.Errorf("notification sent to %v, want [%s]", s.to, sender)
	}
	m := mime.Parse(s.raw)
	root := m.Root
	if root.Type != "multipart" || root.Subtype != "report" || root.Params["report-type"] != "delivery-status" {
		t.Fatalf("notification is %s/%s %v, want multipart/report; report-type=delivery-status", root.Type, root.Subtype, root.Params)
	}
	if len(root.Parts) != 3 {
		t.Fatalf("notification has %d parts, want 3", len(root.Parts))
	}
	if p := root.Parts[0]; p.Type != "text" || p.Subtype != "plain" {
		t.Errorf("first part is %s/%s, want text/plain", p.Type, p.Subtype)
	}
	ds := root.Parts[1]
	if ds.Type != "message" || ds.Subtype != "delivery-status" {
		t.Fatalf("second part is %s/%s, want message/delivery-status", ds.Type, ds.Subtype)
	}
	return dsnReport{status: string(s.raw[ds.BodyStart:ds.End]), returned: &root.Parts[2], raw: s.raw}
}

func (r dsnReport) want(t *testing.T, fields ...string) {
	t.Helper()
	for _, f := range fields {
		if !strings.Contains(r.status, f+"\r\n") {
			t.Errorf("delivery-status lacks %q:\n%s", f, r.status)
		}
	}
}

func TestRoutes(t *testing.T) {
	res := startDNS(t)
	tests := []struct {
		name     string
		rcpt     string
		mta      string // want delivered via this host; "" for a failure
		status   string // want this Status in the failure report
		diagCode bool
	}{
		{name: "MX by preference, first host down", rcpt: "bob@mx.test", mta: "mx2.mx.test"},
		{name: "no MX falls back to the domain's address", rcpt: "bob@a.test", mta: "a.test"},
		{name: "null MX fails at once", rcpt: "bob@null.test", status: "5.1.10"},
		{name: "NXDOMAIN fails at once", rcpt: "bob@nx.test", status: "5.1.2"},
		{name: "address literal", rcpt: "bob@[127.0.0.1]", mta: "[127.0.0.1]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, port := startSMTP(t, "127.0.0.1", 0, serverOpts{})
			e := newEnv(t, res, port, nil)
			raw := testMessage("routes")
			e.enqueue(Message{From: "alice@example.org", To: []string{tc.rcpt}, Raw: raw})
			e.flush()
			if l := e.list(); len(l) != 0 {
				t.Fatalf("queue still holds %+v", l)
			}
			msgs, dsns := srv.messages(), e.dsn.all()
			if tc.mta != "" {
				if len(msgs) != 1 || len(dsns) != 0 {
					t.Fatalf("server got %d messages and %d notifications were sent, want 1 and 0", len(msgs), len(dsns))
				}
				if !bytes.Equal(msgs[0].data, raw) || msgs[0].to[0] != tc.rcpt {
					t.Errorf("server got %v %q", msgs[0].to, msgs[0].data)
				}
				if known, _ := e.q.hostTLS(context.Background(), tc.mta); !known {
					t.Errorf("host %s not remembered", tc.mta)
				}
				return
			}
			if len(msgs) != 0 || len(dsns) != 1 {
				t.Fatalf("server got %d messages and %d notifications were sent, want 0 and 1", len(msgs), len(dsns))
			}
			r := parseDSN(t, dsns[0], "alice@example.org")
			r.want(t, "Final-Recipient: rfc822; "+tc.rcpt, "Action: failed", "Status: "+tc.status)
		})
	}
}

func TestBytesEHLOAndSTARTTLS(t *testing.T) {
	res := startDNS(t)
	for _, withTLS := range []bool{true, false} {
		t.Run(map[bool]string{true: "STARTTLS offered", false: "cleartext"}[withTLS], func(t *testing.T) {
			srv, port := startSMTP(t, "127.0.0.1", 0, serverOpts{tls: withTLS})
			e := newEnv(t, res, port, nil)
			// 8-bit text, a long line and a leading dot: the bytes must arrive unchanged.
			raw := append(testMessage("bytes"), []byte("Grüße\r\n"+strings.Repeat("x", 900)+"\r\n..two dots\r\n")...)
			e.enqueue(Message{From: "alice@example.org", To: []string{"bob@mx.test"}, Raw: raw})
			e.flush()
			msgs := srv.messages()
			if len(msgs) != 1 {
				t.Fatalf("server got %d messages, want 1", len(msgs))
			}
			got := msgs[0]
			if !bytes.Equal(got.data, raw) {
				t.Errorf("bytes differ:\n got %q\nwant %q", got.data, raw)
			}
			if got.tls != withTLS {
				t.Errorf("TLS = %v, want %v", got.tls, withTLS)
			}
			if got.helo != "out.example.org" {
				t.Errorf("EHLO name %q, want out.example.org", got.helo)
			}
			if got.from != "alice@example.org" {
				t.Errorf("MAIL FROM %q", got.from)
			}
			known, did := e.q.hostTLS(context.Background(), "mx2.mx.test")
			if !known || did != withTLS {
				t.Errorf("host memory: known %v tls %v, want tls %v", known, did, withTLS)
			}
			if _, err := e.blobs.Read(context.Background(), blob.ID(raw)); !errors.Is(err, blob.ErrNotFound) {
				t.Errorf("blob of a delivered message: %v, want it removed", err)
			}
		})
	}
}

// TestSTARTTLSFailureFallsBackToCleartext: opportunistic TLS (RFC 7435) delivers in
// cleartext when the handshake fails, here because the client insists on verifying a
// self-signed certificate.
func TestSTARTTLSFailureFallsBackToCleartext(t *testing.T) {
	res := startDNS(t)
	srv, port := startSMTP(t, "127.0.0.1", 0, serverOpts{tls: true})
	e := newEnv(t, res, port, func(c *Config) { c.TLS = &tls.Config{MinVersion: tls.VersionTLS12} })
	e.enqueue(Message{From: "alice@example.org", To: []string{"bob@mx.test"}, Raw: testMessage("fallback")})
	e.flush()
	msgs := srv.messages()
	if len(msgs) != 1 || msgs[0].tls {
		t.Fatalf("server got %+v, want one message in cleartext", msgs)
	}
	if l := e.list(); len(l) != 0 {
		t.Errorf("queue still holds %+v", l)
	}
}

func TestTemporaryFailureRetriesOnSchedule(t *testing.T) {
	res := startDNS(t)
	srv, port := startSMTP(t, "127.0.0.1", 0, serverOpts{})
	srv.reply("bob@mx.test", &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 2, 1}, Message: "mailbox busy"})
	e := newEnv(t, res, port, nil)
	id := e.enqueue(Message{From: "alice@example.org", To: []string{"bob@mx.test"}, Raw: testMessage("retry")})

	e.flush()
	ent, err := e.q.Show(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	r := ent.Recipients[0]
	if r.Status != StatusQueued || r.Attempts != 1 || !r.NextAttempt.Equal(start.Add(5*time.Minute)) {
		t.Fatalf("after one 4xx: %+v", r)
	}
	if !strings.Contains(r.LastError, "451 4.2.1 mailbox busy") || r.RemoteMTA != "mx2.mx.test" {
		t.Errorf("last error %q from %q", r.LastError, r.RemoteMTA)
	}

	e.clock.Advance(4 * time.Minute)
	e.flush()
	if n := srv.rcpts("bob@mx.test"); n != 1 {
		t.Fatalf("tried %d times before the retry was due, want 1", n)
	}
	e.clock.Advance(time.Minute)
	e.flush()
	if n := srv.rcpts("bob@mx.test"); n != 2 {
		t.Fatalf("tried %d times once due, want 2", n)
	}
	ent, _ = e.q.Show(context.Background(), id)
	if want := e.clock.Now().Add(10 * time.Minute); !ent.Recipients[0].NextAttempt.Equal(want) {
		t.Errorf("second backoff: next %v, want %v", ent.Recipients[0].NextAttempt, want)
	}

	srv.reply("bob@mx.test", nil)
	e.clock.Advance(10 * time.Minute)
	e.flush()
	if len(srv.messages()) != 1 || len(e.list()) != 0 || len(e.dsn.all()) != 0 {
		t.Fatalf("after the server recovered: %d delivered, queue %+v, %d notifications", len(srv.messages()), e.list(), len(e.dsn.all()))
	}
}

func TestPermanentFailureBouncesAtOnce(t *testing.T) {
	res := startDNS(t)
	srv, port := startSMTP(t, "127.0.0.1", 0, serverOpts{})
	srv.reply("bad@mx.test", &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"})
	e := newEnv(t, res, port, nil)
	raw := testMessage("bounce")
	e.enqueue(Message{From: "alice@example.org", To: []string{"bad@mx.test"}, Raw: raw, EnvID: "env-42",
		DSN: map[string]RcptDSN{"bad@mx.test": {ORcpt: "rfc822;Bad@mx.test"}}})
	e.flush()
	if l := e.list(); len(l) != 0 {
		t.Fatalf("queue still holds %+v", l)
	}
	dsns := e.dsn.all()
	if len(dsns) != 1 {
		t.Fatalf("%d notifications, want 1", len(dsns))
	}
	r := parseDSN(t, dsns[0], "alice@example.org")
	r.want(t, "Reporting-MTA: dns; out.example.org", "Original-Envelope-Id: env-42",
		"Original-Recipient: rfc822;Bad@mx.test", "Final-Recipient: rfc822; bad@mx.test",
		"Action: failed", "Status: 5.1.1", "Remote-MTA: dns; mx2.mx.test",
		"Diagnostic-Code: smtp; 550 5.1.1 no such user")
	if !strings.Contains(r.status, "Arrival-Date: "+start.Format(time.RFC1123Z)) {
		t.Errorf("Arrival-Date missing:\n%s", r.status)
	}
	// Without RET, a failure report returns the whole message.
	p := r.returned
	if p.Type != "message" || p.Subtype != "rfc822" {
		t.Fatalf("returned part is %s/%s, want message/rfc822", p.Type, p.Subtype)
	}
	if got := r.raw[p.BodyStart:p.End]; !bytes.Equal(bytes.TrimRight(got, "\r\n"), bytes.TrimRight(raw, "\r\n")) {
		t.Errorf("returned message differs:\n%q", got)
	}
	if p.Message == nil || p.Message.Envelope.Subject != "bounce" {
		t.Errorf("returned message not parsed as a message: %+v", p.Message)
	}
}

func TestMixedRecipientResults(t *testing.T) {
	res := startDNS(t)
	srv, port := startSMTP(t, "127.0.0.1", 0, serverOpts{})
	srv.reply("temp@mx.test", &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 2, 2}, Message: "over quota"})
	srv.reply("bad@mx.test", &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"})
	e := newEnv(t, res, port, nil)
	id := e.enqueue(Message{From: "alice@example.org", To: []string{"ok@mx.test", "temp@mx.test", "bad@mx.test"},
		Raw: testMessage("mixed"), Ret: RetHeaders})
	e.flush()

	msgs := srv.messages()
	if len(msgs) != 1 || len(msgs[0].to) != 1 || msgs[0].to[0] != "ok@mx.test" {
		t.Fatalf("server got %+v, want one copy for ok@mx.test", msgs)
	}
	ent, err := e.q.Show(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Status{"ok@mx.test": StatusDelivered, "temp@mx.test": StatusQueued, "bad@mx.test": StatusFailed}
	for _, r := range ent.Recipients {
		if r.Status != want[r.Address] || r.Attempts != 1 {
			t.Errorf("%s: %s after %d attempts, want %s", r.Address, r.Status, r.Attempts, want[r.Address])
		}
	}
	dsns := e.dsn.all()
	if len(dsns) != 1 {
		t.Fatalf("%d notifications, want 1", len(dsns))
	}
	r := parseDSN(t, dsns[0], "alice@example.org")
	r.want(t, "Final-Recipient: rfc822; bad@mx.test", "Status: 5.1.1")
	if strings.Contains(r.status, "ok@mx.test") || strings.Contains(r.status, "temp@mx.test") {
		t.Errorf("report names recipients it is not about:\n%s", r.status)
	}
	if p := r.returned; p.Type != "text" || p.Subtype != "rfc822-headers" {
		t.Errorf("RET=HDRS returned %s/%s", p.Type, p.Subtype)
	}

	// The next attempt goes to the recipient still queued only.
	srv.reply("temp@mx.test", nil)
	e.clock.Advance(5 * time.Minute)
	e.flush()
	msgs = srv.messages()
	if len(msgs) != 2 || len(msgs[1].to) != 1 || msgs[1].to[0] != "temp@mx.test" {
		t.Fatalf("second attempt: %+v", msgs)
	}
	if srv.rcpts("ok@mx.test") != 1 || srv.rcpts("bad@mx.test") != 1 {
		t.Errorf("finished recipients tried again")
	}
	if l := e.list(); len(l) != 0 {
		t.Errorf("queue still holds %+v", l)
	}
}

// TestDelayNoticeAndGiveUp follows a recipient that always gets 4xx through the whole
// retry period: backoff doubling to 4 hours, one delay notice after 4 hours, a failure
// report at the end; and a recipient with NOTIFY=FAILURE that gets no delay notice.
func TestDelayNoticeAndGiveUp(t *testing.T) {
	res := startDNS(t)
	srv, port := startSMTP(t, "127.0.0.1", 0, serverOpts{})
	for _, a := range []string{"slow@mx.test", "quiet@mx.test"} {
		srv.reply(a, &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 4, 5}, Message: "try later"})
	}
	e := newEnv(t, res, port, nil)
	id := e.enqueue(Message{From: "alice@example.org", To: []string{"slow@mx.test", "quiet@mx.test"}, Raw: testMessage("slow"),
		DSN: map[string]RcptDSN{"quiet@mx.test": {Notify: []Notify{NotifyFailure}}}})

	var attempts []time.Time
	for i := 0; i < 100; i++ {
		attempts = append(attempts, e.clock.Now())
		e.flush()
		ent, err := e.q.Show(context.Background(), id)
		if errors.Is(err, ErrNotFound) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Set(ent.Recipients[0].NextAttempt)
	}
	if l := e.list(); len(l) != 0 {
		t.Fatalf("queue still holds %+v", l)
	}
	deadline := start.Add(5 * 24 * time.Hour)
	if last := attempts[len(attempts)-1]; !last.Equal(deadline) {
		t.Errorf("last attempt at %v, want the deadline %v", last, deadline)
	}
	wantGap := 5 * time.Minute
	for i := 1; i < len(attempts)-1; i++ {
		if gap := attempts[i].Sub(attempts[i-1]); gap != wantGap {
			t.Fatalf("gap before attempt %d is %v, want %v", i+1, gap, wantGap)
		}
		wantGap = min(2*wantGap, 4*time.Hour)
	}

	dsns := e.dsn.all()
	if len(dsns) != 2 {
		t.Fatalf("%d notifications, want a delay notice and a failure report", len(dsns))
	}
	delay := parseDSN(t, dsns[0], "alice@example.org")
	delay.want(t, "Final-Recipient: rfc822; slow@mx.test", "Action: delayed", "Status: 4.4.5",
		"Will-Retry-Until: "+deadline.Format(time.RFC1123Z))
	if strings.Contains(delay.status, "quiet@mx.test") {
		t.Errorf("NOTIFY=FAILURE recipient got a delay notice")
	}
	if p := delay.returned; p.Subtype != "rfc822-headers" {
		t.Errorf("a delay notice returns %s/%s, want the header only", p.Type, p.Subtype)
	}
	fail := parseDSN(t, dsns[1], "alice@example.org")
	fail.want(t, "Final-Recipient: rfc822; slow@mx.test", "Final-Recipient: rfc822; quiet@mx.test",
		"Action: failed", "Status: 4.4.5")
	if !strings.Contains(string(fail.raw), "gave up after") {
		t.Errorf("failure report does not say it gave up")
	}
}

func TestSuccessNotification(t *testing.T) {
	res := startDNS(t)
	tests := []struct {
		name      string
		serverDSN bool
		notify    []Notify
		wantDSN   bool
	}{
		{"NOTIFY=SUCCESS, next hop without DSN: relayed report", false, []Notify{NotifySuccess}, true},
		{"NOTIFY=SUCCESS, next hop with DSN: it reports", true, []Notify{NotifySuccess, NotifyFailure}, false},
		{"default NOTIFY: no success report", false, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, port := startSMTP(t, "127.0.0.1", 0, serverOpts{dsn: tc.serverDSN})
			e := newEnv(t, res, port, nil)
			e.enqueue(Message{From: "alice@example.org", To: []string{"bob@mx.test"}, Raw: testMessage("success"),
				DSN: map[string]RcptDSN{"bob@mx.test": {Notify: tc.notify}}})
			e.flush()
			msgs := srv.messages()
			if len(msgs) != 1 {
				t.Fatalf("server got %d messages", len(msgs))
			}
			if tc.serverDSN && len(msgs[0].notify["bob@mx.test"]) != len(tc.notify) {
				t.Errorf("NOTIFY passed on as %v, want %v", msgs[0].notify["bob@mx.test"], tc.notify)
			}
			dsns := e.dsn.all()
			if (len(dsns) == 1) != tc.wantDSN || len(dsns) > 1 {
				t.Fatalf("%d notifications, want one: %v", len(dsns), tc.wantDSN)
			}
			if tc.wantDSN {
				r := parseDSN(t, dsns[0], "alice@example.org")
				r.want(t, "Action: relayed", "Status: 2.0.0", "Remote-MTA: dns; mx2.mx.test")
			}
		})
	}
}

func TestNoNotificationForABounce(t *testing.T) {
	res := startDNS(t)
	srv, port := startSMTP(t, "127.0.0.1", 0, serverOpts{})
	srv.reply("bad@mx.test", &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"})
	e := newEnv(t, res, port, nil)
	e.enqueue(Message{From: "", To: []string{"bad@mx.test"}, Raw: testMessage("bounce-of-bounce")})
	e.flush()
	if n := len(e.dsn.all()); n != 0 {
		t.Errorf("%d notifications about a message with an empty sender", n)
	}
	if l := e.list(); len(l) != 0 {
		t.Errorf("queue still holds %+v", l)
	}
}

func TestNotificationRetriedWhenDelivererFails(t *testing.T) {
	res := startDNS(t)
	e := newEnv(t, res, 1, nil)
	e.dsn.fail = true
	id := e.enqueue(Message{From: "alice@example.org", To: []string{"bob@null.test"}, Raw: testMessage("dsn-retry")})
	e.flush()
	ent, err := e.q.Show(context.Background(), id)
	if err != nil {
		t.Fatalf("message with an unsent notification gone: %v", err)
	}
	if r := ent.Recipients[0]; r.Status != StatusFailed || !r.NotifyPending {
		t.Fatalf("recipient %+v, want failed with a notification pending", r)
	}
	e.dsn.mu.Lock()
	e.dsn.fail = false
	e.dsn.mu.Unlock()
	e.clock.Advance(5 * time.Minute)
	e.flush()
	if n := len(e.dsn.all()); n != 1 {
		t.Fatalf("%d notifications, want 1", n)
	}
	if l := e.list(); len(l) != 0 {
		t.Errorf("queue still holds %+v", l)
	}
}

func TestRestartResumes(t *testing.T) {
	res := startDNS(t)
	srv, port := startSMTP(t, "127.0.0.1", testnet.Port(t, "127.0.0.1", "127.0.0.2"), serverOpts{})
	e := newEnv(t, res, port, nil)
	// down.test lives on 127.0.0.2, where nothing listens yet.
	id := e.enqueue(Message{From: "alice@example.org", To: []string{"bob@mx.test", "carol@down.test"}, Raw: testMessage("restart")})
	e.flush()
	e.close()

	e.open()
	ent, err := e.q.Show(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range ent.Recipients {
		want := map[string]Status{"bob@mx.test": StatusDelivered, "carol@down.test": StatusQueued}[r.Address]
		if r.Status != want {
			t.Errorf("after restart %s is %s, want %s", r.Address, r.Status, want)
		}
	}
	down, _ := startSMTP(t, "127.0.0.2", port, serverOpts{})
	e.clock.Advance(5 * time.Minute)
	e.flush()
	if n := len(srv.messages()); n != 1 {
		t.Errorf("the delivered recipient's server got %d copies, want 1", n)
	}
	if msgs := down.messages(); len(msgs) != 1 || msgs[0].to[0] != "carol@down.test" {
		t.Errorf("the resumed recipient's server got %+v", msgs)
	}
	if l := e.list(); len(l) != 0 {
		t.Errorf("queue still holds %+v", l)
	}
}

// TestLeaseOfADeadWorkerExpires: a worker that claimed a recipient and died holds it
// only until its lease expires; then another delivers it.
func TestLeaseOfADeadWorkerExpires(t *testing.T) {
	res := startDNS(t)
	srv, port := startSMTP(t, "127.0.0.1", 0, serverOpts{})
	e := newEnv(t, res, port, func(c *Config) { c.Node = "dead" })
	e.enqueue(Message{From: "alice@example.org", To: []string{"bob@mx.test"}, Raw: testMessage("lease")})
	now := e.clock.Now()
	rows, err := e.q.leaseDue(context.Background(), micros(now), micros(now.Add(e.q.lease())), 10, nil)
	if err != nil || len(rows) != 1 {
		t.Fatalf("lease: %v %v", rows, err)
	}
	e.close()

	e.cfg.Node = "alive"
	e.open()
	e.flush()
	if n := len(srv.messages()); n != 0 {
		t.Fatalf("delivered a recipient another worker holds")
	}
	e.clock.Advance(e.q.lease() + time.Second)
	e.flush()
	if n := len(srv.messages()); n != 1 {
		t.Fatalf("server got %d messages after the lease expired, want 1", n)
	}
}

// TestTwoWorkersNeverDeliverTwice runs two Queues over one database at once, each with
// its own connections (on PostgreSQL, as two nodes would).
func TestTwoWorkersNeverDeliverTwice(t *testing.T) {
	res := startDNS(t)
	srv, port := startSMTP(t, "127.0.0.1", 0, serverOpts{delay: 5 * time.Millisecond})
	e1 := newEnv(t, res, port, func(c *Config) { c.MaxPerDomain = 8 })
	e2 := &env{t: t, dir: e1.dir, pg: e1.pg, clock: e1.clock, dsn: e1.dsn, cfg: e1.cfg}
	e2.open()
	const n = 30
	for i := range n {
		subject := "two-" + string(rune('a'+i%26)) + strings.Repeat("z", i/26)
		e1.enqueue(Message{From: "alice@example.org", To: []string{"bob@mx.test", "carol@mx.test"}, Raw: testMessage(subject)})
	}
	var wg sync.WaitGroup
	for _, e := range []*env{e1, e2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := e.q.Flush(context.Background()); err != nil {
				t.Errorf("flush: %v", err)
			}
		}()
	}
	wg.Wait()
	seen := map[string]int{}
	for _, m := range srv.messages() {
		for _, to := range m.to {
			seen[mime.Parse(m.data).Envelope.MessageID+" "+to]++
		}
	}
	if len(seen) != 2*n {
		t.Errorf("%d distinct deliveries, want %d", len(seen), 2*n)
	}
	for k, c := range seen {
		if c != 1 {
			t.Errorf("%s delivered %d times", k, c)
		}
	}
	if l := e1.list(); len(l) != 0 {
		t.Errorf("queue still holds %d messages", len(l))
	}
}

func TestConcurrencyPerDomain(t *testing.T) {
	res := startDNS(t)
	srv, port := startSMTP(t, "127.0.0.1", 0, serverOpts{delay: 30 * time.Millisecond})
	e := newEnv(t, res, port, func(c *Config) { c.MaxPerDomain = 2; c.MaxConcurrent = 10 })
	for i := range 8 {
		e.enqueue(Message{From: "alice@example.org", To: []string{"bob@mx.test"}, Raw: testMessage("conc-" + string(rune('a'+i)))})
	}
	e.flush()
	if n := len(srv.messages()); n != 8 {
		t.Fatalf("delivered %d, want 8", n)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.maxActive > 2 || srv.maxActive < 1 {
		t.Errorf("%d connections at once to one domain, want at most 2", srv.maxActive)
	}
}

func TestDropAndRetry(t *testing.T) {
	res := startDNS(t)
	srv, port := startSMTP(t, "127.0.0.1", 0, serverOpts{})
	srv.reply("bob@mx.test", &smtp.SMTPError{Code: 450, EnhancedCode: smtp.EnhancedCode{4, 2, 0}, Message: "greylisted"})
	e := newEnv(t, res, port, nil)
	ctx := context.Background()
	raw := testMessage("drop")
	id1 := e.enqueue(Message{From: "alice@example.org", To: []string{"bob@mx.test"}, Raw: raw})
	id2 := e.enqueue(Message{From: "alice@example.org", To: []string{"bob@mx.test"}, Raw: raw})
	e.flush()

	if err := e.q.Retry(ctx, id1); err != nil {
		t.Fatal(err)
	}
	ent, _ := e.q.Show(ctx, id1)
	if !ent.Recipients[0].NextAttempt.Equal(e.clock.Now()) {
		t.Errorf("after Retry next attempt %v, want now", ent.Recipients[0].NextAttempt)
	}
	e.flush()
	if ent, _ := e.q.Show(ctx, id1); ent.Recipients[0].Attempts != 2 {
		t.Errorf("Retry did not bring an attempt: %+v", ent.Recipients[0])
	}
	if ent, _ := e.q.Show(ctx, id2); ent.Recipients[0].Attempts != 1 {
		t.Errorf("Retry of one message moved another: %+v", ent.Recipients[0])
	}

	if err := e.q.Drop(ctx, id1); err != nil {
		t.Fatal(err)
	}
	if _, err := e.q.Show(ctx, id1); !errors.Is(err, ErrNotFound) {
		t.Errorf("Show after Drop: %v", err)
	}
	if _, err := e.blobs.Read(context.Background(), blob.ID(raw)); err != nil {
		t.Errorf("blob shared with a queued message removed: %v", err)
	}
	if err := e.q.Drop(ctx, id2); err != nil {
		t.Fatal(err)
	}
	if _, err := e.blobs.Read(context.Background(), blob.ID(raw)); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("blob of dropped messages: %v, want removed", err)
	}
	for _, err := range []error{e.q.Drop(ctx, id1), e.q.Retry(ctx, id1), func() error { _, err := e.q.Show(ctx, 999); return err }()} {
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("on a missing message: %v, want ErrNotFound", err)
		}
	}
	if n := len(e.dsn.all()); n != 0 {
		t.Errorf("Drop sent %d notifications", n)
	}
	if l := e.list(); len(l) != 0 {
		t.Errorf("queue still holds %+v", l)
	}
}

func TestRunWakesOnEnqueue(t *testing.T) {
	res := startDNS(t)
	srv, port := startSMTP(t, "127.0.0.1", 0, serverOpts{})
	e := newEnv(t, res, port, func(c *Config) { c.Now = time.Now; c.PollInterval = time.Hour })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.q.Run(ctx) }()
	time.Sleep(50 * time.Millisecond) // let Run go to sleep
	e.enqueue(Message{From: "alice@example.org", To: []string{"bob@mx.test"}, Raw: testMessage("wake")})
	deadline := time.Now().Add(10 * time.Second)
	for len(srv.messages()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run returned %v", err)
	}
	if n := len(srv.messages()); n != 1 {
		t.Fatalf("Run delivered %d messages, want 1", n)
	}
}

func TestEnqueueValidates(t *testing.T) {
	e := newEnv(t, startDNS(t), 1, nil)
	ok := Message{From: "alice@example.org", To: []string{"bob@mx.test"}, Raw: []byte("Subject: x\r\n\r\nx\r\n")}
	tests := []struct {
		name   string
		change func(*Message)
	}{
		{"no recipients", func(m *Message) { m.To = nil }},
		{"empty message", func(m *Message) { m.Raw = nil }},
		{"recipient without domain", func(m *Message) { m.To = []string{"bob"} }},
		{"recipient with CRLF", func(m *Message) { m.To = []string{"bob@x\r\nRSET"} }},
		{"bad sender", func(m *Message) { m.From = "alice@" }},
		{"bad RET", func(m *Message) { m.Ret = "ALL" }},
		{"ENVID with space", func(m *Message) { m.EnvID = "a b" }},
		{"NEVER with FAILURE", func(m *Message) {
			m.DSN = map[string]RcptDSN{"bob@mx.test": {Notify: []Notify{NotifyNever, NotifyFailure}}}
		}},
		{"unknown NOTIFY", func(m *Message) { m.DSN = map[string]RcptDSN{"bob@mx.test": {Notify: []Notify{"SOMETIMES"}}} }},
		{"ORCPT without type", func(m *Message) { m.DSN = map[string]RcptDSN{"bob@mx.test": {ORcpt: "bob@mx.test"}} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := ok
			tc.change(&m)
			if _, err := e.q.Enqueue(context.Background(), m); !errors.Is(err, ErrInvalid) {
				t.Errorf("Enqueue: %v, want ErrInvalid", err)
			}
		})
	}
	if _, err := e.q.Enqueue(context.Background(), ok); err != nil {
		t.Errorf("valid message: %v", err)
	}
}

func TestBackoff(t *testing.T) {
	q := &Queue{cfg: Config{BackoffBase: 5 * time.Minute, BackoffMax: 4 * time.Hour}}
	tests := []struct {
		attempts int
		want     time.Duration
	}{
		{1, 5 * time.Minute}, {2, 10 * time.Minute}, {3, 20 * time.Minute}, {4, 40 * time.Minute},
		{5, 80 * time.Minute}, {6, 160 * time.Minute}, {7, 4 * time.Hour}, {50, 4 * time.Hour},
	}
	for _, tc := range tests {
		if got := q.backoff(tc.attempts); got != tc.want {
			t.Errorf("backoff(%d) = %v, want %v", tc.attempts, got, tc.want)
		}
	}
}
