package main

// The activesync-* scenarios, against a server's /Microsoft-Server-ActiveSync over HTTPS:
//
//	activesync-sync      many devices fully sync one Inbox, then send Syncs that find no
//	                     change: items/s of the full syncs, Syncs/s and latency after
//	activesync-ping      many devices hold a Ping on the Inbox; one store write (a Read
//	                     flag set by another device) must answer them all: the time from
//	                     the change to each answer, and the server's memory meanwhile
//	activesync-fullsync  one new device syncs the whole Inbox: the time it takes
//
// Every device provisions itself (both phases) first; that is not timed. Devices are
// named PREFIX-N, with a fresh prefix per run unless --device-prefix is given, so each
// run starts from devices the server has never seen.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Bounds of the activesync flags.
const (
	maxEASDevices  = 50_000
	maxEASParallel = 256
	maxEASSyncs    = 10_000_000
	maxWindow      = 512 // [MS-ASCMD] 2.2.3.199.2
	// maxSyncRounds bounds the round trips of one full sync.
	maxSyncRounds = 100_000
)

// easCommon are the flags the three scenarios share besides the setup.
type easCommon struct {
	setup    easSetup
	prefix   string
	parallel int
	window   int
	json     bool
	jsonOut  string
	label    string
}

func declareEASCommon(fs *flag.FlagSet, o *easCommon) func() error {
	check := commonEASFlags(fs, &o.setup)
	fs.StringVar(&o.prefix, "device-prefix", "", "device id `prefix` (default: a new one per run, so every device is new to the server)")
	fs.IntVar(&o.parallel, "parallel", 16, "devices being set up (provisioned) at once")
	fs.IntVar(&o.window, "window", 100, "WindowSize of each Sync: items per round trip (1 to 512)")
	fs.BoolVar(&o.json, "json", false, "print the report as JSON")
	fs.StringVar(&o.jsonOut, "json-out", "", "also write the JSON report to `file`")
	fs.StringVar(&o.label, "label", "", "name of the server under test, carried into the report")
	return func() error {
		if err := check(); err != nil {
			return err
		}
		if o.prefix == "" {
			o.prefix = "mb" + strconv.FormatInt(time.Now().UnixNano()%1e12, 36)
		}
		if len(o.prefix) > 20 || strings.Trim(o.prefix, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != "" {
			return fmt.Errorf("--device-prefix %q: want up to 20 letters and digits", o.prefix)
		}
		if o.parallel < 1 || o.parallel > maxEASParallel {
			return fmt.Errorf("--parallel %d: want 1 to %d", o.parallel, maxEASParallel)
		}
		if o.window < 1 || o.window > maxWindow {
			return fmt.Errorf("--window %d: want 1 to %d", o.window, maxWindow)
		}
		return nil
	}
}

// deviceID names device i of the run.
func (o easCommon) deviceID(i int) string { return o.prefix + "x" + strconv.Itoa(i) }

// setupDevices provisions n devices, o.parallel at a time, and runs each through then
// (which may be nil). It stops at the first error.
func setupDevices(ctx context.Context, o easCommon, hc *http.Client, n int, then func(i int, d *easDevice) error) ([]*easDevice, error) {
	devs := make([]*easDevice, n)
	var next atomic.Int64
	var once sync.Once
	var first error
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for range min(o.parallel, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				d := newEASDevice(o.setup, hc, o.deviceID(i))
				sctx, scancel := context.WithTimeout(ctx, opTimeout)
				err := d.provision(sctx)
				if err == nil && then != nil {
					err = then(i, d)
				}
				scancel()
				if err != nil {
					once.Do(func() { first = fmt.Errorf("device %s: %w", d.id, err); cancel() })
					return
				}
				devs[i] = d
			}
		})
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		first = ctx.Err()
	}
	return devs, first
}

// readRSS reads VmRSS of process pid, in kB ([proc(5)] /proc/PID/status).
func readRSS(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, fmt.Errorf("server memory: %w", err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("server memory: VmRSS %q: %w", rest, err)
			}
			return kb, nil
		}
	}
	return 0, fmt.Errorf("server memory: no VmRSS for process %d", pid)
}

// readCPU reads the CPU time (user and system) process pid has used so far
// ([proc(5)] /proc/PID/stat, in clock ticks of 10 ms, Linux's USER_HZ).
func readCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("cpu time: %w", err)
	}
	// The fields after the command name (which may hold spaces) start at state.
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if i < 0 || len(f) < 13 {
		return 0, fmt.Errorf("cpu time: unexpected /proc/%d/stat", pid)
	}
	var ticks int64
	for _, v := range f[11:13] { // utime, stime
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("cpu time: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}

// runEAS parses a scenario's flags with parse and runs it with bench.
func runEAS[O any, R interface{ writeText(io.Writer) }](ctx context.Context, name string, args []string, stdout, stderr io.Writer,
	parse func([]string, io.Writer) (O, error), common func(O) easCommon, bench func(context.Context, O) (R, int, error)) int {
	o, err := parse(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "mailbench %s: %v\n", name, err)
		return 2
	}
	rep, errs, err := bench(ctx, o)
	if err != nil {
		fmt.Fprintf(stderr, "mailbench %s: %v\n", name, err)
		return 1
	}
	c := common(o)
	if !writeReport(name, rep, c.json, c.jsonOut, stdout, stderr) || errs > 0 {
		return 1
	}
	return 0
}

// runActiveSyncScenario dispatches the activesync scenarios.
func runActiveSyncScenario(ctx context.Context, name string, args []string, stdout, stderr io.Writer) int {
	switch name {
	case "activesync-sync":
		return runEAS(ctx, name, args, stdout, stderr, parseEASSyncFlags, func(o easSyncOptions) easCommon { return o.easCommon }, benchEASSync)
	case "activesync-ping":
		return runEAS(ctx, name, args, stdout, stderr, parseEASPingFlags, func(o easPingOptions) easCommon { return o.easCommon }, benchEASPing)
	default:
		return runEAS(ctx, name, args, stdout, stderr, parseEASFullFlags, func(o easFullOptions) easCommon { return o.easCommon }, benchEASFull)
	}
}

// ---------------------------------------------------------------------------------------
// activesync-sync

type easSyncOptions struct {
	easCommon
	devices  int
	duration time.Duration
	syncs    int
}

func parseEASSyncFlags(args []string, stderr io.Writer) (easSyncOptions, error) {
	fs := flag.NewFlagSet("mailbench activesync-sync", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o easSyncOptions
	check := declareEASCommon(fs, &o.easCommon)
	fs.IntVar(&o.devices, "devices", 50, "devices, each syncing the whole Inbox and then polling it")
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "how long the no-change Syncs run (or until --syncs)")
	fs.IntVar(&o.syncs, "syncs", 1_000_000, "no-change Syncs in all (or until --duration)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if err := check(); err != nil {
		return o, err
	}
	if o.devices < 1 || o.devices > maxEASDevices {
		return o, fmt.Errorf("--devices %d: want 1 to %d", o.devices, maxEASDevices)
	}
	if o.duration <= 0 || o.duration > maxDuration {
		return o, fmt.Errorf("--duration %v: want more than 0 and at most %v", o.duration, maxDuration)
	}
	if o.syncs < 1 || o.syncs > maxEASSyncs {
		return o, fmt.Errorf("--syncs %d: want 1 to %d", o.syncs, maxEASSyncs)
	}
	return o, nil
}

type easSyncReport struct {
	Scenario string `json:"scenario"`
	Label    string `json:"label,omitempty"`
	Addr     string `json:"addr"`
	Devices  int    `json:"devices"`
	Window   int    `json:"window"`
	// The full syncs, all devices at once.
	ItemsPerDevice int     `json:"items_per_device"`
	Items          int     `json:"items"`
	FullSyncS      float64 `json:"full_sync_s"`
	ItemsPerS      float64 `json:"items_per_s"`
	FullP50Ms      float64 `json:"full_p50_ms"`
	FullP99Ms      float64 `json:"full_p99_ms"`
	// The no-change Syncs.
	Syncs        int          `json:"syncs"`
	SyncsPerS    float64      `json:"syncs_per_s"`
	SyncP50Ms    float64      `json:"sync_p50_ms"`
	SyncP99Ms    float64      `json:"sync_p99_ms"`
	SyncMaxMs    float64      `json:"sync_max_ms"`
	Changed      int          `json:"changed"` // Syncs that did bring items
	Errors       int          `json:"errors"`
	ErrorSamples []errorCount `json:"error_samples,omitempty"`
}

func benchEASSync(ctx context.Context, o easSyncOptions) (easSyncReport, int, error) {
	rep := easSyncReport{Scenario: "activesync-sync", Label: o.label, Addr: o.setup.addr, Devices: o.devices, Window: o.window}
	hc := &http.Client{Transport: newEASTransport(o.setup, o.devices+8)}
	devs, err := setupDevices(ctx, o.easCommon, hc, o.devices, func(_ int, d *easDevice) error { return d.folderSync(ctx) })
	if err != nil {
		return rep, 0, err
	}
	var errs errorLog

	// Every device syncs the whole Inbox, all at once.
	full := make([]time.Duration, len(devs))
	counts := make([]int, len(devs))
	start := time.Now()
	var wg sync.WaitGroup
	for i, d := range devs {
		wg.Go(func() {
			t := time.Now()
			n, _, _, err := d.fullSync(ctx, o.window, maxSyncRounds)
			full[i], counts[i] = time.Since(t), n
			if err != nil {
				errs.add(err)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	for _, n := range counts {
		rep.Items += n
	}
	rep.ItemsPerDevice = counts[0]
	for _, n := range counts {
		if n != counts[0] {
			errs.add(fmt.Errorf("devices received different item counts (%d and %d)", counts[0], n))
			break
		}
	}
	rep.FullSyncS, rep.ItemsPerS = elapsed.Seconds(), rate(rep.Items, elapsed)
	fs := summarize(full)
	rep.FullP50Ms, rep.FullP99Ms = ms(fs.p50), ms(fs.p99)

	// Then each device polls with Syncs that find nothing new.
	var claimed, changed atomic.Int64
	lat := make([][]time.Duration, len(devs))
	deadline := time.Now().Add(o.duration)
	start = time.Now()
	for i, d := range devs {
		wg.Go(func() {
			for time.Now().Before(deadline) && ctx.Err() == nil && claimed.Add(1) <= int64(o.syncs) {
				t := time.Now()
				res, err := d.syncInbox(ctx, o.window, "")
				if err != nil {
					errs.add(err)
					continue
				}
				lat[i] = append(lat[i], time.Since(t))
				if res.added > 0 {
					changed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	elapsed = time.Since(start)
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	s := summarize(all)
	rep.Syncs, rep.SyncsPerS = len(all), rate(len(all), elapsed)
	rep.SyncP50Ms, rep.SyncP99Ms, rep.SyncMaxMs = ms(s.p50), ms(s.p99), ms(s.max)
	rep.Changed = int(changed.Load())
	rep.Errors, rep.ErrorSamples = errs.total, errs.samples
	return rep, errs.total, nil
}

func (r easSyncReport) writeText(w io.Writer) {
	fmt.Fprintf(w, "activesync-sync %s: %d devices, WindowSize %d\n", r.Addr, r.Devices, r.Window)
	fmt.Fprintf(w, "  full sync:   %d items per device, %d in all in %.2f s: %.1f items/s; per device p50 %.1f ms, p99 %.1f ms\n",
		r.ItemsPerDevice, r.Items, r.FullSyncS, r.ItemsPerS, r.FullP50Ms, r.FullP99Ms)
	fmt.Fprintf(w, "  no-change:   %d Syncs, %.1f Syncs/s; p50 %.2f ms, p99 %.2f ms, max %.2f ms; %d brought items\n",
		r.Syncs, r.SyncsPerS, r.SyncP50Ms, r.SyncP99Ms, r.SyncMaxMs, r.Changed)
	writeErrors(w, r.Errors, r.ErrorSamples)
}

func writeErrors(w io.Writer, total int, samples []errorCount) {
	fmt.Fprintf(w, "  errors:      %d\n", total)
	for _, e := range samples {
		fmt.Fprintf(w, "    %d× %s\n", e.Count, e.Error)
	}
}

// ---------------------------------------------------------------------------------------
// activesync-ping

type easPingOptions struct {
	easCommon
	devices   int
	heartbeat int
	settle    time.Duration
	wait      time.Duration
	serverPID int
}

func parseEASPingFlags(args []string, stderr io.Writer) (easPingOptions, error) {
	fs := flag.NewFlagSet("mailbench activesync-ping", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o easPingOptions
	check := declareEASCommon(fs, &o.easCommon)
	fs.IntVar(&o.devices, "devices", 10000, "devices holding a Ping on the Inbox")
	fs.IntVar(&o.heartbeat, "heartbeat", 900, "HeartbeatInterval of the Pings, seconds (within the server's bounds)")
	fs.DurationVar(&o.settle, "settle", 3*time.Second, "wait after the last Ping is sent before the change")
	fs.DurationVar(&o.wait, "wait", 60*time.Second, "longest wait for the answers after the change")
	fs.IntVar(&o.serverPID, "server-pid", 0, "`pid` of the server on this machine, to read its VmRSS (0: do not)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if err := check(); err != nil {
		return o, err
	}
	if o.devices < 1 || o.devices > maxEASDevices {
		return o, fmt.Errorf("--devices %d: want 1 to %d", o.devices, maxEASDevices)
	}
	if o.heartbeat < 1 || o.heartbeat > 3540 {
		return o, fmt.Errorf("--heartbeat %d: want 1 to 3540 seconds", o.heartbeat)
	}
	if o.settle < 0 || o.settle > maxHold || o.wait <= 0 || o.wait > maxHold {
		return o, fmt.Errorf("--settle and --wait: want at most %v (and --wait more than 0)", maxHold)
	}
	if o.serverPID < 0 {
		return o, fmt.Errorf("--server-pid %d: want a process id", o.serverPID)
	}
	return o, nil
}

type easPingReport struct {
	Scenario  string  `json:"scenario"`
	Label     string  `json:"label,omitempty"`
	Addr      string  `json:"addr"`
	Devices   int     `json:"devices"`
	Sources   int     `json:"sources"`
	FileLimit uint64  `json:"file_limit"`
	SetupS    float64 `json:"setup_s"`
	// The server's VmRSS (kB) before the devices came and while every Ping was held.
	RSSBeforeKB int64   `json:"rss_before_kb,omitempty"`
	RSSHeldKB   int64   `json:"rss_held_kb,omitempty"`
	KBPerPing   float64 `json:"kb_per_ping,omitempty"`
	// From just before the change was sent to each Ping's answer.
	ChangeMs    float64 `json:"change_ms"` // the Sync that made the change
	Answered    int     `json:"answered"`
	WithinOneS  int     `json:"within_1s"`
	AnswerP50Ms float64 `json:"answer_p50_ms"`
	AnswerP99Ms float64 `json:"answer_p99_ms"`
	AnswerMaxMs float64 `json:"answer_max_ms"`
	// CPU time used from the change until every Ping was answered: by this tool (its
	// reading of the answers) and by the server (with --server-pid).
	ClientCPUMs  float64      `json:"client_cpu_ms"`
	ServerCPUMs  float64      `json:"server_cpu_ms,omitempty"`
	Early        int          `json:"early"` // answered before the change
	Errors       int          `json:"errors"`
	ErrorSamples []errorCount `json:"error_samples,omitempty"`
}

func benchEASPing(ctx context.Context, o easPingOptions) (easPingReport, int, error) {
	rep := easPingReport{Scenario: "activesync-ping", Label: o.label, Addr: o.setup.addr, Devices: o.devices, Sources: o.setup.sources}
	var err error
	if rep.FileLimit, err = raiseFileLimit(); err != nil {
		return rep, 0, err
	}
	if rep.FileLimit < uint64(o.devices)+64 {
		return rep, 0, fmt.Errorf("open-file limit %d is too low for %d connections", rep.FileLimit, o.devices)
	}
	if o.serverPID > 0 {
		if rep.RSSBeforeKB, err = readRSS(o.serverPID); err != nil {
			return rep, 0, err
		}
	}
	hc := &http.Client{Transport: newEASTransport(o.setup, o.devices+8)}
	// The device that makes the change knows one Inbox item.
	trigger := newEASDevice(o.setup, hc, o.deviceID(o.devices))
	var item string
	if err := func() error {
		sctx, cancel := context.WithTimeout(ctx, opTimeout)
		defer cancel()
		if err := trigger.provision(sctx); err != nil {
			return err
		}
		if err := trigger.folderSync(sctx); err != nil {
			return err
		}
		if _, err := trigger.syncInbox(sctx, 1, ""); err != nil {
			return err
		}
		res, err := trigger.syncInbox(sctx, 1, "")
		if err != nil {
			return err
		}
		if item = res.first; item == "" {
			return errors.New("the Inbox is empty: the change needs one message")
		}
		return nil
	}(); err != nil {
		return rep, 0, fmt.Errorf("the device making the change: %w", err)
	}

	var errs errorLog
	var changeAt atomic.Int64 // UnixNano of the change; 0 before it
	answers := make([]time.Duration, o.devices)
	var early, answered atomic.Int64
	pctx, stopPings := context.WithCancel(ctx)
	defer stopPings()
	var pings sync.WaitGroup
	start := time.Now()
	_, err = setupDevices(ctx, o.easCommon, hc, o.devices, func(i int, d *easDevice) error {
		d.inbox = trigger.inbox
		pings.Go(func() {
			rctx, cancel := context.WithTimeout(pctx, time.Duration(o.heartbeat)*time.Second+o.wait)
			defer cancel()
			status, err := d.ping(rctx, o.heartbeat)
			at := changeAt.Load()
			switch {
			case err != nil && pctx.Err() != nil:
				return // the run is over
			case err != nil:
				errs.add(err)
			case at == 0:
				early.Add(1)
				errs.add(fmt.Errorf("a Ping answered before the change: status %s", status))
			case status != "2":
				errs.add(fmt.Errorf("ping: status %s, want 2 (changes)", status))
			default:
				answers[i] = time.Since(time.Unix(0, at))
				answered.Add(1)
			}
		})
		return nil
	})
	rep.SetupS = time.Since(start).Seconds()
	if err != nil {
		stopPings()
		pings.Wait()
		return rep, 0, err
	}
	select {
	case <-time.After(o.settle):
	case <-ctx.Done():
		return rep, 0, ctx.Err()
	}
	if o.serverPID > 0 {
		if rep.RSSHeldKB, err = readRSS(o.serverPID); err != nil {
			return rep, 0, err
		}
		rep.KBPerPing = float64(rep.RSSHeldKB-rep.RSSBeforeKB) / float64(o.devices)
	}

	cpu := func(pid int) time.Duration {
		d, err := readCPU(pid)
		if err != nil {
			errs.add(err)
		}
		return d
	}
	clientCPU := cpu(os.Getpid())
	var serverCPU time.Duration
	if o.serverPID > 0 {
		serverCPU = cpu(o.serverPID)
	}
	t0 := time.Now()
	changeAt.Store(t0.UnixNano())
	sctx, cancel := context.WithTimeout(ctx, opTimeout)
	err = trigger.setRead(sctx, item, true)
	cancel()
	rep.ChangeMs = ms(time.Since(t0))
	if err != nil {
		return rep, 0, fmt.Errorf("the change: %w", err)
	}
	done := make(chan struct{})
	go func() { pings.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(o.wait):
		errs.add(fmt.Errorf("%d Pings not answered within %v of the change", o.devices-int(answered.Load())-int(early.Load()), o.wait))
		stopPings()
		<-done
	}
	rep.ClientCPUMs = ms(cpu(os.Getpid()) - clientCPU)
	if o.serverPID > 0 {
		rep.ServerCPUMs = ms(cpu(o.serverPID) - serverCPU)
	}
	var got []time.Duration
	for _, d := range answers {
		if d > 0 {
			got = append(got, d)
			if d <= time.Second {
				rep.WithinOneS++
			}
		}
	}
	s := summarize(got)
	rep.Answered, rep.AnswerP50Ms, rep.AnswerP99Ms, rep.AnswerMaxMs = len(got), ms(s.p50), ms(s.p99), ms(s.max)
	rep.Early = int(early.Load())
	rep.Errors, rep.ErrorSamples = errs.total, errs.samples
	return rep, errs.total, nil
}

func (r easPingReport) writeText(w io.Writer) {
	fmt.Fprintf(w, "activesync-ping %s: %d devices from %d source address(es), open-file limit %d; set up in %.1f s\n",
		r.Addr, r.Devices, r.Sources, r.FileLimit, r.SetupS)
	if r.RSSHeldKB > 0 {
		fmt.Fprintf(w, "  server VmRSS: %d kB before, %d kB with every Ping held: %.1f kB per Ping\n", r.RSSBeforeKB, r.RSSHeldKB, r.KBPerPing)
	}
	fmt.Fprintf(w, "  the change (a Sync setting Read) took %.1f ms\n", r.ChangeMs)
	fmt.Fprintf(w, "  answered:    %d of %d with status 2, %d within 1 s of the change; p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
		r.Answered, r.Devices, r.WithinOneS, r.AnswerP50Ms, r.AnswerP99Ms, r.AnswerMaxMs)
	fmt.Fprintf(w, "  CPU from the change to the last answer: mailbench %.0f ms", r.ClientCPUMs)
	if r.ServerCPUMs > 0 {
		fmt.Fprintf(w, ", server %.0f ms", r.ServerCPUMs)
	}
	fmt.Fprintln(w)
	if r.Early > 0 {
		fmt.Fprintf(w, "  %d Pings answered before the change\n", r.Early)
	}
	writeErrors(w, r.Errors, r.ErrorSamples)
}

// ---------------------------------------------------------------------------------------
// activesync-fullsync

type easFullOptions struct {
	easCommon
	runs   int
	expect int
}

func parseEASFullFlags(args []string, stderr io.Writer) (easFullOptions, error) {
	fs := flag.NewFlagSet("mailbench activesync-fullsync", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o easFullOptions
	check := declareEASCommon(fs, &o.easCommon)
	fs.IntVar(&o.runs, "runs", 1, "new devices, one after the other, each syncing the whole Inbox")
	fs.IntVar(&o.expect, "expect", 0, "items the Inbox holds; a run that gets another count is an error (0: no check)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if err := check(); err != nil {
		return o, err
	}
	if o.runs < 1 || o.runs > 100 {
		return o, fmt.Errorf("--runs %d: want 1 to 100", o.runs)
	}
	if o.expect < 0 {
		return o, fmt.Errorf("--expect %d: want 0 or more", o.expect)
	}
	return o, nil
}

type easFullRun struct {
	SetupMs   float64 `json:"setup_ms"` // Provision (both phases) and FolderSync
	Items     int     `json:"items"`
	Rounds    int     `json:"round_trips"`
	SyncS     float64 `json:"sync_s"`
	ItemsPerS float64 `json:"items_per_s"`
	Error     string  `json:"error,omitempty"`
}

type easFullReport struct {
	Scenario string       `json:"scenario"`
	Label    string       `json:"label,omitempty"`
	Addr     string       `json:"addr"`
	Window   int          `json:"window"`
	Runs     []easFullRun `json:"runs"`
	Errors   int          `json:"errors"`
}

func benchEASFull(ctx context.Context, o easFullOptions) (easFullReport, int, error) {
	rep := easFullReport{Scenario: "activesync-fullsync", Label: o.label, Addr: o.setup.addr, Window: o.window}
	for i := range o.runs {
		if ctx.Err() != nil {
			return rep, 0, ctx.Err()
		}
		// A new connection per run, as a new phone has.
		hc := &http.Client{Transport: newEASTransport(o.setup, 2)}
		d := newEASDevice(o.setup, hc, o.deviceID(i))
		var run easFullRun
		t := time.Now()
		err := d.provision(ctx)
		if err == nil {
			err = d.folderSync(ctx)
		}
		run.SetupMs = ms(time.Since(t))
		if err == nil {
			t = time.Now()
			run.Items, run.Rounds, _, err = d.fullSync(ctx, o.window, maxSyncRounds)
			el := time.Since(t)
			run.SyncS, run.ItemsPerS = el.Seconds(), rate(run.Items, el)
		}
		if err == nil && o.expect > 0 && run.Items != o.expect {
			err = fmt.Errorf("got %d items, want %d", run.Items, o.expect)
		}
		if err != nil {
			run.Error = err.Error()
			rep.Errors++
		}
		rep.Runs = append(rep.Runs, run)
		hc.CloseIdleConnections()
	}
	return rep, rep.Errors, nil
}

func (r easFullReport) writeText(w io.Writer) {
	fmt.Fprintf(w, "activesync-fullsync %s: WindowSize %d\n", r.Addr, r.Window)
	for i, run := range r.Runs {
		fmt.Fprintf(w, "  run %d: %d items in %.2f s (%.1f items/s, %d round trips); provision and FolderSync %.1f ms",
			i+1, run.Items, run.SyncS, run.ItemsPerS, run.Rounds, run.SetupMs)
		if run.Error != "" {
			fmt.Fprintf(w, "; error: %s", run.Error)
		}
		fmt.Fprintln(w)
	}
}
