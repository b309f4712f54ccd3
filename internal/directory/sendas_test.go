package directory

import (
	"context"
	"errors"
	"testing"
)

func TestSendableAddresses(t *testing.T) {
	d := newTestDir(t)
	ctx := context.Background()
	alice := mustUser(t, d, NewUser{Address: "alice@example.com"})
	mustUser(t, d, NewUser{Address: "sales@example.com", Kind: KindShared})
	mustUser(t, d, NewUser{Address: "support@example.com", Kind: KindShared})
	if err := d.AddAlias(ctx, "alice@example.com", "a@example.com"); err != nil {
		t.Fatal(err)
	}
	if err := d.Grant(ctx, "sales@example.com", "alice@example.com", SendAs); err != nil {
		t.Fatal(err)
	}
	if err := d.Grant(ctx, "support@example.com", "alice@example.com", FullAccess); err != nil {
		t.Fatal(err)
	}
	got, err := d.SendableAddresses(ctx, alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"alice@example.com", "a@example.com", "sales@example.com"} {
		if !got[want] {
			t.Errorf("%s missing from %v", want, got)
		}
	}
	if got["support@example.com"] || len(got) != 3 {
		t.Errorf("FullAccess alone must not allow sending as the mailbox: %v", got)
	}
	if err := d.SetEnabled(ctx, "alice@example.com", false); err != nil {
		t.Fatal(err)
	}
	if _, err := d.SendableAddresses(ctx, alice.ID); !errors.Is(err, ErrDisabled) {
		t.Fatalf("disabled user: %v", err)
	}
	if _, err := d.SendableAddresses(ctx, 99999); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
}
