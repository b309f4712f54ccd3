package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Size is a number of bytes. In the file it is an integer or a string with a
// decimal (KB, MB, GB, TB) or binary (KiB, MiB, GiB, TiB) unit.
type Size int64

// Size units. Decimal units are powers of 1000, binary units powers of 1024,
// as in IEC 80000-13, so "50MB" means what mail providers advertise.
const (
	B   Size = 1
	KB  Size = 1000
	MB  Size = 1000 * KB
	GB  Size = 1000 * MB
	TB  Size = 1000 * GB
	KiB Size = 1 << 10
	MiB Size = 1 << 20
	GiB Size = 1 << 30
	TiB Size = 1 << 40
)

// ErrInvalidSize is wrapped by every ParseSize error.
var ErrInvalidSize = errors.New("invalid size")

type unit struct {
	name string
	size Size
}

// units is ordered largest first, so String picks the largest unit that
// divides the size exactly and the round trip through ParseSize is lossless.
// It is a function returning an array so the table cannot be changed at run time.
func units() [8]unit {
	return [8]unit{
		{"TiB", TiB}, {"TB", TB}, {"GiB", GiB}, {"GB", GB},
		{"MiB", MiB}, {"MB", MB}, {"KiB", KiB}, {"KB", KB},
	}
}

// ParseSize reads a whole number of bytes with an optional unit, e.g. "1024",
// "50MB", "50 MB" or "1GiB". Units are case-insensitive; "B" means bytes.
func ParseSize(s string) (Size, error) {
	t := strings.TrimSpace(s)
	end := 0
	for end < len(t) && t[end] >= '0' && t[end] <= '9' {
		end++
	}
	if end == 0 {
		return 0, fmt.Errorf("%w: %q does not start with a number", ErrInvalidSize, s)
	}
	n, err := strconv.ParseInt(t[:end], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %q is too large", ErrInvalidSize, s)
	}
	unit, ok := unitOf(strings.TrimSpace(t[end:]))
	if !ok {
		return 0, fmt.Errorf("%w: %q has an unknown unit (use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)", ErrInvalidSize, s)
	}
	if n > math.MaxInt64/int64(unit) {
		return 0, fmt.Errorf("%w: %q is too large", ErrInvalidSize, s)
	}
	return Size(n) * unit, nil
}

func unitOf(name string) (Size, bool) {
	if name == "" || strings.EqualFold(name, "B") {
		return B, true
	}
	for _, u := range units() {
		if strings.EqualFold(name, u.name) {
			return u.size, true
		}
	}
	return 0, false
}

// String writes the size with the largest unit that divides it exactly, so
// that ParseSize(s.String()) == s.
func (s Size) String() string {
	if s > 0 {
		for _, u := range units() {
			if s%u.size == 0 {
				return strconv.FormatInt(int64(s/u.size), 10) + u.name
			}
		}
	}
	return strconv.FormatInt(int64(s), 10)
}
