package msgauth

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/emersion/go-msgauth/dkim"
)

// maxSignatures bounds the DKIM signatures verified per message; RFC 6376
// section 6.1 lets a verifier limit the work it does (and section 8.4 warns
// about attacks that add many signatures).
const maxSignatures = 5

// recommendedHeaders returns the header fields RFC 6376 section 5.4.1
// recommends signing, less the trace and list fields that change in transit.
func recommendedHeaders() []string {
	return []string{
		"From", "Reply-To", "Subject", "Date", "To", "Cc",
		"Message-ID", "In-Reply-To", "References",
		"MIME-Version", "Content-Type", "Content-Transfer-Encoding",
	}
}

// DKIMResult is the outcome of verifying one DKIM-Signature field.
type DKIMResult struct {
	Status Status
	// Domain is the signing domain (d=, the SDID), Selector its s= tag.
	Domain   string
	Selector string
	// Identifier is the AUID (i=), "@" + Domain when the tag is absent.
	Identifier string
	// Algorithm is the a= tag, for example "rsa-sha256" or "ed25519-sha256".
	Algorithm string
	// SignaturePrefix is the start of the b= tag, reported as header.b so
	// that several signatures of one domain can be told apart (RFC 6008).
	SignaturePrefix string
	// Reason is a short human-readable explanation; empty on pass.
	Reason string
}

// sigTags are the DKIM-Signature tags this package reports.
type sigTags struct {
	domain, selector, identifier, algorithm, b string
}

// parseSigTags reads the tag=value list of a DKIM-Signature field (RFC 6376
// section 3.2) leniently: it is used for reporting only, verification is
// done by the DKIM library.
func parseSigTags(value string) sigTags {
	var t sigTags
	for _, spec := range strings.Split(value, ";") {
		name, val, ok := strings.Cut(spec, "=")
		if !ok {
			continue
		}
		val = stripFWS(val)
		switch strings.TrimSpace(name) {
		case "d":
			t.domain = strings.ToLower(val)
		case "s":
			t.selector = val
		case "i":
			t.identifier = val
		case "a":
			t.algorithm = val
		case "b":
			t.b = val
		}
	}
	return t
}

// stripFWS removes all whitespace; RFC 6376 section 3.2 allows FWS anywhere
// inside tag values such as base64 data.
func stripFWS(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, s)
}

// verifyDKIM verifies up to maxSignatures DKIM-Signature fields (RFC 6376
// section 6). An unsigned message gives one result with status none.
func verifyDKIM(ctx context.Context, r Resolver, log *slog.Logger, raw []byte, fields []field) []DKIMResult {
	sigFields := fieldsNamed(fields, "DKIM-Signature")
	if len(sigFields) == 0 {
		return []DKIMResult{{Status: StatusNone, Reason: "message not signed"}}
	}
	if len(sigFields) > maxSignatures {
		sigFields = sigFields[:maxSignatures]
	}
	results := make([]DKIMResult, len(sigFields))
	for i, f := range sigFields {
		t := parseSigTags(f.value())
		results[i] = DKIMResult{
			Domain:          t.domain,
			Selector:        t.selector,
			Identifier:      t.identifier,
			Algorithm:       t.algorithm,
			SignaturePrefix: prefix(t.b, 8),
		}
		if results[i].Identifier == "" && t.domain != "" {
			results[i].Identifier = "@" + t.domain
		}
	}

	adapter := dnsAdapter{r}
	verifs, err := dkim.VerifyWithOptions(bytes.NewReader(withSeparator(raw)), &dkim.VerifyOptions{
		LookupTXT: func(name string) ([]string, error) {
			return adapter.LookupTXT(ctx, name)
		},
		MaxVerifications: maxSignatures,
	})
	if err != nil && !errors.Is(err, dkim.ErrTooManySignatures) {
		// The library could not process the message at all (for example a
		// header it cannot read): no signature could be evaluated.
		log.Debug("dkim verification failed", "err", err)
		for i := range results {
			results[i].Status = StatusPermError
			results[i].Reason = err.Error()
		}
		return results
	}
	if len(verifs) != len(results) {
		// The library and splitHeader disagree on the header structure; trust
		// neither half and report the signatures as unprocessable.
		for i := range results {
			results[i].Status = StatusPermError
			results[i].Reason = "malformed header"
		}
		return results
	}
	for i, v := range verifs {
		res := &results[i]
		if v.Domain != "" {
			res.Domain = strings.ToLower(v.Domain)
		}
		if v.Identifier != "" {
			res.Identifier = v.Identifier
		}
		switch {
		case v.Err == nil:
			res.Status = StatusPass
		case dkim.IsTempFail(v.Err):
			res.Status = StatusTempError
		case dkim.IsPermFail(v.Err):
			res.Status = StatusPermError
		default:
			// Body hash or signature mismatch (RFC 8601 section 2.7.1 "fail").
			res.Status = StatusFail
		}
		if v.Err != nil {
			res.Reason = strings.TrimPrefix(v.Err.Error(), "dkim: ")
		}
		log.Debug("dkim checked", "domain", res.Domain, "selector", res.Selector, "result", string(res.Status), "err", v.Err)
	}
	return results
}

func prefix(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// Signer DKIM-signs outbound mail for one domain with one key.
type Signer struct {
	domain   string
	selector string
	key      crypto.Signer
}

// NewSigner returns a Signer for domain with the key published at
// selector._domainkey.domain. privatePEM is an RSA (at least 1024 bits) or
// Ed25519 key in PKCS #8 or PKCS #1 PEM form, as GenerateKey returns.
func NewSigner(domain, selector string, privatePEM []byte) (*Signer, error) {
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	if !validTagValue(domain) {
		return nil, fmt.Errorf("msgauth: invalid signing domain %q", domain)
	}
	if !validTagValue(selector) {
		return nil, fmt.Errorf("msgauth: invalid selector %q", selector)
	}
	key, err := parsePrivateKey(privatePEM)
	if err != nil {
		return nil, err
	}
	return &Signer{domain: domain, selector: selector, key: key}, nil
}

// validTagValue reports whether s can stand as a d= or s= value: non-empty
// dot-separated labels of letters, digits, hyphens and underscores
// (RFC 6376 section 3.1 selectors, section 3.5 d=).
func validTagValue(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" {
			return false
		}
		for _, c := range label {
			ok := c == '-' || c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
			if !ok {
				return false
			}
		}
	}
	return true
}

// Domain returns the signing domain (the d= tag).
func (s *Signer) Domain() string { return s.domain }

// Selector returns the selector (the s= tag).
func (s *Signer) Selector() string { return s.selector }

// TXTRecord returns the DKIM key record to publish at
// Selector()._domainkey.Domain() (RFC 6376 section 3.6.1).
func (s *Signer) TXTRecord() (string, error) {
	return publicKeyRecord(s.key.Public())
}

// Sign returns raw with a DKIM-Signature field prepended (RFC 6376 section
// 5): relaxed/relaxed canonicalization, SHA-256, over the RFC 6376 section
// 5.4.1 recommended fields present in the message, with From signed once
// more than it occurs so that no From field can be added later (section
// 5.4.2). A header-only message gets the empty line that ends its header.
func (s *Signer) Sign(raw []byte) ([]byte, error) {
	raw = withSeparator(raw)
	fields, _, _ := splitHeader(raw)
	if len(fieldsNamed(fields, "From")) == 0 {
		return nil, errors.New("msgauth: message has no From field to sign (RFC 6376 section 5.4)")
	}
	var keys []string
	for _, name := range recommendedHeaders() {
		n := len(fieldsNamed(fields, name))
		if name == "From" {
			n++
		}
		for range n {
			keys = append(keys, name)
		}
	}
	var out bytes.Buffer
	out.Grow(len(raw) + 1024)
	err := dkim.Sign(&out, bytes.NewReader(raw), &dkim.SignOptions{
		Domain:                 s.domain,
		Selector:               s.selector,
		Signer:                 s.key,
		Hash:                   crypto.SHA256,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed,
		BodyCanonicalization:   dkim.CanonicalizationRelaxed,
		HeaderKeys:             keys,
	})
	if err != nil {
		return nil, fmt.Errorf("msgauth: dkim sign for %s: %w", s.domain, err)
	}
	return out.Bytes(), nil
}
