package main

// The smtp scenario: flags, the load itself, the end-to-end check and the report.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Bounds on the flags, so that a run always ends.
const (
	maxConns         = 512
	maxMessages      = 1_000_000
	maxDuration      = time.Hour
	maxVerifyTimeout = 30 * time.Minute
	minPoll          = 5 * time.Millisecond
)

// smtpOptions are the smtp scenario's checked flags.
type smtpOptions struct {
	addrs         []string // loopback host:port; connections take them in turn
	starttls      bool
	user, pass    string
	from          string
	to            []string
	spreadTo      bool // each message to one of to, in turn, instead of to all
	size          int
	conns         int
	messages      int
	duration      time.Duration
	verify        counter // nil: no end-to-end check
	verifyTimeout time.Duration
	poll          time.Duration
	pipelining    bool
	json          bool
	jsonOut       string
	seed          uint64
	label         string
}

// listFlag collects a flag given several times or as a comma-separated list.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l = append(*l, v)
		}
	}
	return nil
}

// parseSMTPFlags reads and checks the smtp scenario's flags.
func parseSMTPFlags(args []string, stderr io.Writer) (smtpOptions, error) {
	fs := flag.NewFlagSet("mailbench smtp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o smtpOptions
	var to, addrs listFlag
	fs.Var(&addrs, "addr", "SMTP server `host:port`; loopback only (127.0.0.0/8, ::1, localhost); repeat or separate with commas to spread the connections over several servers in turn")
	tlsMode := fs.String("tls", "none", "`mode`: starttls or none")
	auth := fs.String("auth", "", "`user:password` for AUTH PLAIN (submission); needs --tls=starttls on most servers")
	fs.StringVar(&o.from, "from", "", "envelope sender and From `address`")
	fs.Var(&to, "to", "recipient `address`; repeat or separate with commas")
	fs.BoolVar(&o.spreadTo, "spread-to", false, "send each message to one --to address, taking them in turn, instead of to all of them (load on several mailboxes)")
	size := fs.String("size", "10KB", "message `size`: bytes, KB, KiB, MB or MiB")
	fs.IntVar(&o.conns, "conns", 8, "concurrent connections")
	fs.IntVar(&o.messages, "messages", 1000, "messages to send in all (the run stops at this or --duration)")
	fs.DurationVar(&o.duration, "duration", 60*time.Second, "longest the sending may take (the run stops at this or --messages)")
	verify := fs.String("verify", "", "count the recipient's mailbox to time end-to-end delivery: pop3://USER:PASS@HOST:PORT, pop3s://..., imap://..., imaps://... or maildir:/PATH (USER's @ as %40)")
	fs.DurationVar(&o.verifyTimeout, "verify-timeout", 2*time.Minute, "longest to wait, after the sending, for the messages to be visible")
	fs.DurationVar(&o.poll, "poll", 50*time.Millisecond, "interval between mailbox counts after the sending")
	fs.BoolVar(&o.pipelining, "pipelining", true, "send MAIL, RCPT and DATA as one group when the server offers PIPELINING")
	fs.BoolVar(&o.json, "json", false, "print the report as JSON")
	fs.StringVar(&o.jsonOut, "json-out", "", "also write the JSON report to `file`")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the message content")
	fs.StringVar(&o.label, "label", "", "name of the server under test, carried into the report")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var err error
	if o.addrs, err = loopbackAddrs(addrs); err != nil {
		return o, err
	}
	switch *tlsMode {
	case "starttls":
		o.starttls = true
	case "none":
	default:
		return o, fmt.Errorf("--tls=%q: want starttls or none", *tlsMode)
	}
	if *auth != "" {
		var ok bool
		if o.user, o.pass, ok = strings.Cut(*auth, ":"); !ok || o.user == "" {
			return o, errors.New("--auth: want user:password")
		}
	}
	if o.from == "" || len(to) == 0 {
		return o, errors.New("--from and at least one --to are required")
	}
	for _, a := range append([]string{o.from}, to...) {
		if !strings.Contains(a, "@") || strings.ContainsAny(a, "<> \r\n") {
			return o, fmt.Errorf("address %q: want local@domain", a)
		}
	}
	o.to = to
	if o.size, err = parseSize(*size); err != nil {
		return o, fmt.Errorf("--size: %w", err)
	}
	if o.size < minMessageSize {
		return o, fmt.Errorf("--size: at least %d bytes", minMessageSize)
	}
	if o.conns < 1 || o.conns > maxConns {
		return o, fmt.Errorf("--conns %d: want 1 to %d", o.conns, maxConns)
	}
	if o.messages < 1 || o.messages > maxMessages {
		return o, fmt.Errorf("--messages %d: want 1 to %d", o.messages, maxMessages)
	}
	if o.duration <= 0 || o.duration > maxDuration {
		return o, fmt.Errorf("--duration %v: want more than 0 and at most %v", o.duration, maxDuration)
	}
	if o.verifyTimeout <= 0 || o.verifyTimeout > maxVerifyTimeout {
		return o, fmt.Errorf("--verify-timeout %v: want more than 0 and at most %v", o.verifyTimeout, maxVerifyTimeout)
	}
	if o.poll < minPoll {
		return o, fmt.Errorf("--poll %v: at least %v", o.poll, minPoll)
	}
	if *verify != "" {
		if o.spreadTo && len(o.to) > 1 {
			return o, errors.New("--verify counts one mailbox: it cannot check messages spread over several (--spread-to)")
		}
		if o.verify, err = parseVerify(*verify); err != nil {
			return o, err
		}
	}
	return o, nil
}

func runSMTP(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseSMTPFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "mailbench smtp: %v\n", err)
		return 2
	}
	rep, err := benchSMTP(ctx, o)
	if err != nil {
		fmt.Fprintf(stderr, "mailbench smtp: %v\n", err)
		return 1
	}
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		fmt.Fprintf(stderr, "mailbench smtp: %v\n", err)
		return 1
	}
	js = append(js, '\n')
	if o.json {
		stdout.Write(js)
	} else {
		rep.writeText(stdout)
	}
	if o.jsonOut != "" {
		if err := os.WriteFile(o.jsonOut, js, 0o644); err != nil {
			fmt.Fprintf(stderr, "mailbench smtp: write the report: %v\n", err)
			return 1
		}
	}
	if rep.Errors > 0 || rep.Accepted == 0 || (rep.Verify != "" && !rep.E2EComplete) {
		return 1
	}
	return 0
}

// errorCount is one kind of error and how often it happened.
type errorCount struct {
	Error string `json:"error"`
	Count int    `json:"count"`
}

// errorLog counts errors, keeping a few distinct messages.
type errorLog struct {
	mu      sync.Mutex
	total   int
	samples []errorCount
}

const maxErrorSamples = 10

func (l *errorLog) add(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total++
	msg := err.Error()
	for i := range l.samples {
		if l.samples[i].Error == msg {
			l.samples[i].Count++
			return
		}
	}
	if len(l.samples) < maxErrorSamples {
		l.samples = append(l.samples, errorCount{Error: msg, Count: 1})
	}
}

// loadResult is what the sending phase measured.
type loadResult struct {
	start, lastAccept time.Time
	attempted         int
	accepted          int
	latencies         []time.Duration
	pipelined         bool
}

// load sends the messages over o.conns connections. It stops claiming messages when
// o.messages have been claimed or o.duration has passed since the start.
func load(ctx context.Context, o smtpOptions, mk *messageMaker, errs *errorLog) loadResult {
	var (
		next      atomic.Int64
		pipelined atomic.Bool
		mu        sync.Mutex
		res       loadResult
		wg        sync.WaitGroup
	)
	res.start = time.Now()
	capCtx, cancel := context.WithDeadline(ctx, res.start.Add(o.duration))
	defer cancel()
	for k := range o.conns {
		setup := smtpSetup{addr: target(o.addrs, k), starttls: o.starttls, user: o.user, pass: o.pass, pipelining: o.pipelining}
		wg.Go(func() {
			var lat []time.Duration
			var last time.Time
			attempted, accepted := 0, 0
			var c *smtpClient
			var stopWatch func() bool
			drop := func() {
				if c != nil {
					stopWatch()
					c.conn.Close()
					c = nil
				}
			}
			for capCtx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= o.messages {
					break
				}
				attempted++
				msg, err := mk.message(i)
				if err != nil {
					errs.add(err)
					continue
				}
				if c == nil {
					if c, err = dialSMTP(ctx, setup); err != nil {
						errs.add(err)
						c = nil
						// A server refusing connections should not turn the run into
						// a busy loop of failures.
						time.Sleep(10 * time.Millisecond)
						continue
					}
					conn := c.conn
					// Ctrl-C ends exchanges in progress; the duration cap does not.
					stopWatch = context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
					if c.pipelining {
						pipelined.Store(true)
					}
				}
				rcpts := o.to
				if o.spreadTo {
					rcpts = o.to[i%len(o.to) : i%len(o.to)+1]
				}
				d, err := c.send(o.from, rcpts, msg)
				if err != nil {
					errs.add(err)
					var re *replyError
					if !errors.As(err, &re) || errors.Is(err, errAborted) || re.reply.code == 421 {
						drop()
					}
					continue
				}
				accepted++
				last = time.Now()
				lat = append(lat, d)
			}
			if c != nil {
				stopWatch()
				c.close()
			}
			mu.Lock()
			defer mu.Unlock()
			res.attempted += attempted
			res.accepted += accepted
			res.latencies = append(res.latencies, lat...)
			if last.After(res.lastAccept) {
				res.lastAccept = last
			}
		})
	}
	wg.Wait()
	res.pipelined = pipelined.Load()
	return res
}

// smtpReport is the result of one run, as printed with --json.
type smtpReport struct {
	Scenario       string       `json:"scenario"`
	Label          string       `json:"label,omitempty"`
	Addr           string       `json:"addr"`
	TLS            string       `json:"tls"`
	Auth           bool         `json:"auth"`
	From           string       `json:"from"`
	To             []string     `json:"to"`
	SpreadTo       bool         `json:"spread_to,omitempty"`
	SizeBytes      int          `json:"size_bytes"`
	Conns          int          `json:"conns"`
	MessagesCap    int          `json:"messages_cap"`
	DurationCapS   float64      `json:"duration_cap_s"`
	PipeliningUsed bool         `json:"pipelining_used"`
	Started        string       `json:"started"`
	Attempted      int          `json:"attempted"`
	Accepted       int          `json:"accepted"`
	Errors         int          `json:"errors"`
	ErrorSamples   []errorCount `json:"error_samples,omitempty"`
	AcceptElapsedS float64      `json:"accept_elapsed_s"`
	AcceptedPerS   float64      `json:"accepted_per_s"`
	AcceptedMBPerS float64      `json:"accepted_mb_per_s"`
	DataP50Ms      float64      `json:"data_p50_ms"`
	DataP99Ms      float64      `json:"data_p99_ms"`
	DataMaxMs      float64      `json:"data_max_ms"`
	DataMeanMs     float64      `json:"data_mean_ms"`
	Verify         string       `json:"verify,omitempty"`
	E2EBaseline    int          `json:"e2e_baseline,omitempty"`
	E2ETarget      int          `json:"e2e_target,omitempty"`
	E2ESeen        int          `json:"e2e_seen,omitempty"`
	E2EComplete    bool         `json:"e2e_complete"`
	E2EElapsedS    float64      `json:"e2e_elapsed_s,omitempty"`
	E2EPerS        float64      `json:"e2e_per_s,omitempty"`
	E2EError       string       `json:"e2e_error,omitempty"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// benchSMTP runs the scenario: baseline count, load, end-to-end wait.
func benchSMTP(ctx context.Context, o smtpOptions) (smtpReport, error) {
	mk, err := newMessageMaker(o.from, o.to, o.size, o.seed)
	if err != nil {
		return smtpReport{}, err
	}
	rep := smtpReport{
		Scenario: "smtp", Label: o.label, Addr: strings.Join(o.addrs, ","), TLS: "none", Auth: o.user != "",
		From: o.from, To: o.to, SpreadTo: o.spreadTo, SizeBytes: o.size, Conns: o.conns,
		MessagesCap: o.messages, DurationCapS: o.duration.Seconds(),
	}
	if o.starttls {
		rep.TLS = "starttls"
	}
	if o.verify != nil {
		rep.Verify = o.verify.String()
		base, err := o.verify.count(ctx)
		if err != nil {
			return rep, fmt.Errorf("count the mailbox before the run: %w", err)
		}
		rep.E2EBaseline = base
	}

	var errs errorLog
	res := load(ctx, o, mk, &errs)
	rep.Started = res.start.UTC().Format(time.RFC3339)
	rep.PipeliningUsed = res.pipelined
	rep.Attempted, rep.Accepted = res.attempted, res.accepted
	rep.Errors = errs.total
	rep.ErrorSamples = slices.Clone(errs.samples)
	if res.accepted > 0 {
		d := res.lastAccept.Sub(res.start)
		rep.AcceptElapsedS = d.Seconds()
		rep.AcceptedPerS = rate(res.accepted, d)
		rep.AcceptedMBPerS = rate(res.accepted, d) * float64(o.size) / 1e6
	}
	lat := summarize(res.latencies)
	rep.DataP50Ms, rep.DataP99Ms, rep.DataMaxMs, rep.DataMeanMs = ms(lat.p50), ms(lat.p99), ms(lat.max), ms(lat.mean)

	if o.verify != nil && res.accepted > 0 {
		rep.E2ETarget = rep.E2EBaseline + res.accepted
		seen, at, err := waitVisible(ctx, o.verify, rep.E2ETarget, o.poll, o.verifyTimeout)
		rep.E2ESeen = seen
		if err != nil {
			rep.E2EError = err.Error()
		} else {
			rep.E2EComplete = true
			d := at.Sub(res.start)
			rep.E2EElapsedS = d.Seconds()
			rep.E2EPerS = rate(res.accepted, d)
		}
	}
	return rep, nil
}

// waitVisible counts the mailbox every poll until it holds target messages, and
// returns the count and when the count that reached target returned.
func waitVisible(ctx context.Context, c counter, target int, poll, timeout time.Duration) (int, time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	seen := 0
	var lastErr error
	for {
		n, err := c.count(ctx)
		now := time.Now()
		if err == nil {
			seen = n
			if n >= target {
				return n, now, nil
			}
		} else {
			lastErr = err
		}
		select {
		case <-ctx.Done():
			if lastErr != nil {
				return seen, time.Time{}, fmt.Errorf("%d of %d messages visible after %v; last error: %w", seen, target, timeout, lastErr)
			}
			return seen, time.Time{}, fmt.Errorf("%d of %d messages visible after %v", seen, target, timeout)
		case <-time.After(poll):
		}
	}
}

func (r smtpReport) writeText(w io.Writer) {
	label := ""
	if r.Label != "" {
		label = " [" + r.Label + "]"
	}
	pipe := "no PIPELINING"
	if r.PipeliningUsed {
		pipe = "PIPELINING"
	}
	fmt.Fprintf(w, "mailbench smtp%s: %s, tls=%s, %s, %d connections, %d-byte messages, cap %d messages or %gs\n",
		label, r.Addr, r.TLS, pipe, r.Conns, r.SizeBytes, r.MessagesCap, r.DurationCapS)
	fmt.Fprintf(w, "  accepted (250): %d of %d in %.3f s = %.1f msg/s (%.2f MB/s)\n",
		r.Accepted, r.Attempted, r.AcceptElapsedS, r.AcceptedPerS, r.AcceptedMBPerS)
	fmt.Fprintf(w, "  DATA→250:       p50 %.2f ms, p99 %.2f ms, max %.2f ms, mean %.2f ms\n",
		r.DataP50Ms, r.DataP99Ms, r.DataMaxMs, r.DataMeanMs)
	switch {
	case r.Verify == "":
		fmt.Fprintln(w, "  end to end:     not measured (no --verify)")
	case r.E2EComplete:
		fmt.Fprintf(w, "  end to end:     %d visible at %s after %.3f s = %.1f msg/s\n",
			r.Accepted, r.Verify, r.E2EElapsedS, r.E2EPerS)
	case r.E2EError != "":
		fmt.Fprintf(w, "  end to end:     incomplete at %s: %s\n", r.Verify, r.E2EError)
	default:
		fmt.Fprintf(w, "  end to end:     nothing to wait for at %s\n", r.Verify)
	}
	fmt.Fprintf(w, "  errors:         %d\n", r.Errors)
	for _, e := range r.ErrorSamples {
		fmt.Fprintf(w, "    %d× %s\n", e.Count, e.Error)
	}
}
