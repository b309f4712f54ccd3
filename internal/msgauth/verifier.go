package msgauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
)

// Verifier checks inbound mail. Its zero value is not usable: Resolver and
// Hostname are required.
type Verifier struct {
	// Resolver answers the DNS queries of all checks.
	Resolver Resolver
	// Hostname is the authserv-id written into Authentication-Results
	// (RFC 8601 section 2.5), normally this MX's host name.
	Hostname string
	// Logger receives debug records of each check; nil discards them.
	Logger *slog.Logger
}

// Result is the outcome of Verifier.Check.
type Result struct {
	// SPF is the check of the MAIL FROM identity, or of the HELO identity
	// for a null reverse-path (RFC 7208 section 2.4).
	SPF SPFResult
	// DKIM holds one result per DKIM-Signature field verified, in header
	// order; an unsigned message has a single result with status none.
	DKIM []DKIMResult
	// DMARC is the evaluation of the RFC5322.From domain's policy.
	DMARC DMARCResult
	// Header is the complete Authentication-Results field, folded and
	// CRLF-terminated, to prepend to the message.
	Header string
	// DMARCPolicy is "none", "quarantine" or "reject" when DMARC failed (the
	// Domain Owner's request after pct sampling), and empty otherwise. It is
	// for the caller to act on (RFC 7489 section 6.7: local policy decides).
	DMARCPolicy string
}

// Check authenticates a message received from remoteIP, whose client said
// HELO/EHLO helo and MAIL FROM mailFrom ("" for the null reverse-path), and
// whose content is raw. It runs SPF, verifies DKIM signatures, evaluates
// DMARC and formats the Authentication-Results field.
//
// DNS failures and malformed messages are results (temperror, permerror),
// not errors; Check returns an error only when it is misconfigured or
// called without a valid remote IP. Call StripOurResults on raw first:
// fields claiming to be ours must not reach the mailbox.
func (v *Verifier) Check(ctx context.Context, remoteIP net.IP, helo, mailFrom string, raw []byte) (Result, error) {
	if v.Resolver == nil {
		return Result{}, errors.New("msgauth: Verifier has no Resolver")
	}
	if !validAuthservID(v.Hostname) {
		return Result{}, fmt.Errorf("msgauth: invalid Verifier Hostname %q", v.Hostname)
	}
	if remoteIP.To16() == nil {
		return Result{}, fmt.Errorf("msgauth: invalid remote IP %v", remoteIP)
	}
	log := v.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	mailFrom = strings.TrimSuffix(strings.TrimPrefix(mailFrom, "<"), ">")
	helo = strings.TrimSuffix(helo, ".")

	fields, _, _ := splitHeader(raw)
	var res Result
	res.SPF = checkSPF(ctx, v.Resolver, log, remoteIP, helo, mailFrom)
	res.DKIM = verifyDKIM(ctx, v.Resolver, log, raw, fields)
	res.DMARC = evaluateDMARC(ctx, v.Resolver, log, fields, res.SPF, res.DKIM)
	res.DMARCPolicy = res.DMARC.Disposition
	res.Header = formatHeader(v.Hostname, res)
	return res, nil
}

// validAuthservID accepts a host name usable as an unquoted authserv-id
// token (RFC 8601 section 2.2, RFC 2045 token).
func validAuthservID(s string) bool {
	return s != "" && len(s) <= 253 && !strings.ContainsFunc(s, func(r rune) bool {
		return r <= ' ' || r >= 0x7f || strings.ContainsRune(`()<>@,;:\"/[]?=`, r)
	})
}
