package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Lockout is a back-off policy: after Threshold failures within Forget of each other,
// a key (an address or an account) is refused for Backoff, then twice as long after
// each further failure, up to Max. A refused attempt does not count as a failure, so
// an attacker cannot lengthen a lockout by hammering it.
type Lockout struct {
	Threshold int
	Backoff   time.Duration
	Max       time.Duration
	Forget    time.Duration
}

// Default policies. An account is held back sooner than an address, since a person
// mistypes a few times at most while a shared NAT may carry many users; an address
// is held back longer, since one address guessing at many accounts is an attacker.
var (
	DefaultAccountLockout = Lockout{Threshold: 5, Backoff: time.Minute, Max: 30 * time.Minute, Forget: 24 * time.Hour}
	DefaultIPLockout      = Lockout{Threshold: 20, Backoff: time.Minute, Max: 2 * time.Hour, Forget: 24 * time.Hour}
)

func (l Lockout) orDefault(d Lockout) Lockout {
	if l.Threshold <= 0 {
		l.Threshold = d.Threshold
	}
	if l.Backoff <= 0 {
		l.Backoff = d.Backoff
	}
	if l.Max <= 0 {
		l.Max = d.Max
	}
	if l.Forget <= 0 {
		l.Forget = d.Forget
	}
	return l
}

// delay is how long a key is refused after its n-th failure.
func (l Lockout) delay(n int) time.Duration {
	if n < l.Threshold {
		return 0
	}
	d := l.Backoff
	for i := l.Threshold; i < n && d < l.Max; i++ {
		d *= 2
	}
	return min(d, l.Max)
}

// ipKey is the lockout key of an address: IPv4 addresses one by one, IPv6 by /64,
// the least a single site is given. The zero Addr has none.
func ipKey(a netip.Addr) string {
	switch {
	case !a.IsValid():
		return ""
	case a.Is4():
		return "ip:" + a.String()
	}
	p, _ := a.Prefix(64)
	return "ip:" + p.String()
}

func (s *Service) policy(key string) Lockout {
	if len(key) > 3 && key[:3] == "ip:" {
		return s.ip
	}
	return s.account
}

// lockedUntil returns the latest end of a lockout among keys, or the zero Time when
// none is locked out now.
func (s *Service) lockedUntil(ctx context.Context, keys []string) (time.Time, error) {
	now := s.now().UnixMicro()
	var until int64
	for _, k := range keys {
		var u int64
		err := s.db.Read().QueryRowContext(ctx, `SELECT locked_until FROM auth_lockout WHERE key = $1`, k).Scan(&u)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return time.Time{}, fmt.Errorf("read lockout: %w", err)
		}
		if u > now {
			until = max(until, u)
		}
	}
	if until == 0 {
		return time.Time{}, nil
	}
	return time.UnixMicro(until), nil
}

// fail counts a failure against key and starts or lengthens its lockout when the
// count reaches the policy's threshold. The count and the lockout are updated in one
// statement each within one transaction, so nodes failing the same key at once all
// count.
func (s *Service) fail(ctx context.Context, key string) error {
	defer s.signIns.invalidate() // a cached sign-in must not outlive a lockout
	pol := s.policy(key)
	now := s.now()
	forgotten := now.Add(-pol.Forget).UnixMicro()
	err := s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		var n int
		err := tx.QueryRowContext(ctx, `INSERT INTO auth_lockout (key, failures, last_failure) VALUES ($1, 1, $2)
			ON CONFLICT (key) DO UPDATE SET
				failures = CASE WHEN auth_lockout.last_failure < $3 THEN 1 ELSE auth_lockout.failures + 1 END,
				last_failure = $2
			RETURNING failures`, key, now.UnixMicro(), forgotten).Scan(&n)
		if err != nil {
			return err
		}
		d := pol.delay(n)
		if d == 0 {
			return nil
		}
		until := now.Add(d).UnixMicro()
		if _, err := tx.ExecContext(ctx, `UPDATE auth_lockout SET locked_until = $1 WHERE key = $2 AND locked_until < $1`, until, key); err != nil {
			return err
		}
		s.log.Warn("too many failed sign-ins: backing off", "key", key, "failures", n, "for", d)
		return nil
	})
	if err != nil {
		return fmt.Errorf("count failed sign-in: %w", err)
	}
	return s.prune(ctx)
}

// clearLockout forgets key's failures.
func (s *Service) clearLockout(ctx context.Context, key string) error {
	// Most sign-ins have nothing to clear; reading first spares them a write.
	var n int
	err := s.db.Read().QueryRowContext(ctx, `SELECT failures FROM auth_lockout WHERE key = $1`, key).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	} else if err != nil {
		return fmt.Errorf("read lockout: %w", err)
	}
	err = s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM auth_lockout WHERE key = $1`, key)
		return err
	})
	if err != nil {
		return fmt.Errorf("clear lockout: %w", err)
	}
	return nil
}

// prune deletes, at most hourly, the rows of keys whose failures are all forgotten
// and whose lockout is over, so that addresses seen once do not pile up.
func (s *Service) prune(ctx context.Context) error {
	now := s.now()
	last := s.lastPrune.Load()
	if now.Sub(time.UnixMicro(last)) < time.Hour || !s.lastPrune.CompareAndSwap(last, now.UnixMicro()) {
		return nil
	}
	before := now.Add(-max(s.ip.Forget, s.account.Forget)).UnixMicro()
	err := s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM auth_lockout WHERE last_failure < $1 AND locked_until < $2`, before, now.UnixMicro())
		return err
	})
	if err != nil {
		return fmt.Errorf("prune lockouts: %w", err)
	}
	return nil
}
