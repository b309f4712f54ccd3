package config

import (
	"errors"
	"testing"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want Size
		ok   bool
	}{
		{"0", 0, true},
		{"1024", 1024, true},
		{"50MB", 50_000_000, true},
		{"50 mb", 50_000_000, true},
		{" 1GiB ", 1 << 30, true},
		{"3kib", 3072, true},
		{"7B", 7, true},
		{"2TB", 2_000_000_000_000, true},
		{"8191PiB", 0, false},
		{"", 0, false},
		{"MB", 0, false},
		{"-5MB", 0, false},
		{"1.5GB", 0, false},
		{"50XB", 0, false},
		{"9223372036854775808", 0, false},
		{"9000000TiB", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if tt.ok != (err == nil) || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidSize) {
			t.Errorf("ParseSize(%q) error %v does not wrap ErrInvalidSize", tt.in, err)
		}
	}
}

func TestSizeString(t *testing.T) {
	tests := []struct {
		in   Size
		want string
	}{
		{50 * MB, "50MB"},
		{GiB, "1GiB"},
		{2 * GB, "2GB"},
		{3 * KiB, "3KiB"},
		{3 * KB, "3KB"},
		{1536, "1536"},
		{12345, "12345"},
		{0, "0"},
		{-4, "-4"},
	}
	for _, tt := range tests {
		got := tt.in.String()
		if got != tt.want {
			t.Errorf("Size(%d).String() = %q, want %q", tt.in, got, tt.want)
		}
		if back, err := ParseSize(got); tt.in > 0 && (err != nil || back != tt.in) {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", got, back, err, tt.in)
		}
	}
}
