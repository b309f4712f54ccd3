package auth_test

import (
	"errors"
	"testing"
	"time"

	"mailroom/internal/auth"
	"mailroom/internal/directory"
)

// TestSignInCache signs alice in twice (the second from the sign-in cache), then makes
// a change and checks that her next sign-in sees it: at once for what this process
// changes, within the cache's TTL for what it cannot see (the MFA status lives
// elsewhere).
func TestSignInCache(t *testing.T) {
	const newPassword = "a new password entirely"
	tests := []struct {
		name     string
		change   func(e *testEnv, t *testing.T, secret string)
		password func(secret string) string // what alice signs in with; nil: testPassword
		wait     time.Duration
		want     error // nil: signed in
	}{
		{name: "nothing changes"},
		{
			name: "password changed",
			change: func(e *testEnv, t *testing.T, _ string) {
				must(t, e.dir.SetPassword(e.ctx, "alice@example.com", newPassword))
			},
			want: directory.ErrBadCredentials,
		},
		{
			name: "account disabled",
			change: func(e *testEnv, t *testing.T, _ string) {
				must(t, e.dir.SetEnabled(e.ctx, "alice@example.com", false))
			},
			want: directory.ErrDisabled,
		},
		{
			name: "locked out by failures from elsewhere",
			change: func(e *testEnv, t *testing.T, _ string) {
				for range testLockout.Threshold {
					e.svc.Password(e.ctx, "alice@example.com", "wrong password!", src("192.0.2.99"))
				}
			},
			want: auth.ErrLockedOut,
		},
		{
			name:     "app password revoked",
			password: func(secret string) string { return secret },
			change: func(e *testEnv, t *testing.T, _ string) {
				_, err := e.svc.RevokeAppPassword(e.ctx, e.alice.ID, "Phone")
				must(t, err)
			},
			want: directory.ErrBadCredentials,
		},
		{
			name: "MFA turned on elsewhere, within the TTL",
			change: func(e *testEnv, t *testing.T, _ string) {
				e.mfa.Set(e.alice.ID, true)
			},
		},
		{
			name: "MFA turned on elsewhere, after the TTL",
			change: func(e *testEnv, t *testing.T, _ string) {
				e.mfa.Set(e.alice.ID, true)
			},
			wait: auth.SignInCacheTTL,
			want: directory.ErrBadCredentials,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, testLockout, auth.Lockout{Threshold: 100})
			_, secret, err := e.svc.NewAppPassword(e.ctx, e.alice.ID, "Phone")
			must(t, err)
			password := testPassword
			if tt.password != nil {
				password = tt.password(secret)
			}
			for range 2 {
				if _, err := e.svc.Password(e.ctx, "alice@example.com", password, src("192.0.2.1")); err != nil {
					t.Fatal(err)
				}
			}
			if tt.change != nil {
				tt.change(e, t, secret)
			}
			e.clock.Advance(tt.wait)
			u, err := e.svc.Password(e.ctx, "alice@example.com", password, src("192.0.2.1"))
			switch {
			case tt.want == nil && (err != nil || u.ID != e.alice.ID):
				t.Errorf("sign-in after the change: %v, %v; want alice", u.Address, err)
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Errorf("sign-in after the change: %v; want %v", err, tt.want)
			}
		})
	}
}

// TestSignInCacheAudit checks that a cached sign-in is logged again once the entry it
// repeated falls out of the coalescing window, exactly as an uncached one.
func TestSignInCacheAudit(t *testing.T) {
	e := newEnv(t, auth.Lockout{}, auth.Lockout{})
	start := e.clock.Now()
	signIn := func() {
		t.Helper()
		if _, err := e.svc.Password(e.ctx, "alice@example.com", testPassword, src("192.0.2.1")); err != nil {
			t.Fatal(err)
		}
	}
	signIn() // logged
	e.clock.Advance(auth.CoalesceSuccess - time.Second)
	signIn() // coalesced, and cached
	e.clock.Advance(2 * time.Second)
	signIn() // within the cache's TTL, but past the window: logged again
	evs, err := e.svc.Events(e.ctx, auth.AuditFilter{UserID: e.alice.ID, Since: start})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 {
		t.Errorf("%d audit entries, want 2: %+v", len(evs), evs)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
