package auth_test

import (
	"errors"
	"mailroom/internal/auth"
	"strconv"
	"strings"
	"testing"
	"time"

	"mailroom/internal/directory"
)

var testLockout = auth.Lockout{Threshold: 3, Backoff: time.Minute, Max: 8 * time.Minute, Forget: time.Hour}

// step is one sign-in attempt of a lockout scenario, after the clock moved by wait.
type step struct {
	wait     time.Duration
	login    string
	password string
	ip       string
	ok       bool
	locked   bool // the refusal is a lockout (the password was not checked)
}

func TestLockout(t *testing.T) {
	const bad = "wrong password!"
	fails := func(login, ip string, n int) []step {
		var s []step
		for range n {
			s = append(s, step{login: login, password: bad, ip: ip})
		}
		return s
	}
	cat := func(parts ...[]step) []step {
		var out []step
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	tests := []struct {
		name    string
		account auth.Lockout
		ip      auth.Lockout
		steps   []step
	}{
		{
			name: "per account, from many addresses", account: testLockout, ip: auth.Lockout{Threshold: 100},
			steps: []step{
				{login: "alice@example.com", password: bad, ip: "192.0.2.1"},
				{login: "ALICE@example.com", password: bad, ip: "192.0.2.2"},
				{login: "alice@example.com", password: bad, ip: "192.0.2.3"},
				// Locked: even the right password fails, from anywhere.
				{login: "alice@example.com", password: testPassword, ip: "192.0.2.4", locked: true},
				// Bob is not affected.
				{login: "bob@example.com", password: testPassword, ip: "192.0.2.1", ok: true},
				// After the first back-off the right password works and resets.
				{wait: time.Minute, login: "alice@example.com", password: testPassword, ip: "192.0.2.1", ok: true},
				{login: "alice@example.com", password: bad, ip: "192.0.2.1"},
				{login: "alice@example.com", password: testPassword, ip: "192.0.2.1", ok: true},
			},
		},
		{
			name: "back-off doubles", account: testLockout, ip: auth.Lockout{Threshold: 100},
			steps: cat(fails("alice@example.com", "192.0.2.1", 3), []step{
				{wait: time.Minute, login: "alice@example.com", password: bad, ip: "192.0.2.1"}, // 4th: 2 minutes
				{wait: time.Minute, login: "alice@example.com", password: testPassword, ip: "192.0.2.1", locked: true},
				{wait: time.Minute, login: "alice@example.com", password: bad, ip: "192.0.2.1"}, // 5th: 4 minutes
				{wait: 3 * time.Minute, login: "alice@example.com", password: testPassword, ip: "192.0.2.1", locked: true},
				{wait: time.Minute, login: "alice@example.com", password: testPassword, ip: "192.0.2.1", ok: true},
			}),
		},
		{
			name: "per address, across accounts", account: auth.Lockout{Threshold: 100}, ip: testLockout,
			steps: []step{
				{login: "alice@example.com", password: bad, ip: "192.0.2.9"},
				{login: "bob@example.com", password: bad, ip: "192.0.2.9"},
				{login: "nobody@example.com", password: bad, ip: "192.0.2.9"},
				{login: "bob@example.com", password: testPassword, ip: "192.0.2.9", locked: true},
				{login: "bob@example.com", password: testPassword, ip: "192.0.2.10", ok: true},
				// A success does not clear an address: a guesser could, with one account.
				{wait: time.Minute, login: "bob@example.com", password: testPassword, ip: "192.0.2.9", ok: true},
				{login: "alice@example.com", password: bad, ip: "192.0.2.9"},
				{login: "alice@example.com", password: testPassword, ip: "192.0.2.9", locked: true},
			},
		},
		{
			name: "IPv6 by /64", account: auth.Lockout{Threshold: 100}, ip: testLockout,
			steps: cat(fails("alice@example.com", "2001:db8::1", 2), fails("alice@example.com", "2001:db8::2", 1), []step{
				{login: "bob@example.com", password: testPassword, ip: "2001:db8::ffff", locked: true},
				{login: "bob@example.com", password: testPassword, ip: "2001:db8:0:1::1", ok: true},
			}),
		},
		{
			name: "an unknown account locks alike", account: testLockout, ip: auth.Lockout{Threshold: 100},
			steps: cat(fails("nobody@example.com", "192.0.2.1", 3), []step{
				{login: "nobody@example.com", password: bad, ip: "192.0.2.1", locked: true},
			}),
		},
		{
			name: "failures are forgotten", account: testLockout, ip: auth.Lockout{Threshold: 100},
			steps: cat(fails("alice@example.com", "192.0.2.1", 2), []step{
				{wait: 2 * time.Hour, login: "alice@example.com", password: bad, ip: "192.0.2.1"},
				{login: "alice@example.com", password: testPassword, ip: "192.0.2.1", ok: true},
			}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.account, tt.ip)
			for i, s := range tt.steps {
				e.clock.Advance(s.wait)
				u, err := e.svc.Password(e.ctx, s.login, s.password, src(s.ip))
				switch {
				case s.ok && err != nil:
					t.Fatalf("step %d (%s from %s): %v, want success", i, s.login, s.ip, err)
				case s.ok && !strings.EqualFold(u.Address, s.login):
					t.Fatalf("step %d: signed in as %s, want %s", i, u.Address, s.login)
				case !s.ok && !errors.Is(err, directory.ErrBadCredentials):
					t.Fatalf("step %d (%s from %s): %v, want ErrBadCredentials", i, s.login, s.ip, err)
				case !s.ok && errors.Is(err, auth.ErrLockedOut) != s.locked:
					t.Fatalf("step %d (%s from %s): %v, locked out %v", i, s.login, s.ip, err, s.locked)
				}
			}
		})
	}
}

func TestAppPasswords(t *testing.T) {
	e := newEnv(t, auth.Lockout{}, auth.Lockout{})
	ap, secret, err := e.svc.NewAppPassword(e.ctx, e.alice.ID, "iPhone Mail")
	if err != nil {
		t.Fatal(err)
	}
	if len(secret) != 19 || strings.Count(secret, "-") != 3 || ap.Name != "iPhone Mail" {
		t.Fatalf("app password %+v %q", ap, secret)
	}
	spaced := strings.ToUpper(strings.ReplaceAll(secret, "-", " "))
	for _, typed := range []string{secret, strings.ReplaceAll(secret, "-", ""), spaced} {
		u, err := e.svc.Password(e.ctx, "alice@example.com", typed, src("192.0.2.1"))
		if err != nil || u.ID != e.alice.ID {
			t.Fatalf("sign in with %q: %v, %v", typed, u.Address, err)
		}
	}
	// The OAuth sign-in page takes only the real password.
	if _, err := e.svc.CheckPassword(e.ctx, "alice@example.com", secret, src("192.0.2.1")); !errors.Is(err, directory.ErrBadCredentials) {
		t.Errorf("CheckPassword with an app password: %v", err)
	}
	// Another user's app password is not yours.
	if _, err := e.svc.Password(e.ctx, "bob@example.com", secret, src("192.0.2.1")); !errors.Is(err, directory.ErrBadCredentials) {
		t.Errorf("bob with alice's app password: %v", err)
	}
	list, err := e.svc.AppPasswords(e.ctx, e.alice.ID)
	if err != nil || len(list) != 1 || list[0].LastUsed.IsZero() || list[0].ID != ap.ID {
		t.Fatalf("AppPasswords = %+v, %v", list, err)
	}

	for _, tt := range []struct {
		name string
		want error
	}{
		{"iphone mail", auth.ErrExists}, {"", auth.ErrInvalid}, {"  ", auth.ErrInvalid}, {"42", auth.ErrInvalid},
		{"bad\nname", auth.ErrInvalid}, {strings.Repeat("x", 101), auth.ErrInvalid},
	} {
		if _, _, err := e.svc.NewAppPassword(e.ctx, e.alice.ID, tt.name); !errors.Is(err, tt.want) {
			t.Errorf("NewAppPassword(%q): %v, want %v", tt.name, err, tt.want)
		}
	}
	if _, err := e.svc.RevokeAppPassword(e.ctx, e.alice.ID, "Thunderbird"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("revoke unknown: %v", err)
	}
	if _, err := e.svc.RevokeAppPassword(e.ctx, e.bob.ID, "iPhone Mail"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("revoke another user's: %v", err)
	}
	if _, err := e.svc.RevokeAppPassword(e.ctx, e.alice.ID, "IPHONE MAIL"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Password(e.ctx, "alice@example.com", secret, src("192.0.2.1")); !errors.Is(err, directory.ErrBadCredentials) {
		t.Errorf("sign in with a revoked app password: %v", err)
	}
	// Revoking by id works too.
	ap2, _, err := e.svc.NewAppPassword(e.ctx, e.alice.ID, "Thunderbird")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.RevokeAppPassword(e.ctx, e.alice.ID, strconv.FormatInt(ap2.ID, 10)); err != nil {
		t.Fatal(err)
	}
	if list, _ := e.svc.AppPasswords(e.ctx, e.alice.ID); len(list) != 0 {
		t.Errorf("after revoking all: %+v", list)
	}
}

func TestMFASwitch(t *testing.T) {
	tests := []struct {
		name         string
		mfa          bool
		keepPassword bool
		password     bool // the mail protocols take the password
	}{
		{"no MFA", false, false, true},
		{"MFA, default", true, false, false},
		{"MFA, password kept", true, true, true},
		{"no MFA, password kept", false, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, auth.Lockout{}, auth.Lockout{})
			e.mfa.Set(e.alice.ID, tt.mfa)
			if err := e.svc.SetPasswordWithMFA(e.ctx, e.alice.ID, tt.keepPassword); err != nil {
				t.Fatal(err)
			}
			_, secret, err := e.svc.NewAppPassword(e.ctx, e.alice.ID, "Outlook")
			if err != nil {
				t.Fatal(err)
			}
			_, err = e.svc.Password(e.ctx, "alice@example.com", testPassword, src("192.0.2.1"))
			if (err == nil) != tt.password {
				t.Errorf("password on IMAP: %v, want success %v", err, tt.password)
			}
			if _, err := e.svc.Password(e.ctx, "alice@example.com", secret, src("192.0.2.1")); err != nil {
				t.Errorf("app password on IMAP: %v", err)
			}
			if _, err := e.svc.Bearer(e.ctx, "alice@example.com", e.tokens.Mint(e.alice.ID, time.Hour), src("192.0.2.1")); err != nil {
				t.Errorf("token on IMAP: %v", err)
			}
			if _, err := e.svc.CheckPassword(e.ctx, "alice@example.com", testPassword, auth.Source{Protocol: "oauth"}); err != nil {
				t.Errorf("password on the sign-in page: %v", err)
			}
			if !tt.password {
				evs, _ := e.svc.Events(e.ctx, auth.AuditFilter{UserID: e.alice.ID})
				if !containsEvent(evs, func(ev auth.Event) bool { return !ev.Success && strings.Contains(ev.Detail, "MFA") }) {
					t.Errorf("no audit entry says the password was refused for MFA: %+v", evs)
				}
			}
		})
	}
}

func TestBearer(t *testing.T) {
	e := newEnv(t, auth.Lockout{}, testLockout)
	good := e.tokens.Mint(e.alice.ID, time.Hour)
	tests := []struct {
		name  string
		login string
		token string
		want  error // nil: success
	}{
		{"no login", "", good, nil},
		{"address", "alice@example.com", good, nil},
		{"case", "Alice@Example.COM", good, nil},
		{"someone else", "bob@example.com", good, auth.ErrBadToken},
		{"garbage", "", "nonsense", auth.ErrBadToken},
		{"expired", "", e.tokens.Mint(e.alice.ID, -time.Second), auth.ErrBadToken},
		{"unknown user", "", e.tokens.Mint(999999, time.Hour), auth.ErrBadToken},
	}
	for _, tt := range tests {
		u, err := e.svc.Bearer(e.ctx, tt.login, tt.token, src("192.0.2.1"))
		switch {
		case tt.want == nil && (err != nil || u.ID != e.alice.ID):
			t.Errorf("%s: %v, %v", tt.name, u.Address, err)
		case tt.want != nil && (!errors.Is(err, tt.want) || !errors.Is(err, directory.ErrBadCredentials)):
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
	// Four failures from one address: it is backing off now, even for a good token.
	if _, err := e.svc.Bearer(e.ctx, "", good, src("192.0.2.1")); !errors.Is(err, auth.ErrLockedOut) {
		t.Errorf("after 4 failures: %v, want a lockout", err)
	}
	if _, err := e.svc.Bearer(e.ctx, "", good, src("192.0.2.2")); err != nil {
		t.Errorf("from another address: %v", err)
	}

	// No verifier: every token is refused.
	none, err := auth.New(e.ctx, auth.Config{DB: e.db, Directory: e.dir, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if none.TokensEnabled() {
		t.Error("TokensEnabled without a verifier")
	}
	if _, err := none.Bearer(e.ctx, "", good, src("192.0.2.3")); !errors.Is(err, auth.ErrBadToken) {
		t.Errorf("without a verifier: %v", err)
	}
	// A disabled user's valid token.
	if err := e.dir.SetEnabled(e.ctx, "alice@example.com", false); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Bearer(e.ctx, "", good, src("192.0.2.4")); !errors.Is(err, directory.ErrDisabled) {
		t.Errorf("disabled user: %v", err)
	}
}

func TestAudit(t *testing.T) {
	e := newEnv(t, auth.Lockout{}, auth.Lockout{})
	_, secret, err := e.svc.NewAppPassword(e.ctx, e.alice.ID, "Phone")
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Second)
	start := e.clock.Now()
	pop := auth.Source{Protocol: "pop3", Remote: src("192.0.2.7").Remote}
	e.svc.Password(e.ctx, "alice@example.com", "nope nope nope", pop)
	e.svc.Password(e.ctx, "alice@example.com", testPassword, pop)
	e.svc.Password(e.ctx, "alice@example.com", testPassword, pop) // coalesced
	e.svc.Password(e.ctx, "alice@example.com", secret, pop)
	e.svc.Bearer(e.ctx, "", e.tokens.Mint(e.alice.ID, time.Hour), pop)
	e.svc.Password(e.ctx, "bob@example.com", testPassword, pop)
	if err := e.svc.Audit(e.ctx, auth.Event{Kind: auth.EventTokenGrant, UserID: e.alice.ID, ClientID: "thunderbird", Success: true, Protocol: "oauth", Detail: "scope mail"}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(auth.CoalesceSuccess + time.Second)
	e.svc.Password(e.ctx, "alice@example.com", testPassword, pop) // logged again

	evs, err := e.svc.Events(e.ctx, auth.AuditFilter{UserID: e.alice.ID, Since: start})
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		kind, method string
		success      bool
	}
	var got []row
	for i := len(evs) - 1; i >= 0; i-- {
		ev := evs[i]
		if ev.Kind == auth.EventSignIn && (ev.Protocol != "pop3" || ev.Remote.String() != "192.0.2.7") {
			t.Errorf("event %+v: wrong protocol or address", ev)
		}
		got = append(got, row{ev.Kind, ev.Method, ev.Success})
	}
	want := []row{
		{auth.EventSignIn, auth.MethodPassword, false},
		{auth.EventSignIn, auth.MethodPassword, true},
		{auth.EventSignIn, auth.MethodAppPassword, true},
		{auth.EventSignIn, auth.MethodToken, true},
		{auth.EventTokenGrant, "", true},
		{auth.EventSignIn, auth.MethodPassword, true},
	}
	if len(got) != len(want) {
		t.Fatalf("events %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	all, _ := e.svc.Events(e.ctx, auth.AuditFilter{})
	if !containsEvent(all, func(ev auth.Event) bool { return ev.UserID == e.bob.ID }) ||
		!containsEvent(all, func(ev auth.Event) bool { return ev.Kind == auth.EventAppPasswordAdded && ev.Detail == "Phone" }) {
		t.Errorf("unfiltered log lacks bob's sign-in or the app password: %+v", all)
	}
	if err := e.svc.Audit(e.ctx, auth.Event{}); !errors.Is(err, auth.ErrInvalid) {
		t.Errorf("Audit without a kind: %v", err)
	}
}

func containsEvent(evs []auth.Event, f func(auth.Event) bool) bool {
	for _, ev := range evs {
		if f(ev) {
			return true
		}
	}
	return false
}
