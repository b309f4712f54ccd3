package main

// The imap scenario: concurrent clients, each logged in once with INBOX selected, run a
// weighted random mix of commands; the report gives operations per second and latency
// per command.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Bounds on the imap flags.
const (
	maxIMAPClients = 1000
	maxIMAPOps     = 10_000_000
	maxIdleHold    = 10 * time.Second
)

// imapOps are the operations of the mix, in report order. What each sends:
//
//	select        SELECT INBOX (again)
//	fetchflags    UID FETCH u:u+49 (UID FLAGS)
//	fetchheaders  UID FETCH u:u+19 (UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (FROM TO SUBJECT DATE MESSAGE-ID)])
//	fetchbody     UID FETCH u (UID BODY.PEEK[])
//	store         UID STORE u +FLAGS.SILENT (\Flagged), or -FLAGS, alternately
//	append        APPEND INBOX of a --size message
//	search        UID SEARCH SUBJECT "N" (N a random message number)
//	expunge       UID STORE u +FLAGS.SILENT (\Deleted), then UID EXPUNGE u, for a
//	              message this client appended (it appends one first, untimed, if
//	              it has none), so the mailbox keeps its size
//	idle          IDLE, wait --idle-hold, DONE (the hold is not in the latency)
//
// u is a random UID from 1 to the highest the client knows.
var imapOps = []string{"select", "fetchflags", "fetchheaders", "fetchbody", "store", "append", "search", "expunge", "idle"}

const defaultIMAPMix = "select=5,fetchflags=25,fetchheaders=20,fetchbody=15,store=10,append=5,search=10,expunge=5,idle=5"

// imapMix is a weight per operation, indexed as imapOps.
type imapMix []int

// parseIMAPMix reads "name=weight,...": names from imapOps, weights 0 to 1000, at
// least one positive; operations not named weigh 0.
func parseIMAPMix(s string) (imapMix, error) {
	mix := make(imapMix, len(imapOps))
	total := 0
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, w, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("--mix: %q: want name=weight", part)
		}
		i := slices.Index(imapOps, strings.TrimSpace(name))
		if i < 0 {
			return nil, fmt.Errorf("--mix: unknown operation %q; want one of %s", name, strings.Join(imapOps, ", "))
		}
		n, err := strconv.Atoi(strings.TrimSpace(w))
		if err != nil || n < 0 || n > 1000 {
			return nil, fmt.Errorf("--mix: %q: want a weight from 0 to 1000", part)
		}
		mix[i] = n
		total += n
	}
	if total == 0 {
		return nil, errors.New("--mix: no operation has a positive weight")
	}
	return mix, nil
}

// pick returns an operation index drawn with the mix's weights.
func (m imapMix) pick(r *rand.Rand) int {
	total := 0
	for _, w := range m {
		total += w
	}
	x := r.IntN(total)
	for i, w := range m {
		if x < w {
			return i
		}
		x -= w
	}
	return len(m) - 1
}

func (m imapMix) String() string {
	var parts []string
	for i, w := range m {
		if w > 0 {
			parts = append(parts, imapOps[i]+"="+strconv.Itoa(w))
		}
	}
	return strings.Join(parts, ",")
}

// imapOptions are the imap scenario's checked flags.
type imapOptions struct {
	setup    imapSetup
	mailbox  string
	clients  int
	ops      int
	duration time.Duration
	mix      imapMix
	size     int
	idleHold time.Duration
	json     bool
	jsonOut  string
	seed     uint64
	label    string
}

// commonIMAPFlags declares the flags every IMAP scenario has and returns a function
// that checks them once parsed. A scenario that spreads its clients over several
// servers (several) accepts more than one --addr.
func commonIMAPFlags(fs *flag.FlagSet, s *imapSetup, several bool) func() error {
	var addrs listFlag
	usage := "IMAP server `host:port`; loopback only (127.0.0.0/8, ::1, localhost)"
	if several {
		usage += "; repeat or separate with commas to spread the clients over several servers in turn"
	}
	fs.Var(&addrs, "addr", usage)
	mode := fs.String("tls", "implicit", "`mode`: implicit (IMAPS), starttls or none")
	fs.StringVar(&s.user, "user", "", "login `name`")
	fs.StringVar(&s.pass, "password", "", "login `password`")
	return func() error {
		if fs.NArg() > 0 {
			return fmt.Errorf("unexpected arguments %q", fs.Args())
		}
		var err error
		if s.addrs, err = loopbackAddrs(addrs); err != nil {
			return err
		}
		if len(s.addrs) > 1 && !several {
			return fmt.Errorf("--addr: this scenario takes one address, not %d", len(s.addrs))
		}
		s.addr = s.addrs[0]
		if s.tls, err = parseIMAPTLS(*mode); err != nil {
			return err
		}
		if s.user == "" || s.pass == "" {
			return errors.New("--user and --password are required")
		}
		if strings.ContainsAny(s.user+s.pass, "\r\n") {
			return errors.New("--user and --password cannot contain line breaks")
		}
		return nil
	}
}

func parseIMAPFlags(args []string, stderr io.Writer) (imapOptions, error) {
	fs := flag.NewFlagSet("mailbench imap", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o imapOptions
	check := commonIMAPFlags(fs, &o.setup, true)
	fs.StringVar(&o.mailbox, "mailbox", "INBOX", "mailbox the clients select")
	fs.IntVar(&o.clients, "clients", 50, "concurrent clients, each logged in once")
	fs.IntVar(&o.ops, "ops", 1_000_000, "operations in all (the run stops at this or --duration)")
	fs.DurationVar(&o.duration, "duration", 30*time.Second, "longest the operations may take (the run stops at this or --ops)")
	mix := fs.String("mix", defaultIMAPMix, "operation `weights`: name=weight,... of "+strings.Join(imapOps, ", "))
	size := fs.String("size", "10KB", "size of APPENDed messages: bytes, KB, KiB, MB or MiB")
	fs.DurationVar(&o.idleHold, "idle-hold", 100*time.Millisecond, "how long an idle operation stays in IDLE")
	fs.BoolVar(&o.json, "json", false, "print the report as JSON")
	fs.StringVar(&o.jsonOut, "json-out", "", "also write the JSON report to `file`")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the operation sequence and message content")
	fs.StringVar(&o.label, "label", "", "name of the server under test, carried into the report")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if err := check(); err != nil {
		return o, err
	}
	var err error
	if o.mix, err = parseIMAPMix(*mix); err != nil {
		return o, err
	}
	if o.size, err = parseSize(*size); err != nil {
		return o, fmt.Errorf("--size: %w", err)
	}
	if o.size < minMessageSize {
		return o, fmt.Errorf("--size: at least %d bytes", minMessageSize)
	}
	if o.mailbox == "" || strings.ContainsAny(o.mailbox, "\r\n") {
		return o, errors.New("--mailbox: want a mailbox name")
	}
	if o.clients < 1 || o.clients > maxIMAPClients {
		return o, fmt.Errorf("--clients %d: want 1 to %d", o.clients, maxIMAPClients)
	}
	if o.ops < 1 || o.ops > maxIMAPOps {
		return o, fmt.Errorf("--ops %d: want 1 to %d", o.ops, maxIMAPOps)
	}
	if o.duration <= 0 || o.duration > maxDuration {
		return o, fmt.Errorf("--duration %v: want more than 0 and at most %v", o.duration, maxDuration)
	}
	if o.idleHold < 0 || o.idleHold > maxIdleHold {
		return o, fmt.Errorf("--idle-hold %v: want 0 to %v", o.idleHold, maxIdleHold)
	}
	return o, nil
}

// writeReport prints rep as text or JSON and writes the JSON file; it returns false
// when that failed.
func writeReport(name string, rep interface{ writeText(io.Writer) }, asJSON bool, jsonOut string, stdout, stderr io.Writer) bool {
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		fmt.Fprintf(stderr, "mailbench %s: %v\n", name, err)
		return false
	}
	js = append(js, '\n')
	if asJSON {
		stdout.Write(js)
	} else {
		rep.writeText(stdout)
	}
	if jsonOut != "" {
		if err := os.WriteFile(jsonOut, js, 0o644); err != nil {
			fmt.Fprintf(stderr, "mailbench %s: write the report: %v\n", name, err)
			return false
		}
	}
	return true
}

func runIMAP(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseIMAPFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "mailbench imap: %v\n", err)
		return 2
	}
	rep, err := benchIMAP(ctx, o)
	if err != nil {
		fmt.Fprintf(stderr, "mailbench imap: %v\n", err)
		return 1
	}
	if !writeReport("imap", rep, o.json, o.jsonOut, stdout, stderr) {
		return 1
	}
	if rep.Errors > 0 || rep.Ops == 0 {
		return 1
	}
	return 0
}

// imapOpStats is one operation's figures in the report.
type imapOpStats struct {
	Op     string  `json:"op"`
	Count  int     `json:"count"`
	PerS   float64 `json:"per_s"`
	P50Ms  float64 `json:"p50_ms"`
	P99Ms  float64 `json:"p99_ms"`
	MaxMs  float64 `json:"max_ms"`
	Errors int     `json:"errors"`
}

// imapReport is the result of one imap run, as printed with --json.
type imapReport struct {
	Scenario     string        `json:"scenario"`
	Label        string        `json:"label,omitempty"`
	Addr         string        `json:"addr"`
	TLS          string        `json:"tls"`
	Mailbox      string        `json:"mailbox"`
	Clients      int           `json:"clients"`
	Connected    int           `json:"connected"`
	Mix          string        `json:"mix"`
	OpsCap       int           `json:"ops_cap"`
	DurationCapS float64       `json:"duration_cap_s"`
	SizeBytes    int           `json:"size_bytes"`
	IdleHoldMs   float64       `json:"idle_hold_ms"`
	Started      string        `json:"started"`
	LoginS       float64       `json:"login_s"`
	ElapsedS     float64       `json:"elapsed_s"`
	Ops          int           `json:"ops"`
	OpsPerS      float64       `json:"ops_per_s"`
	Errors       int           `json:"errors"`
	ErrorSamples []errorCount  `json:"error_samples,omitempty"`
	PerOp        []imapOpStats `json:"per_op"`
}

// imapClientResult is what one client measured.
type imapClientResult struct {
	lat    [][]time.Duration // per operation
	errors []int
}

// imapWorker is one client of the mix.
type imapWorker struct {
	o      imapOptions
	c      *imapConn
	rnd    *rand.Rand
	mk     *messageMaker
	next   *atomic.Int64 // message numbers for APPEND
	uidMax uint32
	own    []uint32 // UIDs this client appended and has not expunged
	flip   bool
}

func (w *imapWorker) randomUID() uint32 {
	if w.uidMax == 0 {
		return 1
	}
	return 1 + w.rnd.Uint32N(w.uidMax)
}

func (w *imapWorker) appendOne() error {
	msg, err := w.mk.message(int(w.next.Add(1)))
	if err != nil {
		return err
	}
	uid, err := w.c.appendMessage(w.o.mailbox, "", msg)
	if err != nil {
		return err
	}
	if uid > 0 {
		w.own = append(w.own, uid)
		w.uidMax = max(w.uidMax, uid)
	}
	return nil
}

// do runs operation op and returns its latency.
func (w *imapWorker) do(op string) (time.Duration, error) {
	u := w.randomUID()
	var cmd string
	switch op {
	case "select":
		t := time.Now()
		info, err := w.c.selectMailbox("SELECT", w.o.mailbox)
		d := time.Since(t)
		if err == nil && info.uidNext > 1 {
			w.uidMax = max(w.uidMax, info.uidNext-1)
		}
		return d, err
	case "fetchflags":
		cmd = fmt.Sprintf("UID FETCH %d:%d (UID FLAGS)", u, u+49)
	case "fetchheaders":
		cmd = fmt.Sprintf("UID FETCH %d:%d (UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (FROM TO SUBJECT DATE MESSAGE-ID)])", u, u+19)
	case "fetchbody":
		cmd = fmt.Sprintf("UID FETCH %d (UID BODY.PEEK[])", u)
	case "store":
		sign := "+"
		if w.flip {
			sign = "-"
		}
		w.flip = !w.flip
		cmd = fmt.Sprintf(`UID STORE %d %sFLAGS.SILENT (\Flagged)`, u, sign)
	case "search":
		cmd = fmt.Sprintf(`UID SEARCH SUBJECT "message %d"`, w.rnd.IntN(int(max(w.uidMax, 1))))
	case "append":
		t := time.Now()
		err := w.appendOne()
		return time.Since(t), err
	case "expunge":
		if len(w.own) == 0 {
			if err := w.appendOne(); err != nil {
				return 0, err
			}
			if len(w.own) == 0 {
				return 0, errors.New("expunge: the server gave no APPENDUID to expunge by")
			}
		}
		uid := w.own[0]
		w.own = w.own[1:]
		t := time.Now()
		if _, err := w.c.command(fmt.Sprintf(`UID STORE %d +FLAGS.SILENT (\Deleted)`, uid)); err != nil {
			return 0, err
		}
		_, err := w.c.command(fmt.Sprintf("UID EXPUNGE %d", uid))
		return time.Since(t), err
	case "idle":
		t := time.Now()
		tag, err := w.c.idleStart()
		if err != nil {
			return 0, err
		}
		d := time.Since(t)
		time.Sleep(w.o.idleHold)
		t = time.Now()
		err = w.c.idleDone(tag)
		return d + time.Since(t), err
	default:
		return 0, fmt.Errorf("unknown operation %q", op)
	}
	t := time.Now()
	_, err := w.c.command(cmd)
	return time.Since(t), err
}

// benchIMAP connects the clients, then runs the mix until o.ops operations or
// o.duration.
func benchIMAP(ctx context.Context, o imapOptions) (imapReport, error) {
	mk, err := newMessageMaker("loadgen@sender.test", []string{o.setup.user}, o.size, o.seed)
	if err != nil {
		return imapReport{}, err
	}
	rep := imapReport{
		Scenario: "imap", Label: o.label, Addr: strings.Join(o.setup.addrs, ","), TLS: string(o.setup.tls),
		Mailbox: o.mailbox, Clients: o.clients, Mix: o.mix.String(), OpsCap: o.ops,
		DurationCapS: o.duration.Seconds(), SizeBytes: o.size, IdleHoldMs: ms(o.idleHold),
	}
	var (
		errs      errorLog
		wg        sync.WaitGroup
		ready     sync.WaitGroup
		start     = make(chan struct{})
		mu        sync.Mutex
		results   []imapClientResult
		connected atomic.Int64
		claimed   atomic.Int64
		msgNum    atomic.Int64
		deadline  time.Time
	)
	msgNum.Store(10_000_000) // APPENDed messages are numbered apart from any imported set
	loginStart := time.Now()
	ready.Add(o.clients)
	for i := range o.clients {
		wg.Go(func() {
			w := &imapWorker{o: o, mk: mk, next: &msgNum,
				rnd: rand.New(rand.NewPCG(o.seed, uint64(i)))}
			setup := o.setup
			setup.addr = target(o.setup.addrs, i)
			c, err := dialIMAP(ctx, setup)
			var info selectInfo
			if err == nil {
				w.c = c
				info, err = c.selectMailbox("SELECT", o.mailbox)
			}
			ready.Done()
			if err != nil {
				errs.add(err)
				if w.c != nil {
					w.c.conn.Close()
				}
				return
			}
			defer c.close()
			stopWatch := context.AfterFunc(ctx, func() { c.conn.SetDeadline(time.Now()) })
			defer stopWatch()
			connected.Add(1)
			if info.uidNext > 1 {
				w.uidMax = info.uidNext - 1
			}
			res := imapClientResult{lat: make([][]time.Duration, len(imapOps)), errors: make([]int, len(imapOps))}
			select {
			case <-start:
			case <-ctx.Done():
				return
			}
			for ctx.Err() == nil && time.Now().Before(deadline) {
				if claimed.Add(1) > int64(o.ops) {
					break
				}
				op := o.mix.pick(w.rnd)
				d, err := w.do(imapOps[op])
				if err != nil {
					res.errors[op]++
					errs.add(fmt.Errorf("%s: %w", imapOps[op], err))
					if !errors.Is(err, errIMAPNo) {
						// The connection is in an unknown state: this client stops.
						break
					}
					continue
				}
				res.lat[op] = append(res.lat[op], d)
			}
			mu.Lock()
			results = append(results, res)
			mu.Unlock()
		})
	}
	ready.Wait()
	begin := time.Now()
	rep.LoginS = begin.Sub(loginStart).Seconds()
	rep.Connected = int(connected.Load())
	deadline = begin.Add(o.duration)
	close(start)
	wg.Wait()
	elapsed := time.Since(begin)
	rep.Started = begin.UTC().Format(time.RFC3339)
	rep.ElapsedS = elapsed.Seconds()
	rep.Errors = errs.total
	rep.ErrorSamples = slices.Clone(errs.samples)
	for op, name := range imapOps {
		var lat []time.Duration
		st := imapOpStats{Op: name}
		for _, r := range results {
			lat = append(lat, r.lat[op]...)
			st.Errors += r.errors[op]
		}
		s := summarize(lat)
		st.Count = s.n
		st.PerS = rate(s.n, elapsed)
		st.P50Ms, st.P99Ms, st.MaxMs = ms(s.p50), ms(s.p99), ms(s.max)
		rep.Ops += s.n
		if o.mix[op] > 0 || s.n > 0 {
			rep.PerOp = append(rep.PerOp, st)
		}
	}
	rep.OpsPerS = rate(rep.Ops, elapsed)
	return rep, nil
}

func (r imapReport) writeText(w io.Writer) {
	label := ""
	if r.Label != "" {
		label = " [" + r.Label + "]"
	}
	fmt.Fprintf(w, "mailbench imap%s: %s, tls=%s, %d clients (%d connected in %.2f s), mailbox %s, cap %d ops or %gs\n",
		label, r.Addr, r.TLS, r.Clients, r.Connected, r.LoginS, r.Mailbox, r.OpsCap, r.DurationCapS)
	fmt.Fprintf(w, "  mix: %s; APPEND %d bytes; IDLE held %.0f ms\n", r.Mix, r.SizeBytes, r.IdleHoldMs)
	fmt.Fprintf(w, "  overall: %d ops in %.3f s = %.1f ops/s\n", r.Ops, r.ElapsedS, r.OpsPerS)
	fmt.Fprintf(w, "  %-13s %8s %10s %9s %9s %9s %7s\n", "operation", "count", "ops/s", "p50 ms", "p99 ms", "max ms", "errors")
	for _, s := range r.PerOp {
		fmt.Fprintf(w, "  %-13s %8d %10.1f %9.2f %9.2f %9.2f %7d\n", s.Op, s.Count, s.PerS, s.P50Ms, s.P99Ms, s.MaxMs, s.Errors)
	}
	fmt.Fprintf(w, "  errors: %d\n", r.Errors)
	for _, e := range r.ErrorSamples {
		fmt.Fprintf(w, "    %d× %s\n", e.Count, e.Error)
	}
}

// runIMAPScenario dispatches the IMAP scenarios and maildir.
func runIMAPScenario(ctx context.Context, name string, args []string, stdout, stderr io.Writer) int {
	switch name {
	case "imap":
		return runIMAP(ctx, args, stdout, stderr)
	case "imap-idle":
		return runIdle(ctx, args, stdout, stderr)
	case "imap-fetchall":
		return runFetchall(ctx, args, stdout, stderr)
	default:
		return runMaildir(ctx, args, stdout, stderr)
	}
}
