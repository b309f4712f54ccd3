package directory

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
)

func TestCheckPassword(t *testing.T) {
	tests := []struct {
		password, local string
		err             error
		errPart         string
	}{
		{"", "alice", ErrWeakPassword, "empty"},
		{"Ab3$efg", "alice", ErrWeakPassword, "7 characters"},
		{"äöüßéèà", "alice", ErrWeakPassword, "7 characters"},
		{"äöüßéèàç", "alice", nil, ""},
		{"alice.smith", "alice.smith", ErrWeakPassword, "is the user name"},
		{"ALICE.SMITH", "alice.smith", ErrWeakPassword, "is the user name"},
		{"my-Alice-2024", "alice", ErrWeakPassword, `contains the user name "alice"`},
		{"joanne-rocks", "jo", nil, ""}, // a two-letter local part is too common a substring
		{"jo", "jo", ErrWeakPassword, "8"},
		{"password", "alice", ErrWeakPassword, "common"},
		{"PassWord1", "alice", ErrWeakPassword, "common"},
		{"12345678", "alice", ErrWeakPassword, "common"},
		{"qwerty123", "alice", ErrWeakPassword, "common"},
		{"\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8", "alice", ErrInvalid, "UTF-8"},
		{strings.Repeat("x", 1025), "alice", ErrInvalid, "longer"},
		{testPassword, "alice", nil, ""},
	}
	for _, tt := range tests {
		err := checkPassword(tt.password, tt.local)
		checkErr(t, "checkPassword("+clip(tt.password)+")", err, tt.err)
		if err != nil && !strings.Contains(err.Error(), tt.errPart) {
			t.Errorf("checkPassword(%q): error %q does not mention %q", clip(tt.password), err, tt.errPart)
		}
	}
}

func TestPasswordHash(t *testing.T) {
	ctx := context.Background()
	dir := newTestDir(t)
	h, err := dir.HashPassword(ctx, testPassword)
	must(t, err)
	phcRE := regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	if !phcRE.MatchString(h) {
		t.Fatalf("hash %q is not the expected PHC string", h)
	}
	h2, err := dir.HashPassword(ctx, testPassword)
	must(t, err)
	if h == h2 {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
	for _, tt := range []struct {
		password string
		want     bool
	}{{testPassword, true}, {testPassword + " ", false}, {"", false}} {
		ok, err := dir.verifyPassword(ctx, h, tt.password)
		if err != nil || ok != tt.want {
			t.Errorf("verifyPassword(%q) = %v, %v; want %v", tt.password, ok, err, tt.want)
		}
	}
	salt, key := strings.Split(h, "$")[4], strings.Split(h, "$")[5]
	for _, bad := range []string{
		"", "plain", "$argon2i$v=19$m=19456,t=2,p=1$" + salt + "$" + key,
		"$argon2id$v=16$m=19456,t=2,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=99999999,t=2,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=19456,t=0,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=19456,t=2,p=300$" + salt + "$" + key,
		"$argon2id$v=19$m=19456,t=2,x=1$" + salt + "$" + key,
		"$argon2id$v=19$m=19456,t=2,p=1$!!$" + key,
		"$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$abc",
	} {
		if _, err := dir.verifyPassword(ctx, bad, testPassword); err == nil || errors.Is(err, ErrBadCredentials) {
			t.Errorf("verifyPassword with hash %q: error %v, want a malformed-hash error", bad, err)
		}
	}
}
