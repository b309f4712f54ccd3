package mailflow

import (
	"context"
	"slices"
	"sync"
	"testing"

	"mailroom/internal/store"
)

// hookRecorder keeps what the delivery hook heard.
type hookRecorder struct {
	mu    sync.Mutex
	heard []store.Delivered
}

func (h *hookRecorder) Delivered(_ context.Context, d []store.Delivered) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.heard = append(h.heard, d...)
}

// TestDeliveryHook checks that the hook hears of every local copy, after the store
// has it, and of nothing that went to the queue.
func TestDeliveryHook(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	tests := []struct {
		name     string
		rcpts    []string
		accounts []store.AccountID
	}{
		{"local and remote", []string{"bob@example.test", "someone@remote.test"}, []store.AccountID{store.AccountID(f.bob.ID)}},
		{"a group, each member once", []string{"team@example.test", "alice@example.test"}, []store.AccountID{store.AccountID(f.alice.ID), store.AccountID(f.bob.ID)}},
		{"remote only", []string{"someone@remote.test"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := &hookRecorder{}
			flow := &Flow{Directory: f.dir, Mailboxes: f.st, Queue: f.q, Delivered: h}
			raw := []byte("From: alice@example.test\r\nTo: x@example.test\r\nSubject: hook\r\n\r\nhi\r\n")
			if err := flow.Route(ctx, "alice@example.test", tc.rcpts, raw); err != nil {
				t.Fatal(err)
			}
			var got []store.AccountID
			for _, d := range h.heard {
				got = append(got, d.Account)
				if _, err := f.st.Message(ctx, d.ID); err != nil {
					t.Errorf("the hook heard of message %d before the store had it: %v", d.ID, err)
				}
			}
			slices.Sort(got)
			want := slices.Clone(tc.accounts)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("hook heard of accounts %v, want %v", got, want)
			}
		})
	}
}
