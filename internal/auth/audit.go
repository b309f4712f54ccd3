package auth

import (
	"context"
	"database/sql"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Kinds of audit event.
const (
	EventSignIn             = "sign-in"
	EventTokenGrant         = "token-grant"
	EventTokenRevoke        = "token-revoke"
	EventAppPasswordAdded   = "app-password-add"
	EventAppPasswordRevoked = "app-password-revoke"
)

// coalesceSuccess is how long a repeated successful sign-in (same user, protocol,
// method and address) is left out of the log: ActiveSync and some IMAP clients sign in
// with every request or connection, and one entry per quarter hour says as much.
const coalesceSuccess = 15 * time.Minute

// Event is one entry of the audit log.
type Event struct {
	ID       int64      `json:"id"`
	At       time.Time  `json:"at"`
	Kind     string     `json:"event"` // EventSignIn, EventTokenGrant, ...
	UserID   int64      `json:"userId,omitempty"`
	Login    string     `json:"login,omitempty"` // as the client typed it
	Success  bool       `json:"success"`
	Protocol string     `json:"protocol,omitempty"`
	Remote   netip.Addr `json:"remote,omitzero"`
	Method   string     `json:"method,omitempty"` // MethodPassword, MethodAppPassword, MethodToken
	ClientID string     `json:"clientId,omitempty"`
	Detail   string     `json:"detail,omitempty"` // why it failed, what was granted
}

// Audit appends an event to the log; At defaults to now. internal/oauth records token
// grants and revocations through it. A success repeating one logged less than a
// quarter hour ago is not logged again.
func (s *Service) Audit(ctx context.Context, ev Event) error {
	_, err := s.audit(ctx, ev)
	return err
}

// audit is Audit. For a successful sign-in it also returns the time of the entry that
// records it: the one written, or the earlier one it repeats.
func (s *Service) audit(ctx context.Context, ev Event) (time.Time, error) {
	if ev.Kind == "" {
		return time.Time{}, fmt.Errorf("%w: an audit event needs a kind", ErrInvalid)
	}
	if ev.At.IsZero() {
		ev.At = s.now()
	}
	remote := ""
	if ev.Remote.IsValid() {
		remote = ev.Remote.String()
	}
	if ev.Kind == EventSignIn && ev.Success {
		var last sql.NullInt64
		err := s.db.Read().QueryRowContext(ctx, `SELECT max(at) FROM auth_audit WHERE user_id = $1 AND at > $2
			AND event = $3 AND success = 1 AND protocol = $4 AND method = $5 AND remote = $6`,
			ev.UserID, ev.At.Add(-coalesceSuccess).UnixMicro(), ev.Kind, ev.Protocol, ev.Method, remote).Scan(&last)
		if err != nil {
			return time.Time{}, fmt.Errorf("read audit log: %w", err)
		}
		if last.Valid {
			return time.UnixMicro(last.Int64), nil
		}
	}
	success := 0
	if ev.Success {
		success = 1
	}
	err := s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO auth_audit (at, event, user_id, login, success, protocol, remote, method, client_id, detail)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			ev.At.UnixMicro(), clip(ev.Kind, 64), ev.UserID, clip(ev.Login, 256), success, clip(ev.Protocol, 64),
			remote, clip(ev.Method, 64), clip(ev.ClientID, 256), clip(ev.Detail, 1024))
		return err
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("write audit log: %w", err)
	}
	return ev.At, nil
}

// AuditFilter selects audit events; zero fields select everything.
type AuditFilter struct {
	UserID int64
	Since  time.Time
	Limit  int // 0: 1000
}

// Events lists audit events, newest first.
func (s *Service) Events(ctx context.Context, f AuditFilter) ([]Event, error) {
	var conds []string
	var args []any
	if f.UserID != 0 {
		args = append(args, f.UserID)
		conds = append(conds, fmt.Sprintf("user_id = $%d", len(args)))
	}
	if !f.Since.IsZero() {
		args = append(args, f.Since.UnixMicro())
		conds = append(conds, fmt.Sprintf("at >= $%d", len(args)))
	}
	where := ""
	if len(conds) > 0 {
		where = "WHERE " + strings.Join(conds, " AND ")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 1000
	}
	args = append(args, limit)
	rows, err := s.db.Read().QueryContext(ctx, `SELECT id, at, event, user_id, login, success, protocol, remote, method, client_id, detail
		FROM auth_audit `+where+fmt.Sprintf(` ORDER BY at DESC, id DESC LIMIT $%d`, len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	defer rows.Close()
	out := []Event{}
	for rows.Next() {
		var ev Event
		var at int64
		var success int
		var remote string
		if err := rows.Scan(&ev.ID, &at, &ev.Kind, &ev.UserID, &ev.Login, &success, &ev.Protocol, &remote, &ev.Method, &ev.ClientID, &ev.Detail); err != nil {
			return nil, fmt.Errorf("read audit log: %w", err)
		}
		ev.At = time.UnixMicro(at).UTC()
		ev.Success = success == 1
		ev.Remote, _ = netip.ParseAddr(remote)
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	return out, nil
}
