package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"mailroom/internal/db"
)

// The queue's SQL, the same on SQLite and PostgreSQL ($N placeholders, RETURNING, ON
// CONFLICT, integer microsecond times and integer booleans) but for the lease query.

// Recipient states, as stored in queue_recipients.status.
const (
	stateQueued    = "queued"
	stateDelivered = "delivered"
	stateFailed    = "failed"
)

// msgRow is a queue_messages row.
type msgRow struct {
	id      int64
	sender  string
	blob    string
	size    int64
	ret     Ret
	envid   string
	created int64
}

// rcptRow is a queue_recipients row, less its lease.
type rcptRow struct {
	id, message   int64
	addr, domain  string
	notify, orcpt string
	status        string
	attempts      int
	nextAttempt   int64
	lastAttempt   int64
	lastCode      int
	lastStatus    string
	lastError     string
	remoteMTA     string
	tls           bool
	delayNotified bool
	dsnPending    string
}

const rcptColumns = `id, message, address, domain, notify, orcpt, status, attempts, next_attempt,
	last_attempt, last_code, last_status, last_error, remote_mta, tls, delay_notified, dsn_pending`

func scanRcpt(s interface{ Scan(...any) error }) (rcptRow, error) {
	var r rcptRow
	var tls, notified int
	err := s.Scan(&r.id, &r.message, &r.addr, &r.domain, &r.notify, &r.orcpt, &r.status, &r.attempts,
		&r.nextAttempt, &r.lastAttempt, &r.lastCode, &r.lastStatus, &r.lastError, &r.remoteMTA, &tls, &notified, &r.dsnPending)
	r.tls, r.delayNotified = tls != 0, notified != 0
	return r, err
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func insertMessage(ctx context.Context, tx *sql.Tx, m Message, rcpts []newRcpt, blobID string, now int64) (int64, error) {
	var id int64
	err := tx.QueryRowContext(ctx, `INSERT INTO queue_messages (sender, blob, size, ret, envid, created)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		m.From, blobID, len(m.Raw), string(m.Ret), m.EnvID, now).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("insert message: %w", err)
	}
	for _, r := range rcpts {
		_, err := tx.ExecContext(ctx, `INSERT INTO queue_recipients (message, address, domain, notify, orcpt, next_attempt)
			VALUES ($1, $2, $3, $4, $5, $6)`, id, r.addr, r.domain, r.notify, r.orcpt, now)
		if err != nil {
			return 0, fmt.Errorf("insert recipient %s: %w", r.addr, err)
		}
	}
	return id, nil
}

// leaseQuery claims due recipients for one node in one short statement: due means
// needing work (queued, or a notification pending), next_attempt passed, and no
// unexpired lease. The subselect is the one place the dialect changes: PostgreSQL
// appends FOR UPDATE SKIP LOCKED to it, so that concurrent workers pass over each
// other's rows instead of waiting (and, in READ COMMITTED, never claim a row another
// worker claimed a moment earlier); SQLite serialises writers, which is enough.
func leaseQuery(d db.Dialect, excluded int) string {
	var b strings.Builder
	b.WriteString(`UPDATE queue_recipients SET leased_until = $1, leased_by = $2 WHERE id IN (
		SELECT id FROM queue_recipients
		WHERE (status = 'queued' OR dsn_pending <> '') AND next_attempt <= $3 AND leased_until < $3`)
	if excluded > 0 {
		b.WriteString(` AND domain NOT IN (`)
		for i := range excluded {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "$%d", i+5)
		}
		b.WriteString(`)`)
	}
	b.WriteString(` ORDER BY next_attempt LIMIT $4`)
	if d == db.Postgres {
		b.WriteString(` FOR UPDATE SKIP LOCKED`)
	}
	b.WriteString(`) RETURNING ` + rcptColumns)
	return b.String()
}

// lease claims up to limit due recipients, skipping the domains in busy, until until.
func (q *Queue) leaseDue(ctx context.Context, now, until int64, limit int, busy []string) ([]rcptRow, error) {
	args := []any{until, q.cfg.Node, now, limit}
	for _, d := range busy {
		args = append(args, d)
	}
	var out []rcptRow
	err := q.db.WriteTx(ctx, func(tx *sql.Tx) error {
		out = out[:0]
		rows, err := tx.QueryContext(ctx, leaseQuery(q.db.Dialect, len(busy)), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			r, err := scanRcpt(rows)
			if err != nil {
				return err
			}
			out = append(out, r)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("lease due recipients: %w", err)
	}
	return out, nil
}

// release gives up this node's leases on the recipients, leaving them due as they were.
func (q *Queue) release(ctx context.Context, ids []int64) error {
	return q.db.WriteTx(ctx, func(tx *sql.Tx) error {
		for _, id := range ids {
			if _, err := tx.ExecContext(ctx, `UPDATE queue_recipients SET leased_until = 0, leased_by = ''
				WHERE id = $1 AND leased_by = $2`, id, q.cfg.Node); err != nil {
				return fmt.Errorf("release recipient %d: %w", id, err)
			}
		}
		return nil
	})
}

// saveRecipients records attempt outcomes. A row still holding a pending notification
// keeps its lease until the notification is handed over; the others are released. Rows
// whose lease another node took meanwhile (ours expired) are left to that node.
func (q *Queue) saveRecipients(ctx context.Context, rows []*rcptRow) error {
	return q.db.WriteTx(ctx, func(tx *sql.Tx) error {
		for _, r := range rows {
			keep := r.dsnPending != ""
			_, err := tx.ExecContext(ctx, `UPDATE queue_recipients SET status = $1, attempts = $2, next_attempt = $3,
				last_attempt = $4, last_code = $5, last_status = $6, last_error = $7, remote_mta = $8, tls = $9,
				delay_notified = $10, dsn_pending = $11,
				leased_until = CASE WHEN $12 = 1 THEN leased_until ELSE 0 END,
				leased_by = CASE WHEN $12 = 1 THEN leased_by ELSE '' END
				WHERE id = $13 AND leased_by = $14`,
				r.status, r.attempts, r.nextAttempt, r.lastAttempt, r.lastCode, r.lastStatus, r.lastError,
				r.remoteMTA, boolInt(r.tls), boolInt(r.delayNotified), r.dsnPending, boolInt(keep), r.id, q.cfg.Node)
			if err != nil {
				return fmt.Errorf("record recipient %s: %w", r.addr, err)
			}
		}
		return nil
	})
}

// saveNotified records which notifications were handed over and gives up the leases.
func (q *Queue) saveNotified(ctx context.Context, rows []*rcptRow) error {
	return q.db.WriteTx(ctx, func(tx *sql.Tx) error {
		for _, r := range rows {
			_, err := tx.ExecContext(ctx, `UPDATE queue_recipients SET dsn_pending = $1, delay_notified = $2, next_attempt = $3,
				leased_until = 0, leased_by = '' WHERE id = $4 AND leased_by = $5`,
				r.dsnPending, boolInt(r.delayNotified), r.nextAttempt, r.id, q.cfg.Node)
			if err != nil {
				return fmt.Errorf("record notification for %s: %w", r.addr, err)
			}
		}
		return nil
	})
}

func (q *Queue) loadMessage(ctx context.Context, id int64) (msgRow, error) {
	var m msgRow
	var ret string
	err := q.db.Read().QueryRowContext(ctx, `SELECT id, sender, blob, size, ret, envid, created FROM queue_messages WHERE id = $1`, id).
		Scan(&m.id, &m.sender, &m.blob, &m.size, &ret, &m.envid, &m.created)
	if errors.Is(err, sql.ErrNoRows) {
		return m, fmt.Errorf("message %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return m, fmt.Errorf("message %d: %w", id, err)
	}
	m.ret = Ret(ret)
	return m, nil
}

// removeIfDone deletes a message none of whose recipients needs work any more, and its
// blob file when no other queued message has the same bytes.
func (q *Queue) removeIfDone(ctx context.Context, id int64) error {
	_, err := q.remove(ctx, id, `DELETE FROM queue_messages WHERE id = $1 AND NOT EXISTS (
		SELECT 1 FROM queue_recipients WHERE message = $1 AND (status = 'queued' OR dsn_pending <> ''))
		RETURNING blob`)
	return err
}

// remove runs del (which deletes message $1 and returns its blob, or nothing), then
// drops the blob if it was the last reference. It reports whether a message was
// deleted. The reference count runs in a write transaction of its own that first holds
// the blob (blob.Area.Hold): an Enqueue of the same bytes either commits first (and is
// counted) or runs Ensure after the removal and writes the blob again. On SQLite both
// steps also run under the write lock.
func (q *Queue) remove(ctx context.Context, id int64, del string) (bool, error) {
	var blobID string
	err := q.db.Locked(ctx, func(runTx func(func(*sql.Tx) error) error) error {
		err := runTx(func(tx *sql.Tx) error {
			err := tx.QueryRowContext(ctx, del, id).Scan(&blobID)
			if errors.Is(err, sql.ErrNoRows) {
				blobID = ""
				return nil
			}
			if err != nil {
				return fmt.Errorf("remove message %d: %w", id, err)
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM queue_recipients WHERE message = $1`, id); err != nil {
				return fmt.Errorf("remove recipients of message %d: %w", id, err)
			}
			return nil
		})
		if err != nil || blobID == "" {
			return err
		}
		dropped := false
		err = runTx(func(tx *sql.Tx) error {
			dropped = false
			if err := q.blobs.Hold(ctx, tx, blobID); err != nil {
				return err
			}
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM queue_messages WHERE blob = $1`, blobID).Scan(&n); err != nil {
				return fmt.Errorf("count references to blob %s: %w", blobID, err)
			}
			if n > 0 {
				return nil
			}
			dropped = true
			return q.blobs.Drop(ctx, tx, blobID)
		})
		if err != nil || !dropped {
			return err
		}
		return q.blobs.Remove(blobID)
	})
	return blobID != "", err
}

// nextWake returns when the earliest piece of work becomes due: a next_attempt, or the
// expiry of a lease held on due work (a worker that died).
func (q *Queue) nextWake(ctx context.Context) (int64, bool, error) {
	var next sql.NullInt64
	err := q.db.Read().QueryRowContext(ctx, `SELECT min(CASE WHEN leased_until >= next_attempt THEN leased_until ELSE next_attempt END)
		FROM queue_recipients WHERE status = 'queued' OR dsn_pending <> ''`).Scan(&next)
	if err != nil {
		return 0, false, fmt.Errorf("next due recipient: %w", err)
	}
	return next.Int64, next.Valid, nil
}

// hostTLS returns whether a host did STARTTLS the last time we spoke to it.
func (q *Queue) hostTLS(ctx context.Context, host string) (known, did bool) {
	var t int
	err := q.db.Read().QueryRowContext(ctx, `SELECT tls FROM queue_hosts WHERE host = $1`, host).Scan(&t)
	return err == nil, t != 0
}

// rememberHost records whether a host did STARTTLS.
func (q *Queue) rememberHost(ctx context.Context, host string, tls bool, now int64) error {
	return q.db.WriteTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO queue_hosts (host, tls, updated) VALUES ($1, $2, $3)
			ON CONFLICT (host) DO UPDATE SET tls = excluded.tls, updated = excluded.updated`, host, boolInt(tls), now)
		if err != nil {
			return fmt.Errorf("remember host %s: %w", host, err)
		}
		return nil
	})
}

// listRows returns messages (all, or the one with id when id > 0) and their
// recipients, by message id.
func (q *Queue) listRows(ctx context.Context, id int64) ([]msgRow, map[int64][]rcptRow, error) {
	rows, err := q.db.Read().QueryContext(ctx, `SELECT id, sender, blob, size, ret, envid, created FROM queue_messages
		WHERE $1 = 0 OR id = $1 ORDER BY id`, id)
	if err != nil {
		return nil, nil, fmt.Errorf("list queue: %w", err)
	}
	defer rows.Close()
	var msgs []msgRow
	for rows.Next() {
		var m msgRow
		var ret string
		if err := rows.Scan(&m.id, &m.sender, &m.blob, &m.size, &ret, &m.envid, &m.created); err != nil {
			return nil, nil, fmt.Errorf("list queue: %w", err)
		}
		m.ret = Ret(ret)
		msgs = append(msgs, m)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("list queue: %w", err)
	}
	rrows, err := q.db.Read().QueryContext(ctx, `SELECT `+rcptColumns+` FROM queue_recipients
		WHERE $1 = 0 OR message = $1 ORDER BY message, id`, id)
	if err != nil {
		return nil, nil, fmt.Errorf("list queue recipients: %w", err)
	}
	defer rrows.Close()
	rcpts := map[int64][]rcptRow{}
	for rrows.Next() {
		r, err := scanRcpt(rrows)
		if err != nil {
			return nil, nil, fmt.Errorf("list queue recipients: %w", err)
		}
		rcpts[r.message] = append(rcpts[r.message], r)
	}
	if err := rrows.Err(); err != nil {
		return nil, nil, fmt.Errorf("list queue recipients: %w", err)
	}
	return msgs, rcpts, nil
}

// makeDue sets the recipients of a message that still need work due at now.
func (q *Queue) makeDue(ctx context.Context, id, now int64) error {
	return q.db.WriteTx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM queue_messages WHERE id = $1`, id).Scan(&n); err != nil {
			return fmt.Errorf("retry message %d: %w", id, err)
		}
		if n == 0 {
			return fmt.Errorf("message %d: %w", id, ErrNotFound)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE queue_recipients SET next_attempt = $1
			WHERE message = $2 AND (status = 'queued' OR dsn_pending <> '')`, now, id); err != nil {
			return fmt.Errorf("retry message %d: %w", id, err)
		}
		return nil
	})
}
