package auth

import (
	"testing"
	"time"
)

func TestLockoutDelay(t *testing.T) {
	l := Lockout{Threshold: 3, Backoff: time.Minute, Max: 8 * time.Minute}
	tests := []struct {
		failures int
		want     time.Duration
	}{
		{1, 0}, {2, 0}, {3, time.Minute}, {4, 2 * time.Minute}, {5, 4 * time.Minute},
		{6, 8 * time.Minute}, {7, 8 * time.Minute}, {1000, 8 * time.Minute},
	}
	for _, tt := range tests {
		if got := l.delay(tt.failures); got != tt.want {
			t.Errorf("delay(%d) = %v, want %v", tt.failures, got, tt.want)
		}
	}
}
