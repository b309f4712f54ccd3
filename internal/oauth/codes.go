package oauth

import (
	"crypto/rand"
	"fmt"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/op"
)

// Recovery codes: 16 characters of an alphabet without look-alikes (no I, O, 0, 1),
// 80 bits, shown in groups of four.
const (
	recoveryAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	recoveryCodeLen  = 16
)

func newRecoveryCode() string {
	var b strings.Builder
	for i := range recoveryCodeLen {
		if i > 0 && i%4 == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(recoveryAlphabet[randIndex(len(recoveryAlphabet))])
	}
	return b.String()
}

// randIndex returns a uniform random number below n (n ≤ 256) by rejection.
func randIndex(n int) int {
	limit := 256 - 256%n
	var b [1]byte
	for {
		rand.Read(b[:])
		if int(b[0]) < limit {
			return int(b[0]) % n
		}
	}
}

// normalizeRecoveryCode is how a typed recovery code is compared: case and the
// separators a user may type or leave out do not matter.
func normalizeRecoveryCode(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '-' || r == ' ' || r == '\t':
			return -1
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		}
		return r
	}, s)
}

// userCodeConfig is the device flow's user code (RFC 8628 section 6.1): eight
// consonants, which are easy to read out and type and spell no words.
var userCodeConfig = op.UserCodeBase20

// parseUserCode turns what a user typed into the stored form of a user code
// (RFC 8628 section 3.3: case and dashes are the user's choice), or fails.
func parseUserCode(s string) (string, error) {
	cfg := userCodeConfig
	var letters []rune
	for _, r := range s {
		switch {
		case r == '-' || r == ' ':
			continue
		case r >= 'a' && r <= 'z':
			r -= 'a' - 'A'
		}
		if !strings.ContainsRune(cfg.CharSet, r) {
			return "", fmt.Errorf("%w: the code has only the letters %s", ErrInvalid, cfg.CharSet)
		}
		letters = append(letters, r)
	}
	if len(letters) != cfg.CharAmount {
		return "", fmt.Errorf("%w: the code has %d letters", ErrInvalid, cfg.CharAmount)
	}
	var b strings.Builder
	for i, r := range letters {
		if i > 0 && i%cfg.DashInterval == 0 {
			b.WriteByte('-')
		}
		b.WriteRune(r)
	}
	return b.String(), nil
}
