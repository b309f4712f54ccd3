package directory

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestRecipientCacheWrites checks that a directory write in this process shows in the
// very next resolution, whatever the cache held.
func TestRecipientCacheWrites(t *testing.T) {
	ctx := context.Background()
	dir := newTestDir(t)
	mustUser(t, dir, NewUser{Address: "alice@example.com"})
	mustGroup(t, dir, "Team", "team@example.com")

	steps := []struct {
		name    string
		write   func() error
		address string
		want    string // as in TestResolveRecipient; "" for ErrNotFound
	}{
		{"before anything", nil, "bob@example.com", ""},
		{"user added", func() error {
			_, err := dir.AddUser(ctx, NewUser{Address: "bob@example.com", Password: testPassword})
			return err
		},
			"bob@example.com", "bob@example.com bob@example.com"},
		{"alias added", func() error { return dir.AddAlias(ctx, "alice@example.com", "a@example.com") },
			"a@example.com", "alice@example.com alice@example.com"},
		{"alias removed", func() error { return dir.RemoveAlias(ctx, "a@example.com") }, "a@example.com", ""},
		{"empty group", nil, "team@example.com", "team@example.com"},
		{"member added", func() error { return dir.AddMember(ctx, "Team", "bob@example.com") },
			"team@example.com", "team@example.com bob@example.com"},
		{"member disabled", func() error { return dir.SetEnabled(ctx, "bob@example.com", false) },
			"team@example.com", "team@example.com"},
		{"user removed", func() error { _, err := dir.RemoveUser(ctx, "bob@example.com"); return err },
			"bob@example.com", ""},
	}
	for _, st := range steps {
		// Resolve once to fill the cache, write, and resolve again.
		_, _ = dir.ResolveRecipient(ctx, st.address)
		if st.write != nil {
			must(t, st.write())
		}
		r, err := dir.ResolveRecipient(ctx, st.address)
		if st.want == "" {
			checkErr(t, st.name, err, ErrNotFound)
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", st.name, err)
			continue
		}
		if got := strings.Join(append([]string{r.Address}, addresses(r.Users)...), " "); got != st.want {
			t.Errorf("%s: ResolveRecipient(%q) = %s, want %s", st.name, st.address, got, st.want)
		}
	}
}

// TestRecipientCacheOtherProcess checks that a write by another process (here a second
// Directory over the same database) shows once the cached answer has expired, and
// that callers cannot change what the cache holds.
func TestRecipientCacheOtherProcess(t *testing.T) {
	ctx := context.Background()
	dir := newTestDir(t)
	mustUser(t, dir, NewUser{Address: "alice@example.com"})
	now := time.Now()
	dir.now = func() time.Time { return now }

	r, err := dir.ResolveRecipient(ctx, "alice@example.com")
	must(t, err)
	r.Users[0].Address = "changed@example.com"

	other, err := New(ctx, dir.db)
	must(t, err)
	_, err = other.RemoveUser(ctx, "alice@example.com")
	must(t, err)

	r, err = dir.ResolveRecipient(ctx, "alice@example.com")
	if err != nil || r.Users[0].Address != "alice@example.com" {
		t.Fatalf("within the cache's lifetime: %+v, %v; want the remembered, unchanged answer", r, err)
	}
	now = now.Add(rcptCacheTTL)
	_, err = dir.ResolveRecipient(ctx, "alice@example.com")
	checkErr(t, "after the cache's lifetime", err, ErrNotFound)
}

// TestRecipientCacheBound checks that the cache keeps at most its size.
func TestRecipientCacheBound(t *testing.T) {
	now := time.Now()
	c := newRcptCache(3, time.Minute, func() time.Time { return now })
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		c.put(k, c.gen.Load(), Recipient{Address: k}, nil)
	}
	if len(c.entries) != 3 || c.order.Len() != 3 {
		t.Fatalf("%d entries, %d in order; want 3", len(c.entries), c.order.Len())
	}
	for k, want := range map[string]bool{"a": false, "b": false, "c": true, "e": true} {
		if _, _, ok := c.get(k); ok != want {
			t.Errorf("get(%q) found %v, want %v", k, ok, want)
		}
	}
	stale := c.gen.Load()
	c.invalidate()
	c.put("f", stale, Recipient{Address: "f"}, nil)
	if _, _, ok := c.get("f"); ok {
		t.Error("an answer read before a write was kept after it")
	}
}
