package queue

import (
	"context"
	"fmt"
	"time"
)

// Status is where a recipient of a queued message stands.
type Status string

// Recipient states.
const (
	StatusQueued    Status = "queued"    // waiting for its next attempt
	StatusDelivered Status = "delivered" // accepted by the remote server
	StatusFailed    Status = "failed"    // refused for good or given up
)

// Entry is a queued message as `mailroom queue list|show` shows it.
type Entry struct {
	ID         int64
	From       string // envelope sender, "" for a notification
	Size       int64
	Created    time.Time
	EnvID      string
	Ret        Ret
	Recipients []Recipient
}

// Recipient is one recipient of an Entry.
type Recipient struct {
	Address     string
	Status      Status
	Attempts    int
	LastError   string // the last reply or error, "" before the first attempt
	LastAttempt time.Time
	NextAttempt time.Time // zero once the recipient is done
	RemoteMTA   string    // the mail exchanger of the last attempt
	TLS         bool      // the last attempt was under STARTTLS
	// NotifyPending is set while a notification about this recipient is still to be
	// handed over.
	NotifyPending bool
}

// List returns every message in the queue, oldest first.
func (q *Queue) List(ctx context.Context) ([]Entry, error) {
	return q.entries(ctx, 0)
}

// Show returns one message of the queue, or an error matching ErrNotFound.
func (q *Queue) Show(ctx context.Context, id int64) (Entry, error) {
	if id <= 0 {
		return Entry{}, ErrNotFound
	}
	es, err := q.entries(ctx, id)
	if err != nil {
		return Entry{}, err
	}
	if len(es) == 0 {
		return Entry{}, ErrNotFound
	}
	return es[0], nil
}

func (q *Queue) entries(ctx context.Context, id int64) ([]Entry, error) {
	msgs, rcpts, err := q.listRows(ctx, id)
	if err != nil {
		return nil, err
	}
	out := make([]Entry, 0, len(msgs))
	for _, m := range msgs {
		e := Entry{ID: m.id, From: m.sender, Size: m.size, Created: fromMicros(m.created), EnvID: m.envid, Ret: m.ret}
		for _, r := range rcpts[m.id] {
			rc := Recipient{
				Address: r.addr, Status: Status(r.status), Attempts: r.attempts,
				LastError: diagnosticText(r), LastAttempt: fromMicros(r.lastAttempt),
				RemoteMTA: r.remoteMTA, TLS: r.tls, NotifyPending: r.dsnPending != "",
			}
			if r.status == stateQueued || r.dsnPending != "" {
				rc.NextAttempt = fromMicros(r.nextAttempt)
			}
			e.Recipients = append(e.Recipients, rc)
		}
		out = append(out, e)
	}
	return out, nil
}

func diagnosticText(r rcptRow) string {
	if r.attempts == 0 {
		return ""
	}
	return diagnostic(&r)
}

// Retry makes the message's unfinished recipients due now and wakes this process's
// worker. Another process's worker sees it within its PollInterval.
func (q *Queue) Retry(ctx context.Context, id int64) error {
	if err := q.makeDue(ctx, id, micros(q.now())); err != nil {
		return err
	}
	q.Wake()
	return nil
}

// Drop removes a message from the queue without notifying its sender. A delivery in
// flight finishes, but its outcome is no longer recorded.
func (q *Queue) Drop(ctx context.Context, id int64) error {
	found, err := q.remove(ctx, id, `DELETE FROM queue_messages WHERE id = $1 RETURNING blob`)
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("message %d: %w", id, ErrNotFound)
	}
	return nil
}
