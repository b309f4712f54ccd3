package auth_test

import (
	"context"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"mailroom/internal/auth"
	"mailroom/internal/auth/authtest"
	"mailroom/internal/db"
	"mailroom/internal/directory"
	"mailroom/internal/pgtest"
)

const testPassword = "correct horse battery"

// TestMain runs the suite on SQLite, then again on PostgreSQL when it is installed.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// testEnv is a service over a fresh database, with a clock the test moves.
type testEnv struct {
	ctx    context.Context
	db     *db.DB
	dir    *directory.Directory
	svc    *auth.Service
	clock  *testClock
	tokens *authtest.Issuer
	mfa    *authtest.MFA
	alice  directory.User
	bob    directory.User
}

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newEnv(t testing.TB, account, ip auth.Lockout) *testEnv {
	t.Helper()
	ctx := context.Background()
	var d *db.DB
	var err error
	if pgtest.Enabled() {
		d, err = db.OpenPostgres(ctx, pgtest.Start(t))
	} else {
		d, err = db.OpenSQLite(ctx, filepath.Join(t.TempDir(), "mailroom.db"))
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	dir, err := directory.New(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dir.AddDomain(ctx, "example.com", ""); err != nil {
		t.Fatal(err)
	}
	e := &testEnv{ctx: ctx, db: d, dir: dir, clock: &testClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}}
	e.tokens, e.mfa = authtest.NewIssuer(e.clock.Now), &authtest.MFA{}
	e.svc, err = auth.New(ctx, auth.Config{DB: d, Directory: dir, Tokens: e.tokens, MFA: e.mfa, AccountLockout: account, IPLockout: ip, Now: e.clock.Now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"alice@example.com", "bob@example.com"} {
		u, err := dir.AddUser(ctx, directory.NewUser{Address: a, Password: testPassword})
		if err != nil {
			t.Fatal(err)
		}
		if a[0] == 'a' {
			e.alice = u
		} else {
			e.bob = u
		}
	}
	return e
}

func src(ip string) auth.Source {
	return auth.Source{Protocol: "imap", Remote: netip.MustParseAddr(ip)}
}
