package main

// Test messages: the same bytes for the same (size, seed, index), so runs against
// different servers carry the same content.

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// parseSize reads a message size: bytes, or a number with KB, MB (powers of 1000) or
// KiB, MiB (powers of 1024).
func parseSize(s string) (int, error) {
	t := strings.TrimSpace(s)
	mult := 1
	for _, u := range []struct {
		suffix string
		mult   int
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"KB", 1000}, {"MB", 1000 * 1000}, {"B", 1}} {
		if len(t) > len(u.suffix) && strings.EqualFold(t[len(t)-len(u.suffix):], u.suffix) {
			t, mult = strings.TrimSpace(t[:len(t)-len(u.suffix)]), u.mult
			break
		}
	}
	n, err := strconv.Atoi(t)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("size %q: want a positive number of bytes, KB, KiB, MB or MiB", s)
	}
	if n > (64<<20)/mult {
		return 0, fmt.Errorf("size %q: more than 64 MiB", s)
	}
	return n * mult, nil
}

// minMessageSize is the smallest size a message can have: its header and one body line.
const minMessageSize = 512

// messageMaker makes the test messages of one run. The body is the same for every
// message; the header differs only in the index.
type messageMaker struct {
	from, to string
	size     int
	seed     uint64
	body     []byte // filler, longer than any body needs
}

func newMessageMaker(from string, to []string, size int, seed uint64) (*messageMaker, error) {
	if size < minMessageSize {
		return nil, fmt.Errorf("message size %d: at least %d bytes", size, minMessageSize)
	}
	m := &messageMaker{from: from, to: strings.Join(to, ", "), size: size, seed: seed}
	m.body = filler(size, seed)
	return m, nil
}

// filler returns about n bytes of CRLF-terminated 76-character lines of letters,
// digits and spaces from a fixed generator: no line starts with a dot, so no
// dot-stuffing is needed, and the text compresses about as well as real prose.
func filler(n int, seed uint64) []byte {
	const alphabet = "abcdefghijklmnopqrstuvwxyz abcdefghijklmnopqrstuvwxyz ABCDEFGHIJ0123456789"
	x := seed*0x9E3779B97F4A7C15 + 1
	out := make([]byte, 0, n+80)
	for len(out) < n {
		for range 76 {
			// xorshift64*: deterministic, and the same everywhere.
			x ^= x >> 12
			x ^= x << 25
			x ^= x >> 27
			out = append(out, alphabet[(x*0x2545F4914F6CDD1D>>33)%uint64(len(alphabet))])
		}
		out = append(out, '\r', '\n')
	}
	return out
}

// message returns message number i, exactly m.size bytes, ending in CRLF.
func (m *messageMaker) message(i int) ([]byte, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "From: mailbench <%s>\r\n", m.from)
	fmt.Fprintf(&b, "To: %s\r\n", m.to)
	fmt.Fprintf(&b, "Subject: mailbench message %d\r\n", i)
	b.WriteString("Date: Thu, 01 Jan 2026 00:00:00 +0000\r\n")
	fmt.Fprintf(&b, "Message-ID: <%d.%d.%d@mailbench.localhost>\r\n", m.seed, m.size, i)
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n")
	head := b.String()
	rest := m.size - len(head)
	if rest < 3 || rest > len(m.body) {
		return nil, errors.New("message header does not fit the size; use a larger --size")
	}
	out := make([]byte, 0, m.size)
	out = append(out, head...)
	out = append(out, m.body[:rest-2]...)
	// The cut may fall inside a line's CRLF: end on a complete CRLF in any case.
	if out[len(out)-1] == '\r' {
		out[len(out)-1] = 'x'
	}
	return append(out, '\r', '\n'), nil
}
