package main

// The imap-idle and imap-fetchall scenarios, and maildir, which writes the test
// messages that both servers are filled with.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Bounds of the imap-idle flags.
const (
	maxIdleConns   = 50_000
	maxDialWorkers = 256
	maxHold        = time.Hour
)

type idleOptions struct {
	setup     imapSetup
	mailbox   string
	conns     int
	parallel  int
	hold      time.Duration
	sample    int
	readyFile string
	json      bool
	jsonOut   string
	label     string
}

func parseIdleFlags(args []string, stderr io.Writer) (idleOptions, error) {
	fs := flag.NewFlagSet("mailbench imap-idle", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o idleOptions
	check := commonIMAPFlags(fs, &o.setup, false)
	fs.StringVar(&o.mailbox, "mailbox", "INBOX", "mailbox each connection selects before IDLE")
	fs.IntVar(&o.conns, "conns", 10000, "IDLE connections to hold open")
	fs.IntVar(&o.parallel, "parallel", 32, "connections being opened at once")
	fs.DurationVar(&o.hold, "hold", 20*time.Second, "how long all connections stay in IDLE")
	fs.IntVar(&o.sample, "sample", 100, "idling connections that must see an APPENDed message (0: no check)")
	fs.StringVar(&o.readyFile, "ready-file", "", "`file` written when all connections idle, removed after the hold (for the script that reads the server's memory)")
	fs.BoolVar(&o.json, "json", false, "print the report as JSON")
	fs.StringVar(&o.jsonOut, "json-out", "", "also write the JSON report to `file`")
	fs.StringVar(&o.label, "label", "", "name of the server under test, carried into the report")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if err := check(); err != nil {
		return o, err
	}
	if o.conns < 1 || o.conns > maxIdleConns {
		return o, fmt.Errorf("--conns %d: want 1 to %d", o.conns, maxIdleConns)
	}
	if o.parallel < 1 || o.parallel > maxDialWorkers {
		return o, fmt.Errorf("--parallel %d: want 1 to %d", o.parallel, maxDialWorkers)
	}
	if o.hold < 0 || o.hold > maxHold {
		return o, fmt.Errorf("--hold %v: want 0 to %v", o.hold, maxHold)
	}
	if o.sample < 0 || o.sample > o.conns {
		return o, fmt.Errorf("--sample %d: want 0 to --conns", o.sample)
	}
	return o, nil
}

// raiseFileLimit lifts the soft limit on open files to the hard limit and reports
// the result: each connection is a descriptor.
func raiseFileLimit() (uint64, error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, fmt.Errorf("read the open-file limit: %w", err)
	}
	if l.Cur < l.Max {
		l.Cur = l.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
			return 0, fmt.Errorf("raise the open-file limit: %w", err)
		}
	}
	return l.Cur, nil
}

type idleReport struct {
	Scenario     string       `json:"scenario"`
	Label        string       `json:"label,omitempty"`
	Addr         string       `json:"addr"`
	TLS          string       `json:"tls"`
	Conns        int          `json:"conns"`
	FileLimit    uint64       `json:"file_limit"`
	Idling       int          `json:"idling"`
	OpenS        float64      `json:"open_s"`
	HoldS        float64      `json:"hold_s"`
	Sample       int          `json:"sample"`
	SampleSeen   int          `json:"sample_seen"`
	SampleMaxMs  float64      `json:"sample_max_ms"`
	StillIdling  int          `json:"still_idling"`
	Errors       int          `json:"errors"`
	ErrorSamples []errorCount `json:"error_samples,omitempty"`
}

func runIdle(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseIdleFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "mailbench imap-idle: %v\n", err)
		return 2
	}
	rep, err := benchIdle(ctx, o)
	if err != nil {
		fmt.Fprintf(stderr, "mailbench imap-idle: %v\n", err)
		return 1
	}
	if !writeReport("imap-idle", rep, o.json, o.jsonOut, stdout, stderr) {
		return 1
	}
	if rep.Errors > 0 || rep.Idling < o.conns || rep.SampleSeen < rep.Sample {
		return 1
	}
	return 0
}

// idler is one connection in IDLE.
type idler struct {
	c   *imapConn
	tag string
}

func benchIdle(ctx context.Context, o idleOptions) (idleReport, error) {
	rep := idleReport{Scenario: "imap-idle", Label: o.label, Addr: o.setup.addr, TLS: string(o.setup.tls), Conns: o.conns, Sample: o.sample}
	limit, err := raiseFileLimit()
	if err != nil {
		return rep, err
	}
	rep.FileLimit = limit
	if uint64(o.conns)+64 > limit {
		return rep, fmt.Errorf("--conns %d needs more open files than the limit of %d (raise it with ulimit -n)", o.conns, limit)
	}
	var errs errorLog
	idlers := make([]*idler, o.conns)
	var next atomic.Int64
	var wg sync.WaitGroup
	t0 := time.Now()
	for range o.parallel {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= o.conns {
					return
				}
				c, err := dialIMAP(ctx, o.setup)
				if err != nil {
					errs.add(err)
					continue
				}
				if _, err = c.selectMailbox("SELECT", o.mailbox); err == nil {
					var tag string
					if tag, err = c.idleStart(); err == nil {
						c.conn.SetDeadline(time.Time{})
						idlers[i] = &idler{c: c, tag: tag}
						continue
					}
				}
				errs.add(err)
				c.conn.Close()
			}
		})
	}
	wg.Wait()
	rep.OpenS = time.Since(t0).Seconds()
	var live []*idler
	for _, d := range idlers {
		if d != nil {
			live = append(live, d)
		}
	}
	rep.Idling = len(live)
	defer func() {
		// DONE and LOGOUT on every connection, a few at a time.
		var n atomic.Int64
		var wg sync.WaitGroup
		for range o.parallel {
			wg.Go(func() {
				for {
					i := int(n.Add(1)) - 1
					if i >= len(live) {
						return
					}
					live[i].c.conn.SetDeadline(time.Now().Add(10 * time.Second))
					done := ""
					if live[i].tag != "" {
						done = "DONE\r\n"
					}
					live[i].c.send(done + live[i].c.nextTag() + " LOGOUT\r\n")
					live[i].c.conn.Close()
				}
			})
		}
		wg.Wait()
	}()

	if o.readyFile != "" {
		if err := os.WriteFile(o.readyFile, []byte(strconv.Itoa(len(live))+" idling\n"), 0o644); err != nil {
			return rep, fmt.Errorf("write --ready-file: %w", err)
		}
	}
	holdStart := time.Now()
	select {
	case <-time.After(o.hold):
	case <-ctx.Done():
	}
	rep.HoldS = time.Since(holdStart).Seconds()
	if o.readyFile != "" {
		os.Remove(o.readyFile)
	}

	// Every connection still idling has seen nothing but possibly untagged updates: a
	// connection the server closed reads EOF at once.
	if o.sample > 0 && len(live) > 0 {
		step := max(len(live)/o.sample, 1)
		var sample []*idler
		for i := 0; i < len(live) && len(sample) < o.sample; i += step {
			sample = append(sample, live[i])
		}
		c, err := dialIMAP(ctx, o.setup)
		if err != nil {
			return rep, fmt.Errorf("connect to deliver the sample message: %w", err)
		}
		mk, err := newMessageMaker("loadgen@sender.test", []string{o.setup.user}, 2048, 7)
		if err != nil {
			c.close()
			return rep, err
		}
		msg, _ := mk.message(20_000_000)
		t := time.Now()
		_, err = c.appendMessage(o.mailbox, "", msg)
		c.close()
		if err != nil {
			return rep, fmt.Errorf("deliver the sample message: %w", err)
		}
		var seen atomic.Int64
		var slowest atomic.Int64
		var wg sync.WaitGroup
		for _, d := range sample {
			wg.Go(func() {
				if err := d.c.waitExists(t.Add(30 * time.Second)); err != nil {
					errs.add(err)
					return
				}
				seen.Add(1)
				el := int64(time.Since(t))
				for {
					cur := slowest.Load()
					if el <= cur || slowest.CompareAndSwap(cur, el) {
						break
					}
				}
			})
		}
		wg.Wait()
		rep.SampleSeen = int(seen.Load())
		rep.SampleMaxMs = ms(time.Duration(slowest.Load()))
	}
	// A connection the server dropped during the hold fails its DONE.
	var still atomic.Int64
	var n atomic.Int64
	var wg2 sync.WaitGroup
	for range o.parallel {
		wg2.Go(func() {
			for {
				i := int(n.Add(1)) - 1
				if i >= len(live) {
					return
				}
				if err := live[i].c.idleDone(live[i].tag); err != nil {
					errs.add(err)
					continue
				}
				still.Add(1)
				live[i].tag = ""
			}
		})
	}
	wg2.Wait()
	rep.StillIdling = int(still.Load())
	rep.Errors = errs.total
	rep.ErrorSamples = errs.samples
	return rep, nil
}

func (r idleReport) writeText(w io.Writer) {
	label := ""
	if r.Label != "" {
		label = " [" + r.Label + "]"
	}
	fmt.Fprintf(w, "mailbench imap-idle%s: %s, tls=%s, %d connections (open-file limit %d)\n", label, r.Addr, r.TLS, r.Conns, r.FileLimit)
	fmt.Fprintf(w, "  idling:   %d of %d after %.2f s; held %.1f s; %d answered DONE after the hold\n", r.Idling, r.Conns, r.OpenS, r.HoldS, r.StillIdling)
	fmt.Fprintf(w, "  delivery: an APPENDed message was announced (EXISTS) to %d of %d sampled idling connections, the last after %.1f ms\n", r.SampleSeen, r.Sample, r.SampleMaxMs)
	fmt.Fprintf(w, "  errors:   %d\n", r.Errors)
	for _, e := range r.ErrorSamples {
		fmt.Fprintf(w, "    %d× %s\n", e.Count, e.Error)
	}
}

// ---------------------------------------------------------------------------------------
// imap-fetchall

const maxFetchRuns = 20

type fetchallOptions struct {
	setup   imapSetup
	mailbox string
	runs    int
	json    bool
	jsonOut string
	label   string
}

func parseFetchallFlags(args []string, stderr io.Writer) (fetchallOptions, error) {
	fs := flag.NewFlagSet("mailbench imap-fetchall", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o fetchallOptions
	check := commonIMAPFlags(fs, &o.setup, false)
	fs.StringVar(&o.mailbox, "mailbox", "INBOX", "mailbox to fetch")
	fs.IntVar(&o.runs, "runs", 1, "fetches, each by a fresh connection")
	fs.BoolVar(&o.json, "json", false, "print the report as JSON")
	fs.StringVar(&o.jsonOut, "json-out", "", "also write the JSON report to `file`")
	fs.StringVar(&o.label, "label", "", "name of the server under test, carried into the report")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if err := check(); err != nil {
		return o, err
	}
	if o.runs < 1 || o.runs > maxFetchRuns {
		return o, fmt.Errorf("--runs %d: want 1 to %d", o.runs, maxFetchRuns)
	}
	return o, nil
}

type fetchRun struct {
	LoginMs  float64 `json:"login_ms"`
	SelectMs float64 `json:"select_ms"`
	FetchMs  float64 `json:"fetch_ms"`
	TotalMs  float64 `json:"total_ms"`
	Exists   int     `json:"exists"`
	Fetched  int     `json:"fetched"`
	Bytes    int     `json:"bytes"`
}

type fetchallReport struct {
	Scenario string     `json:"scenario"`
	Label    string     `json:"label,omitempty"`
	Addr     string     `json:"addr"`
	TLS      string     `json:"tls"`
	Mailbox  string     `json:"mailbox"`
	Runs     []fetchRun `json:"runs"`
	FetchMs  float64    `json:"fetch_ms"` // the first run's
	TotalMs  float64    `json:"total_ms"` // the first run's
	Error    string     `json:"error,omitempty"`
}

func runFetchall(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFetchallFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "mailbench imap-fetchall: %v\n", err)
		return 2
	}
	rep := fetchallReport{Scenario: "imap-fetchall", Label: o.label, Addr: o.setup.addr, TLS: string(o.setup.tls), Mailbox: o.mailbox}
	for range o.runs {
		r, err := fetchAll(ctx, o)
		if err != nil {
			rep.Error = err.Error()
			break
		}
		rep.Runs = append(rep.Runs, r)
	}
	if len(rep.Runs) > 0 {
		rep.FetchMs, rep.TotalMs = rep.Runs[0].FetchMs, rep.Runs[0].TotalMs
	}
	if !writeReport("imap-fetchall", rep, o.json, o.jsonOut, stdout, stderr) || rep.Error != "" {
		return 1
	}
	return 0
}

// fetchAll times, on a fresh connection: connect and log in, SELECT, then
// UID FETCH 1:* (FLAGS ENVELOPE) until its tagged OK.
func fetchAll(ctx context.Context, o fetchallOptions) (fetchRun, error) {
	var r fetchRun
	t0 := time.Now()
	c, err := dialIMAP(ctx, o.setup)
	if err != nil {
		return r, err
	}
	defer c.close()
	t1 := time.Now()
	info, err := c.selectMailbox("SELECT", o.mailbox)
	if err != nil {
		return r, err
	}
	t2 := time.Now()
	// The whole mailbox may take long: allow more than one exchange's time.
	c.conn.SetDeadline(time.Now().Add(10 * opTimeout))
	tag := c.nextTag()
	if err := c.send(tag + " UID FETCH 1:* (FLAGS ENVELOPE)\r\n"); err != nil {
		return r, err
	}
	res, err := c.readTagged(tag, "UID FETCH 1:* (FLAGS ENVELOPE)")
	if err != nil {
		return r, err
	}
	t3 := time.Now()
	for _, s := range res.untagged {
		f := strings.Fields(s)
		if len(f) >= 3 && f[0] == "*" && strings.EqualFold(f[2], "FETCH") {
			r.Fetched++
		}
	}
	r.LoginMs, r.SelectMs, r.FetchMs, r.TotalMs = ms(t1.Sub(t0)), ms(t2.Sub(t1)), ms(t3.Sub(t2)), ms(t3.Sub(t0))
	r.Exists, r.Bytes = info.exists, res.bytes
	if r.Fetched < info.exists {
		return r, fmt.Errorf("UID FETCH 1:*: %d FETCH responses for %d messages", r.Fetched, info.exists)
	}
	return r, nil
}

func (r fetchallReport) writeText(w io.Writer) {
	label := ""
	if r.Label != "" {
		label = " [" + r.Label + "]"
	}
	fmt.Fprintf(w, "mailbench imap-fetchall%s: %s, tls=%s, mailbox %s, UID FETCH 1:* (FLAGS ENVELOPE), fresh connection each run\n", label, r.Addr, r.TLS, r.Mailbox)
	for i, x := range r.Runs {
		fmt.Fprintf(w, "  run %d: %d messages, %d fetched, %.1f MB; login %.1f ms, SELECT %.1f ms, FETCH %.1f ms; total %.1f ms\n",
			i+1, x.Exists, x.Fetched, float64(x.Bytes)/1e6, x.LoginMs, x.SelectMs, x.FetchMs, x.TotalMs)
	}
	if r.Error != "" {
		fmt.Fprintf(w, "  error: %s\n", r.Error)
	}
}

// ---------------------------------------------------------------------------------------
// maildir: the messages both servers are filled with.

const maxMaildirMessages = 1_000_000

type maildirOptions struct {
	dir   string
	count int
	size  int
	seen  int // every seen-th message is \Seen; 0: none
	seed  uint64
	to    string
}

func parseMaildirFlags(args []string, stderr io.Writer) (maildirOptions, error) {
	fs := flag.NewFlagSet("mailbench maildir", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o maildirOptions
	fs.StringVar(&o.dir, "dir", "", "Maildir to create (its cur/, new/, tmp/); must not exist")
	fs.IntVar(&o.count, "count", 2000, "messages to write")
	size := fs.String("size", "4KB", "message size: bytes, KB, KiB, MB or MiB")
	fs.IntVar(&o.seen, "seen-every", 2, "mark every Nth message \\Seen (0: none)")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the message content")
	fs.StringVar(&o.to, "to", "bench@bench.test", "To `address`")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.dir == "" {
		return o, errors.New("--dir is required")
	}
	var err error
	if o.size, err = parseSize(*size); err != nil {
		return o, fmt.Errorf("--size: %w", err)
	}
	if o.size < minMessageSize {
		return o, fmt.Errorf("--size: at least %d bytes", minMessageSize)
	}
	if o.count < 1 || o.count > maxMaildirMessages {
		return o, fmt.Errorf("--count %d: want 1 to %d", o.count, maxMaildirMessages)
	}
	if o.seen < 0 {
		return o, errors.New("--seen-every: want 0 or more")
	}
	return o, nil
}

func runMaildir(_ context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseMaildirFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "mailbench maildir: %v\n", err)
		return 2
	}
	if err := writeMaildir(o); err != nil {
		fmt.Fprintf(stderr, "mailbench maildir: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "mailbench maildir: %d messages of %d bytes in %s\n", o.count, o.size, o.dir)
	return 0
}

// writeMaildir writes messages 0 to count-1 into dir/cur, named in delivery order so
// that a server assigning UIDs by name gives message i the UID i+1.
func writeMaildir(o maildirOptions) error {
	if _, err := os.Stat(o.dir); err == nil {
		return fmt.Errorf("%s exists", o.dir)
	}
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(o.dir, sub), 0o755); err != nil {
			return fmt.Errorf("make the Maildir: %w", err)
		}
	}
	mk, err := newMessageMaker("loadgen@sender.test", []string{o.to}, o.size, o.seed)
	if err != nil {
		return err
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range o.count {
		msg, err := mk.message(i)
		if err != nil {
			return err
		}
		flags := ""
		if o.seen > 0 && i%o.seen == 0 {
			flags = "S"
		}
		name := filepath.Join(o.dir, "cur", fmt.Sprintf("%d.M%07dP1.mailbench,S=%d:2,%s", base.Unix()+int64(i), i, len(msg), flags))
		if err := os.WriteFile(name, msg, 0o644); err != nil {
			return fmt.Errorf("write message %d: %w", i, err)
		}
		mt := base.Add(time.Duration(i) * time.Second)
		if err := os.Chtimes(name, mt, mt); err != nil {
			return fmt.Errorf("date message %d: %w", i, err)
		}
	}
	return nil
}
