package auth

import (
	"errors"
	"testing"
)

func TestParseXOAUTH2(t *testing.T) {
	tests := []struct {
		in   string
		want BearerResponse
		ok   bool
	}{
		{"user=alice@example.com\x01auth=Bearer ya29.tok\x01\x01", BearerResponse{"alice@example.com", "ya29.tok"}, true},
		{"auth=bearer  abc==\x01user=a@b\x01\x01", BearerResponse{"a@b", "abc=="}, true},
		{"user=alice@example.com\x01auth=Bearer ya29.tok\x01", BearerResponse{}, false},
		{"user=alice@example.com\x01\x01", BearerResponse{}, false},
		{"auth=Bearer tok\x01\x01", BearerResponse{}, false},
		{"user=\x01auth=Bearer tok\x01\x01", BearerResponse{}, false},
		{"user=a\x01auth=Basic dG9r\x01\x01", BearerResponse{}, false},
		{"user=a\x01auth=Bearer \x01\x01", BearerResponse{}, false},
		{"user=a\x01auth=Bearer to ken\x01\x01", BearerResponse{}, false},
		{"user=a\x01garbage\x01auth=Bearer t\x01\x01", BearerResponse{}, false},
		{"", BearerResponse{}, false},
	}
	for _, tt := range tests {
		got, err := ParseXOAUTH2([]byte(tt.in))
		if tt.ok != (err == nil) || got != tt.want {
			t.Errorf("ParseXOAUTH2(%q) = %+v, %v", tt.in, got, err)
		}
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseXOAUTH2(%q): %v does not wrap ErrMalformed", tt.in, err)
		}
	}
}

func TestParseOAuthBearer(t *testing.T) {
	tests := []struct {
		in   string
		want BearerResponse
		ok   bool
	}{
		// RFC 7628 section 4.1's example.
		{"n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01",
			BearerResponse{"user@example.com", "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=="}, true},
		{"n,,\x01auth=Bearer tok\x01\x01", BearerResponse{"", "tok"}, true},
		{"y,,\x01auth=Bearer tok\x01\x01", BearerResponse{"", "tok"}, true},
		{"n,a=we=2Cird=3Dname,\x01auth=Bearer tok\x01\x01", BearerResponse{"we,ird=name", "tok"}, true},
		{"p=tls-unique,,\x01auth=Bearer tok\x01\x01", BearerResponse{}, false},
		{"x,,\x01auth=Bearer tok\x01\x01", BearerResponse{}, false},
		{"n,a=bad=41,\x01auth=Bearer tok\x01\x01", BearerResponse{}, false},
		{"n,u=user,\x01auth=Bearer tok\x01\x01", BearerResponse{}, false},
		{"n,,auth=Bearer tok\x01\x01", BearerResponse{}, false},
		{"n,,\x01auth=Bearer tok\x01", BearerResponse{}, false},
		{"n,,\x01host=x\x01\x01", BearerResponse{}, false},
		{"n,,\x01auth=Bearer a\x01auth=Bearer b\x01\x01", BearerResponse{}, false},
		{"n,,\x01ho-st=x\x01auth=Bearer tok\x01\x01", BearerResponse{}, false},
		{"\x01", BearerResponse{}, false},
		{"n", BearerResponse{}, false},
		{"n,", BearerResponse{}, false},
	}
	for _, tt := range tests {
		got, err := ParseOAuthBearer([]byte(tt.in))
		if tt.ok != (err == nil) || got != tt.want {
			t.Errorf("ParseOAuthBearer(%q) = %+v, %v", tt.in, got, err)
		}
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseOAuthBearer(%q): %v does not wrap ErrMalformed", tt.in, err)
		}
	}
}

// FuzzParseOAuthBearer checks the parser never panics and that what it accepts has a
// token of b64token characters only.
func FuzzParseOAuthBearer(f *testing.F) {
	f.Add([]byte("n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01"))
	f.Add([]byte("n,,\x01auth=Bearer tok\x01\x01"))
	f.Add([]byte("n,a=we=2Cird=3Dname,\x01auth=Bearer tok\x01\x01"))
	f.Add([]byte("\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseOAuthBearer(b)
		if err == nil {
			checkToken(t, r.Token)
		}
	})
}

// FuzzParseXOAUTH2 is FuzzParseOAuthBearer for XOAUTH2.
func FuzzParseXOAUTH2(f *testing.F) {
	f.Add([]byte("user=alice@example.com\x01auth=Bearer ya29.tok\x01\x01"))
	f.Add([]byte("auth=bearer  abc==\x01user=a@b\x01\x01"))
	f.Add([]byte("\x01\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseXOAUTH2(b)
		if err == nil {
			if r.Login == "" {
				t.Fatalf("accepted %q without a user", b)
			}
			checkToken(t, r.Token)
		}
	})
}

func checkToken(t *testing.T, tok string) {
	t.Helper()
	if tok == "" {
		t.Fatal("accepted an empty token")
	}
	if _, err := bearerValue([]byte("Bearer " + tok)); err != nil {
		t.Fatalf("accepted token %q that is not a b64token: %v", tok, err)
	}
}
