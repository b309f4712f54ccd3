package directory

import (
	"context"
	"errors"
	"testing"
)

func TestDKIMKeys(t *testing.T) {
	d := newTestDir(t)
	ctx := context.Background()
	if _, err := d.AddDomain(ctx, "contoso.test", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := d.DKIMKey(ctx, "contoso.test"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("key before any was set: %v", err)
	}
	cases := []struct {
		name, domain, selector string
		pem                    []byte
		want                   error
	}{
		{"unknown domain", "other.test", "s1", []byte("k"), ErrNotFound},
		{"bad selector", "contoso.test", "bad selector", []byte("k"), ErrInvalid},
		{"empty key", "contoso.test", "s1", nil, ErrInvalid},
	}
	for _, tc := range cases {
		if err := d.SetDKIMKey(ctx, tc.domain, tc.selector, tc.pem); !errors.Is(err, tc.want) {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.want)
		}
	}
	if err := d.SetDKIMKey(ctx, "Contoso.TEST", "s1", []byte("first")); err != nil {
		t.Fatal(err)
	}
	if err := d.SetDKIMKey(ctx, "contoso.test", "s2", []byte("second")); err != nil {
		t.Fatal(err)
	}
	k, err := d.DKIMKey(ctx, "contoso.test")
	if err != nil || k.Selector != "s2" || string(k.PrivateKey) != "second" {
		t.Fatalf("key = %+v, %v", k, err)
	}
	// The key goes with its domain.
	if err := d.RemoveDomain(ctx, "contoso.test"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.DKIMKey(ctx, "contoso.test"); err == nil {
		t.Fatal("key outlived its domain")
	}
}
