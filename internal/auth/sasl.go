package auth

// The two SASL mechanisms that carry an OAuth 2.0 bearer token, shared by IMAP, POP3
// and SMTP: OAUTHBEARER (RFC 7628) and Google's older XOAUTH2
// (https://developers.google.com/gmail/imap/xoauth2-protocol). Only their client
// responses are parsed here; each protocol runs the exchange in its own framing.

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// The SASL mechanism names.
const (
	MechOAuthBearer = "OAUTHBEARER"
	MechXOAUTH2     = "XOAUTH2"
)

// TokenMechanisms are the token mechanisms in the order a server offers them.
var TokenMechanisms = []string{MechOAuthBearer, MechXOAUTH2}

// ErrMalformed is wrapped by a client response that does not follow its mechanism.
var ErrMalformed = errors.New("malformed SASL response")

// maxTokenResponse bounds a response; a JWT access token is a few kilobytes.
const maxTokenResponse = 16 << 10

// BearerResponse is what a client's token response says.
type BearerResponse struct {
	// Login is who the client signs in as: XOAUTH2's user, OAUTHBEARER's authzid
	// (empty when the client gave none).
	Login string
	Token string
}

// ParseBearerResponse parses the initial client response of mech, one of
// TokenMechanisms.
func ParseBearerResponse(mech string, resp []byte) (BearerResponse, error) {
	switch mech {
	case MechOAuthBearer:
		return ParseOAuthBearer(resp)
	case MechXOAUTH2:
		return ParseXOAUTH2(resp)
	}
	return BearerResponse{}, fmt.Errorf("%w: %q is no token mechanism", ErrMalformed, mech)
}

// ParseXOAUTH2 parses "user=" user ^A "auth=Bearer " token ^A ^A.
func ParseXOAUTH2(resp []byte) (BearerResponse, error) {
	if len(resp) > maxTokenResponse {
		return BearerResponse{}, fmt.Errorf("%w: longer than %d bytes", ErrMalformed, maxTokenResponse)
	}
	rest, ok := bytes.CutSuffix(resp, []byte("\x01\x01"))
	if !ok {
		return BearerResponse{}, fmt.Errorf("%w: XOAUTH2 response does not end in two ^A", ErrMalformed)
	}
	var r BearerResponse
	var haveUser, haveAuth bool
	for kv := range bytes.SplitSeq(rest, []byte{1}) {
		k, v, ok := bytes.Cut(kv, []byte{'='})
		if !ok {
			return BearerResponse{}, fmt.Errorf("%w: XOAUTH2 field without '='", ErrMalformed)
		}
		switch string(k) {
		case "user":
			r.Login, haveUser = string(v), true
		case "auth":
			tok, err := bearerValue(v)
			if err != nil {
				return BearerResponse{}, err
			}
			r.Token, haveAuth = tok, true
		}
	}
	if !haveUser || r.Login == "" || !haveAuth {
		return BearerResponse{}, fmt.Errorf("%w: XOAUTH2 response needs user and auth", ErrMalformed)
	}
	return r, nil
}

// ParseOAuthBearer parses an OAUTHBEARER initial client response (RFC 7628 section
// 3.1): a GS2 header (RFC 5801 section 4) without channel binding, then key=value
// pairs, each ended by ^A, and a final ^A.
//
//	client-resp = gs2-header kvsep *kvpair kvsep
//	gs2-header  = gs2-cbind-flag "," [ "a=" saslname ] ","
func ParseOAuthBearer(resp []byte) (BearerResponse, error) {
	if len(resp) > maxTokenResponse {
		return BearerResponse{}, fmt.Errorf("%w: longer than %d bytes", ErrMalformed, maxTokenResponse)
	}
	flag, rest, ok := bytes.Cut(resp, []byte{','})
	if !ok {
		return BearerResponse{}, fmt.Errorf("%w: no GS2 header", ErrMalformed)
	}
	switch {
	case string(flag) == "n", string(flag) == "y":
		// "y": the client could bind a channel but thinks we cannot; we indeed do not
		// offer OAUTHBEARER-PLUS, so nothing was downgraded (RFC 5801 section 5).
	case bytes.HasPrefix(flag, []byte("p=")):
		return BearerResponse{}, fmt.Errorf("%w: channel binding is not supported", ErrMalformed)
	default:
		return BearerResponse{}, fmt.Errorf("%w: GS2 channel-binding flag %q", ErrMalformed, clip(string(flag), 20))
	}
	authz, rest, ok := bytes.Cut(rest, []byte{','})
	if !ok {
		return BearerResponse{}, fmt.Errorf("%w: GS2 header not ended by ','", ErrMalformed)
	}
	var r BearerResponse
	if len(authz) > 0 {
		name, ok := bytes.CutPrefix(authz, []byte("a="))
		if !ok {
			return BearerResponse{}, fmt.Errorf("%w: GS2 authzid does not start with a=", ErrMalformed)
		}
		login, err := decodeSASLName(name)
		if err != nil {
			return BearerResponse{}, err
		}
		r.Login = login
	}
	pairs, ok := bytes.CutPrefix(rest, []byte{1})
	if !ok {
		return BearerResponse{}, fmt.Errorf("%w: no ^A after the GS2 header", ErrMalformed)
	}
	pairs, ok = bytes.CutSuffix(pairs, []byte{1, 1})
	if !ok {
		return BearerResponse{}, fmt.Errorf("%w: OAUTHBEARER response does not end in two ^A", ErrMalformed)
	}
	haveAuth := false
	for kv := range bytes.SplitSeq(pairs, []byte{1}) {
		k, v, ok := bytes.Cut(kv, []byte{'='})
		if !ok || len(k) == 0 {
			return BearerResponse{}, fmt.Errorf("%w: OAUTHBEARER pair without key", ErrMalformed)
		}
		for _, c := range k {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
				return BearerResponse{}, fmt.Errorf("%w: OAUTHBEARER key %q", ErrMalformed, clip(string(k), 20))
			}
		}
		// host and port (section 3.1) name the server the client meant; every name
		// this server answers to is its own, so they are not checked.
		if string(k) == "auth" {
			if haveAuth {
				return BearerResponse{}, fmt.Errorf("%w: two auth pairs", ErrMalformed)
			}
			tok, err := bearerValue(v)
			if err != nil {
				return BearerResponse{}, err
			}
			r.Token, haveAuth = tok, true
		}
	}
	if !haveAuth {
		return BearerResponse{}, fmt.Errorf("%w: OAUTHBEARER response without auth", ErrMalformed)
	}
	return r, nil
}

// bearerValue returns the token of an "auth" value: "Bearer" (any case, RFC 7235
// section 2.1) 1*SP b64token (RFC 6750 section 2.1).
func bearerValue(v []byte) (string, error) {
	scheme, tok, ok := bytes.Cut(v, []byte{' '})
	if !ok || !strings.EqualFold(string(scheme), "Bearer") {
		return "", fmt.Errorf("%w: auth is not a Bearer token", ErrMalformed)
	}
	tok = bytes.TrimLeft(tok, " ")
	if len(tok) == 0 {
		return "", fmt.Errorf("%w: empty Bearer token", ErrMalformed)
	}
	for _, c := range tok {
		// b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~+/=", c) >= 0) {
			return "", fmt.Errorf("%w: Bearer token has a byte outside b64token", ErrMalformed)
		}
	}
	return string(tok), nil
}

// decodeSASLName undoes RFC 5801 section 4's escaping of ',' and '=' as "=2C" and
// "=3D"; any other '=' is an error.
func decodeSASLName(b []byte) (string, error) {
	var out strings.Builder
	for i := 0; i < len(b); i++ {
		if b[i] != '=' {
			out.WriteByte(b[i])
			continue
		}
		switch {
		case bytes.HasPrefix(b[i:], []byte("=2C")):
			out.WriteByte(',')
		case bytes.HasPrefix(b[i:], []byte("=3D")):
			out.WriteByte('=')
		default:
			return "", fmt.Errorf("%w: bad escape in GS2 authzid", ErrMalformed)
		}
		i += 2
	}
	return out.String(), nil
}

// BearerFailure is the challenge a server sends when mech's token is refused, before
// it fails the exchange: RFC 7628 section 3.2.2's error JSON for OAUTHBEARER, Google's
// for XOAUTH2. The client answers it with a dummy response (^A for OAUTHBEARER, an
// empty one for XOAUTH2), which the server reads and ignores.
func BearerFailure(mech string) []byte {
	if mech == MechXOAUTH2 {
		return []byte(`{"status":"401","schemes":"bearer"}`)
	}
	return []byte(`{"status":"invalid_token"}`)
}
