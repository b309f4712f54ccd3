package adminapi

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"mailroom/internal/directory"
	"mailroom/internal/profiles"
)

// FuzzDecodeJSON: whatever a client sends as a body, decoding either succeeds or
// fails as a 400 (or 413 past the cap), and never panics.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"address":"a@example.test","password":"correct horse battery"}`,
		`{"displayName":"x","enabled":true}`,
		`{"name":"p","settings":{"host":"h","accountName":"a","ssl":"yes"}}`,
		`{"adress":1}`, `[]`, `{`, `{"a":1} {}`, ``, `null`, `{"settings":{"colour":"red"}}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		targets := []any{
			&directory.NewUser{},
			&userPatch{},
			&struct {
				Name     string            `json:"name"`
				Settings profiles.Settings `json:"settings"`
			}{Settings: profiles.DefaultSettings()},
		}
		for _, v := range targets {
			err := decodeJSON(http.MaxBytesReader(nil, io.NopCloser(strings.NewReader(body)), maxBody), v)
			if err == nil {
				continue
			}
			switch code := statusOf(err); code {
			case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			default:
				t.Fatalf("body %q: status %d for %v", body, code, err)
			}
		}
	})
}
