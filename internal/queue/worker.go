package queue

import (
	"context"
	"errors"
	"sync"
	"time"
)

// job is the work on one message for one domain: the recipients this node leased.
type job struct {
	message int64
	domain  string
	rcpts   []rcptRow
}

// dispatcher claims due work and runs it within the concurrency limits.
type dispatcher struct {
	q       *Queue
	mu      sync.Mutex
	active  int
	domains map[string]int
	wg      sync.WaitGroup
	done    chan struct{} // a job finished
}

func (q *Queue) newDispatcher() *dispatcher {
	return &dispatcher{q: q, domains: map[string]int{}, done: make(chan struct{}, 1)}
}

// Run delivers queued mail until ctx is done, then waits for the deliveries in flight
// (which ctx's end cuts short) and returns ctx's error. It wakes when Enqueue or Retry is
// called in this process, when a delivery ends, and when the next retry falls due, and
// at least every PollInterval to see work other processes added.
func (q *Queue) Run(ctx context.Context) error {
	d := q.newDispatcher()
	defer d.wg.Wait()
	for {
		if _, err := d.fill(ctx); err != nil && ctx.Err() == nil {
			q.log.Error("queue: claim due work", "error", err)
		}
		wait := q.cfg.PollInterval
		now := q.now()
		if next, ok, err := q.nextWake(ctx); err != nil && ctx.Err() == nil {
			q.log.Error("queue: next due time", "error", err)
		} else if ok {
			// Never spin: work due now that could not be claimed (its domain is at its
			// limit) waits for a delivery to end, or a second.
			wait = min(wait, max(fromMicros(next).Sub(now), time.Second))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-q.wake:
		case <-d.done:
		case <-t.C:
		}
		t.Stop()
	}
}

// Flush delivers everything due now and returns when no due work is left and every
// delivery it started has ended. It is for `mailroom queue flush` and for tests that
// move a clock (Config.Now) and want the worker's effect at once.
func (q *Queue) Flush(ctx context.Context) error {
	d := q.newDispatcher()
	defer d.wg.Wait()
	for {
		n, err := d.fill(ctx)
		if err != nil {
			return err
		}
		if n == 0 && d.idle() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-d.done:
		}
	}
}

func (d *dispatcher) idle() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.active == 0
}

// fill claims due recipients while slots are free, groups them into jobs and starts
// them. Jobs beyond the limits are released at once; domains at their limit are not
// claimed at all. It returns how many jobs it started.
func (d *dispatcher) fill(ctx context.Context) (int, error) {
	q := d.q
	started := 0
	for {
		d.mu.Lock()
		free := q.cfg.MaxConcurrent - d.active
		var busy []string
		for dom, n := range d.domains {
			if n >= q.cfg.MaxPerDomain {
				busy = append(busy, dom)
			}
		}
		d.mu.Unlock()
		if free <= 0 {
			return started, nil
		}
		now := q.now()
		// A job has one or more recipients; claim a few per free slot.
		rows, err := q.leaseDue(ctx, micros(now), micros(now.Add(q.lease())), free*8, busy)
		if err != nil {
			return started, err
		}
		if len(rows) == 0 {
			return started, nil
		}
		var extra []int64
		d.mu.Lock()
		for _, j := range group(rows) {
			if d.active >= q.cfg.MaxConcurrent || d.domains[j.domain] >= q.cfg.MaxPerDomain {
				for _, r := range j.rcpts {
					extra = append(extra, r.id)
				}
				continue
			}
			d.active++
			d.domains[j.domain]++
			d.wg.Add(1)
			started++
			go d.run(ctx, j)
		}
		d.mu.Unlock()
		if len(extra) > 0 {
			return started, q.release(context.WithoutCancel(ctx), extra)
		}
	}
}

func (d *dispatcher) run(ctx context.Context, j job) {
	defer d.wg.Done()
	d.q.process(ctx, j)
	d.mu.Lock()
	d.active--
	if d.domains[j.domain]--; d.domains[j.domain] <= 0 {
		delete(d.domains, j.domain)
	}
	d.mu.Unlock()
	select {
	case d.done <- struct{}{}:
	default:
	}
}

// group splits leased rows into jobs by message and domain, in the order claimed.
func group(rows []rcptRow) []job {
	type key struct {
		message int64
		domain  string
	}
	idx := map[key]int{}
	var jobs []job
	for _, r := range rows {
		k := key{r.message, r.domain}
		i, ok := idx[k]
		if !ok {
			i = len(jobs)
			idx[k] = i
			jobs = append(jobs, job{message: r.message, domain: r.domain})
		}
		jobs[i].rcpts = append(jobs[i].rcpts, r)
	}
	return jobs
}

// process runs one job: the delivery attempt for the queued recipients, the
// notifications due, and the removal of the message once nothing is left to do.
// Recording uses a context that the end of ctx does not cancel, so that a verdict the
// remote server gave is not lost to a shutdown.
func (q *Queue) process(ctx context.Context, j job) {
	wctx := context.WithoutCancel(ctx)
	m, err := q.loadMessage(ctx, j.message)
	if errors.Is(err, ErrNotFound) {
		return // dropped while we held the lease
	}
	ids := make([]int64, len(j.rcpts))
	for i, r := range j.rcpts {
		ids[i] = r.id
	}
	if err != nil {
		q.log.Error("queue: load message", "message", j.message, "error", err)
		if err := q.release(wctx, ids); err != nil {
			q.log.Error("queue: release", "error", err)
		}
		return
	}
	var todo []*rcptRow
	for i := range j.rcpts {
		if j.rcpts[i].status == stateQueued {
			todo = append(todo, &j.rcpts[i])
		}
	}
	if len(todo) > 0 {
		out := q.attempt(ctx, m, j.domain, todo)
		q.decide(m, todo, out, q.now())
		if err := q.saveRecipients(wctx, todo); err != nil {
			q.log.Error("queue: record delivery results", "message", m.id, "error", err)
			return // the leases expire and the recipients are tried again
		}
		for i, r := range todo {
			q.log.Info("queue: delivery attempt", "message", m.id, "rcpt", r.addr, "status", r.status,
				"code", out[i].code, "mta", out[i].mta, "tls", out[i].tls, "detail", out[i].text)
		}
	}
	var pending []*rcptRow
	for i := range j.rcpts {
		if j.rcpts[i].dsnPending != "" {
			pending = append(pending, &j.rcpts[i])
		}
	}
	if len(pending) > 0 {
		q.sendDSN(wctx, m, pending)
	}
	if err := q.removeIfDone(wctx, m.id); err != nil {
		q.log.Error("queue: remove finished message", "message", m.id, "error", err)
	}
}

// decide turns each recipient's outcome into its next state: 2xx delivered, 5xx
// failed, 4xx retried after an exponential backoff until RetryFor has passed since the
// message arrived, then failed. It marks the notifications the recipients asked for
// (RFC 3461 section 4.1); a message with an empty sender gets none.
func (q *Queue) decide(m msgRow, rcpts []*rcptRow, out []outcome, now time.Time) {
	created := fromMicros(m.created)
	deadline := created.Add(q.cfg.RetryFor)
	ask := func(r *rcptRow, k Notify) bool { return m.sender != "" && wants(r.notify, k) }
	for i, r := range rcpts {
		o := out[i]
		r.attempts++
		r.lastAttempt = micros(now)
		r.lastStatus, r.remoteMTA, r.tls = o.status, o.mta, o.tls
		r.lastCode, r.lastError = 0, o.text
		if o.remote {
			r.lastCode = o.code
		}
		r.dsnPending = ""
		switch {
		case o.code/100 == 2:
			r.status = stateDelivered
			// RFC 3461 section 6.2.1: a success report is ours to send only when the
			// next hop does not take over DSN duties.
			if ask(r, NotifySuccess) && !o.relayDSN {
				r.dsnPending = actionRelayed
			}
		case o.code/100 == 5:
			r.status = stateFailed
			if ask(r, NotifyFailure) {
				r.dsnPending = actionFailed
			}
		case !now.Before(deadline):
			r.status = stateFailed
			r.lastError = "gave up after " + q.cfg.RetryFor.String() + ": " + r.lastError
			if ask(r, NotifyFailure) {
				r.dsnPending = actionFailed
			}
		default:
			next := now.Add(q.backoff(r.attempts))
			if next.After(deadline) {
				next = deadline
			}
			r.nextAttempt = micros(next)
			if !r.delayNotified && now.Sub(created) >= q.cfg.DelayNotice && ask(r, NotifyDelay) {
				r.dsnPending = actionDelayed
			}
		}
		if r.status != stateQueued {
			r.nextAttempt = micros(now)
		}
	}
}

// backoff is the wait after the given number of failed attempts: BackoffBase,
// doubling each time, at most BackoffMax.
func (q *Queue) backoff(attempts int) time.Duration {
	d := q.cfg.BackoffBase
	for i := 1; i < attempts && d < q.cfg.BackoffMax; i++ {
		d *= 2
	}
	return min(d, q.cfg.BackoffMax)
}

// sendDSN hands one notification about the pending recipients to the Deliverer, with an
// empty envelope sender (RFC 5321 section 4.5.5), and records it sent. If the Deliverer
// fails, the notification stays pending and is tried again after BackoffBase.
func (q *Queue) sendDSN(ctx context.Context, m msgRow, rcpts []*rcptRow) {
	raw, err := q.blobs.Read(ctx, m.blob)
	if err != nil {
		q.log.Error("queue: read message for notification", "message", m.id, "error", err)
		raw = []byte("\r\n")
	}
	now := q.now()
	dsn := q.composeDSN(m, rcpts, raw, now)
	err = q.notify.Deliver(ctx, "", []string{m.sender}, dsn)
	if err != nil {
		q.log.Error("queue: deliver notification", "message", m.id, "to", m.sender, "error", err)
	}
	for _, r := range rcpts {
		switch {
		case err == nil:
			if r.dsnPending == actionDelayed {
				r.delayNotified = true
			}
			r.dsnPending = ""
		case r.status != stateQueued:
			r.nextAttempt = micros(now.Add(q.cfg.BackoffBase))
		}
		// A delay notice that could not be sent stays pending; the next attempt's
		// outcome decides again whether one is due.
	}
	if err := q.saveNotified(ctx, rcpts); err != nil {
		q.log.Error("queue: record notification", "message", m.id, "error", err)
	}
}
