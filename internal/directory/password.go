package directory

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters: the first of the OWASP Password Storage Cheat Sheet's
// equivalent choices (19 MiB, two passes, one lane). Hashes record their own
// parameters, so these can be raised later without invalidating stored passwords.
const (
	argonMemory  = 19456 // KiB
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
	saltLen      = 16
)

// Password policy limits.
const (
	minPasswordLen = 8
	// maxPasswordLen bounds the work one login attempt can cause and the size of what
	// is hashed; no real password comes near it.
	maxPasswordLen = 1024
	// minLocalInPassword: a local part this short (as "jo") is too common a substring
	// to forbid inside passwords; the password may still not equal it.
	minLocalInPassword = 3
)

// isCommonPassword reports whether lower is one of the commonest passwords of at least
// eight characters in published breach-frequency lists; anything shorter is refused
// for its length anyway. A switch rather than a map keeps the list immutable.
func isCommonPassword(lower string) bool {
	switch lower {
	case "password", "password1", "password123", "passw0rd", "p@ssw0rd", "p@ssword",
		"12345678", "123456789", "1234567890", "123123123", "11111111", "00000000",
		"87654321", "qwertyui", "qwertyuiop", "qwerty123", "1q2w3e4r", "1qaz2wsx",
		"abc12345", "abcd1234", "iloveyou", "sunshine", "princess", "football",
		"baseball", "superman", "welcome1", "welcome123", "letmein1", "trustno1",
		"zaq12wsx", "changeme", "asdfghjkl", "starwars", "whatever":
		return true
	}
	return false
}

// checkPassword applies the password policy for a mailbox whose address has the given
// local part, and says what is wrong.
func checkPassword(password, local string) error {
	if password == "" {
		return fmt.Errorf("%w: the password is empty", ErrWeakPassword)
	}
	if !utf8.ValidString(password) {
		return fmt.Errorf("%w: the password is not valid UTF-8", ErrInvalid)
	}
	if len(password) > maxPasswordLen {
		return fmt.Errorf("%w: the password is longer than %d bytes", ErrInvalid, maxPasswordLen)
	}
	if n := utf8.RuneCountInString(password); n < minPasswordLen {
		return fmt.Errorf("%w: the password has %d characters; it needs at least %d", ErrWeakPassword, n, minPasswordLen)
	}
	lower := strings.ToLower(password)
	local = strings.ToLower(local)
	if lower == local {
		return fmt.Errorf("%w: the password is the user name", ErrWeakPassword)
	}
	if len(local) >= minLocalInPassword && strings.Contains(lower, local) {
		return fmt.Errorf("%w: the password contains the user name %q", ErrWeakPassword, local)
	}
	if isCommonPassword(lower) {
		return fmt.Errorf("%w: the password is one of the most common passwords", ErrWeakPassword)
	}
	return nil
}

// HashPassword returns the argon2id hash of password in PHC string format. Other
// components that keep secrets a client types as a password (internal/auth's app
// passwords) store them with it too.
func (d *Directory) HashPassword(ctx context.Context, password string) (string, error) {
	salt := make([]byte, saltLen)
	rand.Read(salt)
	if err := d.acquireHashSlot(ctx); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	d.releaseHashSlot()
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, argonMemory, argonTime, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// verifyPassword reports whether password matches the PHC-format argon2id hash.
func (d *Directory) verifyPassword(ctx context.Context, hash, password string) (bool, error) {
	p, err := parsePHC(hash)
	if err != nil {
		return false, err
	}
	if err := d.acquireHashSlot(ctx); err != nil {
		return false, err
	}
	key := argon2.IDKey([]byte(password), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
	d.releaseHashSlot()
	return subtle.ConstantTimeCompare(key, p.key) == 1, nil
}

// VerifyPassword reports whether password matches hash, a PHC string from
// HashPassword, of the secret with the given id. A match is remembered for a few
// minutes (see authCache), so a client that sends the secret with every request, as
// ActiveSync does, costs one argon2id run, not one per request. The id only keys the
// cache; the hash is part of the key, so secrets of different kinds sharing an id
// never mix.
func (d *Directory) VerifyPassword(ctx context.Context, id int64, hash, password string) (bool, error) {
	key := d.cache.key(id, password, hash)
	if d.cache.valid(key) {
		return true, nil
	}
	ok, err := d.verifyPassword(ctx, hash, password)
	if ok {
		d.cache.add(key)
	}
	return ok, err
}

// decoyVerify costs what verifying a password against a fresh hash costs, for logins
// that match no one: the answer must not come measurably faster.
func (d *Directory) decoyVerify(ctx context.Context, password string) {
	if d.acquireHashSlot(ctx) != nil {
		return
	}
	argon2.IDKey([]byte(password), d.decoySalt, argonTime, argonMemory, argonThreads, argonKeyLen)
	d.releaseHashSlot()
}

func (d *Directory) acquireHashSlot(ctx context.Context) error {
	select {
	case d.hashSlots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (d *Directory) releaseHashSlot() { <-d.hashSlots }

type phc struct {
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

// parsePHC parses $argon2id$v=19$m=M,t=T,p=P$salt$hash. The bounds keep a damaged or
// planted hash from making a login allocate gigabytes or spin for minutes.
func parsePHC(s string) (phc, error) {
	bad := func(why string) (phc, error) {
		return phc{}, fmt.Errorf("stored password hash is malformed: %s", why)
	}
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" {
		return bad("not a PHC string")
	}
	if parts[1] != "argon2id" {
		return bad("algorithm " + strconv.Quote(parts[1]) + " is not argon2id")
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return bad("unsupported version " + strconv.Quote(parts[2]))
	}
	var p phc
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, _ := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return bad("parameter " + strconv.Quote(kv))
		}
		switch k {
		case "m":
			p.memory = uint32(n)
		case "t":
			p.time = uint32(n)
		case "p":
			if n > 255 {
				return bad("parameter " + strconv.Quote(kv))
			}
			p.threads = uint8(n)
		default:
			return bad("parameter " + strconv.Quote(kv))
		}
	}
	if p.memory < 8 || p.memory > 1<<21 || p.time < 1 || p.time > 64 || p.threads < 1 || p.threads > 64 {
		return bad("parameters out of range")
	}
	var err error
	if p.salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil || len(p.salt) < 8 {
		return bad("salt")
	}
	if p.key, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(p.key) < 16 || len(p.key) > 128 {
		return bad("hash")
	}
	return p, nil
}
