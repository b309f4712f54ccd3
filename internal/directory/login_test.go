package directory

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestAuthenticateLoginForms(t *testing.T) {
	ctx := context.Background()
	dir := newTestDir(t)
	_, err := dir.AddDomain(ctx, "contoso.com", "CORP")
	must(t, err)
	u := mustUser(t, dir, NewUser{Address: "alice@example.com", UPN: "Alice.Smith@Corp.Example", SAM: "asmith"})
	must(t, dir.AddAlias(ctx, "alice@example.com", "alice@contoso.com"))
	// The same SAM in another domain is another user.
	other := mustUser(t, dir, NewUser{Address: "asmith@contoso.com", SAM: "asmith"})

	for _, login := range []string{
		"alice@example.com", "ALICE@EXAMPLE.COM", "alice@contoso.com", "Alice@Contoso.Com",
		"alice.smith@corp.example", "ALICE.SMITH@CORP.EXAMPLE",
		`EXAMPLE\asmith`, `example\ASMITH`, `example.com\asmith`, `Example.COM\AsMiTh`,
	} {
		got, err := dir.Authenticate(ctx, login, testPassword)
		if err != nil || got.ID != u.ID {
			t.Errorf("Authenticate(%q) = %d, %v; want user %d", login, got.ID, err, u.ID)
		}
	}
	for _, login := range []string{`CORP\asmith`, `contoso.com\asmith`, "asmith@contoso.com"} {
		got, err := dir.Authenticate(ctx, login, testPassword)
		if err != nil || got.ID != other.ID {
			t.Errorf("Authenticate(%q) = %d, %v; want user %d", login, got.ID, err, other.ID)
		}
	}
}

func TestAuthenticateFailures(t *testing.T) {
	ctx := context.Background()
	dir := newTestDir(t)
	mustUser(t, dir, NewUser{Address: "alice@example.com"})
	mustUser(t, dir, NewUser{Address: "dave@example.com"})
	must(t, dir.SetEnabled(ctx, "dave@example.com", false))
	mustUser(t, dir, NewUser{Address: "info@example.com", Kind: KindShared})
	mustGroup(t, dir, "Sales", "sales@example.com")
	tests := []struct {
		name, login, password string
		err                   error
	}{
		{"wrong password", "alice@example.com", "wrong password", ErrBadCredentials},
		{"password in other case", "alice@example.com", "CORRECT HORSE BATTERY", ErrBadCredentials},
		{"empty password", "alice@example.com", "", ErrBadCredentials},
		{"unknown address", "nobody@example.com", testPassword, ErrBadCredentials},
		{"unknown domain", "alice@nowhere.example", testPassword, ErrBadCredentials},
		{"unknown NetBIOS", `NOWHERE\alice`, testPassword, ErrBadCredentials},
		{"bare name", "alice", testPassword, ErrBadCredentials},
		{"empty login", "", testPassword, ErrBadCredentials},
		{"shared mailbox", "info@example.com", "", ErrBadCredentials},
		{"shared mailbox with a password", "info@example.com", testPassword, ErrBadCredentials},
		{"group", "sales@example.com", testPassword, ErrBadCredentials},
		{"group name", "Sales", testPassword, ErrBadCredentials},
		{"disabled, wrong password", "dave@example.com", "wrong password", ErrBadCredentials},
		{"disabled, right password", "dave@example.com", testPassword, ErrDisabled},
	}
	for _, tt := range tests {
		u, err := dir.Authenticate(ctx, tt.login, tt.password)
		checkErr(t, tt.name, err, tt.err)
		if u.ID != 0 {
			t.Errorf("%s: got user %d with the error", tt.name, u.ID)
		}
		if errors.Is(err, ErrBadCredentials) && err != ErrBadCredentials {
			t.Errorf("%s: error %q carries details; a failed login must look the same for every cause", tt.name, err)
		}
	}
}

// TestAuthenticateUnknownTiming checks that an unknown login costs a password hash:
// at least half of what a wrong password for a real user costs.
func TestAuthenticateUnknownTiming(t *testing.T) {
	ctx := context.Background()
	dir := newTestDir(t)
	mustUser(t, dir, NewUser{Address: "alice@example.com"})
	timeIt := func(login string) time.Duration {
		best := time.Hour
		for range 5 {
			start := time.Now()
			_, err := dir.Authenticate(ctx, login, "wrong password")
			checkErr(t, login, err, ErrBadCredentials)
			best = min(best, time.Since(start))
		}
		return best
	}
	known, unknown := timeIt("alice@example.com"), timeIt("nobody@example.com")
	// Skipping the hash would make an unknown login around a hundred times faster; a
	// quarter leaves room for a loaded machine without hiding that.
	if unknown < known/4 {
		t.Errorf("unknown login took %v, a wrong password %v: timing tells them apart", unknown, known)
	}
}

func TestAuthenticateCache(t *testing.T) {
	ctx := context.Background()
	dir := newTestDir(t)
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	dir.now = func() time.Time { return now }
	u := mustUser(t, dir, NewUser{Address: "alice@example.com"})

	_, err := dir.Authenticate(ctx, "alice@example.com", "wrong password")
	checkErr(t, "wrong password", err, ErrBadCredentials)
	if n := len(dir.cache.entries); n != 0 {
		t.Fatalf("a failed login was cached (%d entries)", n)
	}
	_, err = dir.Authenticate(ctx, "alice@example.com", testPassword)
	must(t, err)
	if n := len(dir.cache.entries); n != 1 {
		t.Fatalf("%d cache entries after a login, want 1", n)
	}
	// A cached login is answered without argon2id: with all hash slots taken it would
	// otherwise block until the context ends.
	for range cap(dir.hashSlots) {
		dir.hashSlots <- struct{}{}
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	_, err = dir.Authenticate(short, "ALICE@example.com", testPassword)
	cancel()
	checkErr(t, "cached login", err, nil)
	for range cap(dir.hashSlots) {
		<-dir.hashSlots
	}

	// The enabled flag is checked on cached logins too.
	must(t, dir.SetEnabled(ctx, "alice@example.com", false))
	_, err = dir.Authenticate(ctx, "alice@example.com", testPassword)
	checkErr(t, "cached login of a disabled user", err, ErrDisabled)
	must(t, dir.SetEnabled(ctx, "alice@example.com", true))

	// A password change makes the cached entry useless at once.
	const newPassword = "battery staple horse"
	must(t, dir.SetPassword(ctx, "alice@example.com", newPassword))
	_, err = dir.Authenticate(ctx, "alice@example.com", testPassword)
	checkErr(t, "old password after the change", err, ErrBadCredentials)
	_, err = dir.Authenticate(ctx, "alice@example.com", newPassword)
	checkErr(t, "new password", err, nil)

	// Entries expire after five minutes.
	hash := storedHash(t, dir, u.ID)
	key := dir.cache.key(u.ID, newPassword, hash)
	if !dir.cache.valid(key) {
		t.Fatal("the new password's login is not cached")
	}
	now = now.Add(authCacheTTL - time.Second)
	if !dir.cache.valid(key) {
		t.Error("entry expired before five minutes")
	}
	now = now.Add(time.Second)
	if dir.cache.valid(key) {
		t.Error("entry still valid after five minutes")
	}
}

func storedHash(t *testing.T, dir *Directory, id int64) string {
	t.Helper()
	_, hashes, err := queryUsers(context.Background(), dir.db.Read(), `p.id = $1`, id)
	must(t, err)
	return hashes[id]
}

func TestAuthCacheBound(t *testing.T) {
	c := newAuthCache(3, time.Minute, time.Now)
	keys := make([][32]byte, 5)
	for i := range keys {
		keys[i] = c.key(int64(i), "pw", "hash")
		c.add(keys[i])
	}
	if len(c.entries) != 3 || c.order.Len() != 3 {
		t.Fatalf("cache holds %d/%d entries, want 3", len(c.entries), c.order.Len())
	}
	for i, want := range []bool{false, false, true, true, true} {
		if got := c.valid(keys[i]); got != want {
			t.Errorf("entry %d valid = %v, want %v (oldest evicted first)", i, got, want)
		}
	}
	// The key binds all three parts.
	base := c.key(1, "pw", "hash")
	for _, k := range [][32]byte{c.key(2, "pw", "hash"), c.key(1, "pw2", "hash"), c.key(1, "pw", "hash2"), c.key(1, "pwh", "ash")} {
		if k == base {
			t.Error("different (id, password, hash) give the same cache key")
		}
	}
}

func BenchmarkAuthenticate(b *testing.B) {
	ctx := context.Background()
	dir := newTestDir(b)
	mustUser(b, dir, NewUser{Address: "alice@example.com"})
	b.Run("cached", func(b *testing.B) {
		for b.Loop() {
			if _, err := dir.Authenticate(ctx, "alice@example.com", testPassword); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("uncached", func(b *testing.B) {
		for b.Loop() {
			dir.cache = newAuthCache(authCacheSize, authCacheTTL, time.Now)
			if _, err := dir.Authenticate(ctx, "alice@example.com", testPassword); err != nil {
				b.Fatal(err)
			}
		}
	})
}
