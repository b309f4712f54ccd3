package mailio

import (
	"errors"
	"io"
	"slices"
	"testing"
	"time"
)

// readAll drains r.
func readAll(t *testing.T, r Reader) []*Message {
	t.Helper()
	var out []*Message
	for {
		m, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		out = append(out, m)
	}
}

// sameFlags compares flag lists as sets.
func sameFlags(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// checkMessage compares one message with what was expected.
func checkMessage(t *testing.T, i int, got, want *Message) {
	t.Helper()
	if string(got.Raw) != string(want.Raw) {
		t.Errorf("message %d: Raw = %q, want %q", i, got.Raw, want.Raw)
	}
	if !got.InternalDate.Equal(want.InternalDate) {
		t.Errorf("message %d: InternalDate = %v, want %v", i, got.InternalDate, want.InternalDate)
	}
	if !sameFlags(got.Flags, want.Flags) {
		t.Errorf("message %d: Flags = %q, want %q", i, got.Flags, want.Flags)
	}
}

func date(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}
