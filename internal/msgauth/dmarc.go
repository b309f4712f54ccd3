package msgauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/mail"
	"strings"

	"github.com/emersion/go-msgauth/dmarc"
	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
)

// Policies a DMARC record can request (RFC 7489 section 6.3, tag p).
const (
	PolicyNone       = "none"
	PolicyQuarantine = "quarantine"
	PolicyReject     = "reject"
)

// DMARCResult is the outcome of DMARC evaluation (RFC 7489 section 6.6).
type DMARCResult struct {
	Status Status
	// FromDomain is the RFC5322.From domain (the Author Domain).
	FromDomain string
	// RecordDomain is the domain whose _dmarc record was used: FromDomain or,
	// failing that, its Organizational Domain (RFC 7489 section 6.6.3).
	RecordDomain string
	// Policy is what the record asks for this message (p, or sp for a
	// subdomain found through the Organizational Domain), before pct.
	Policy string
	// Disposition is the policy to apply when Status is fail, after pct
	// sampling (RFC 7489 section 6.6.4); empty otherwise.
	Disposition string
	// SPFAligned and DKIMAligned tell which identifiers passed and aligned
	// with FromDomain (RFC 7489 section 3.1).
	SPFAligned, DKIMAligned bool
	// Reason is a short human-readable explanation.
	Reason string
}

// evaluateDMARC applies RFC 7489 section 6.6 to a message whose SPF and DKIM
// results are known.
func evaluateDMARC(ctx context.Context, r Resolver, log *slog.Logger, fields []field, spfRes SPFResult, dkimRes []DKIMResult) DMARCResult {
	fromDomain, err := authorDomain(fields)
	if err != nil {
		// RFC 7489 section 6.6.1: such messages are outside DMARC; report
		// them as unprocessable rather than pretending there is no policy.
		return DMARCResult{Status: StatusPermError, Reason: err.Error()}
	}
	res := DMARCResult{FromDomain: fromDomain}

	rec, recDomain, err := discoverPolicy(ctx, r, fromDomain)
	switch {
	case errors.Is(err, errNoPolicy):
		res.Status = StatusNone
		res.Reason = strings.TrimPrefix(err.Error(), "msgauth: ")
		return res
	case err != nil:
		res.Status = StatusPermError
		var dnsErr interface{ Temporary() bool }
		if errors.As(err, &dnsErr) && dnsErr.Temporary() {
			res.Status = StatusTempError
		}
		res.Reason = strings.TrimPrefix(err.Error(), "msgauth: ")
		log.Debug("dmarc policy discovery failed", "domain", fromDomain, "err", err)
		return res
	}
	res.RecordDomain = recDomain

	// RFC 7489 section 3.1.2: the SPF-authenticated identifier is the MAIL
	// FROM domain (or the HELO domain for a null reverse-path).
	if spfRes.Status == StatusPass && aligned(asciiDomain(spfRes.Domain), fromDomain, rec.SPFAlignment) {
		res.SPFAligned = true
	}
	// RFC 7489 section 3.1.1: any passing signature whose d= aligns.
	for _, d := range dkimRes {
		if d.Status == StatusPass && aligned(asciiDomain(d.Domain), fromDomain, rec.DKIMAlignment) {
			res.DKIMAligned = true
			break
		}
	}

	// RFC 7489 section 6.3: sp applies to subdomains of the domain whose
	// record was found, that is when the record came from the
	// Organizational Domain.
	res.Policy = string(rec.Policy)
	if recDomain != fromDomain && rec.SubdomainPolicy != "" {
		res.Policy = string(rec.SubdomainPolicy)
	}

	if res.SPFAligned || res.DKIMAligned {
		res.Status = StatusPass
		return res
	}
	res.Status = StatusFail
	res.Disposition = sampledPolicy(res.Policy, rec.Percent)
	res.Reason = "no aligned SPF or DKIM pass; policy " + res.Policy
	if res.Disposition != res.Policy {
		res.Reason += ", applied " + res.Disposition
	}
	log.Debug("dmarc failed", "domain", fromDomain, "record", recDomain, "policy", res.Policy, "disposition", res.Disposition)
	return res
}

// sampledPolicy applies the pct tag (RFC 7489 section 6.6.4): a message
// outside the sampled percentage gets the next less strict policy
// (reject becomes quarantine, quarantine becomes none).
func sampledPolicy(policy string, pct *int) string {
	if pct == nil || *pct >= 100 || rand.IntN(100) < *pct {
		return policy
	}
	switch policy {
	case PolicyReject:
		return PolicyQuarantine
	default:
		return PolicyNone
	}
}

// errNoPolicy means policy discovery found no usable DMARC record.
var errNoPolicy = errors.New("msgauth: no DMARC record")

// discoverPolicy looks up the DMARC record for fromDomain, falling back to
// its Organizational Domain (RFC 7489 section 6.6.3). It returns the record
// and the domain it was found at.
func discoverPolicy(ctx context.Context, r Resolver, fromDomain string) (*dmarc.Record, string, error) {
	rec, err := lookupRecord(ctx, r, fromDomain)
	if err != errNoPolicy {
		// Found, failed, or several records (which ends discovery without
		// a fallback, RFC 7489 section 6.6.3 step 4).
		return rec, fromDomain, err
	}
	org := organizationalDomain(fromDomain)
	if org == fromDomain {
		return nil, "", err
	}
	rec, err = lookupRecord(ctx, r, org)
	return rec, org, err
}

// lookupRecord fetches and parses the record at _dmarc.domain (RFC 7489
// section 6.1). Records not starting with v=DMARC1 are discarded; more than
// one remaining record means no policy (section 6.6.3 step 4).
func lookupRecord(ctx context.Context, r Resolver, domain string) (*dmarc.Record, error) {
	txts, err := dnsAdapter{r}.LookupTXT(ctx, "_dmarc."+domain)
	if isNotFound(err) {
		return nil, errNoPolicy
	}
	if err != nil {
		return nil, fmt.Errorf("msgauth: DMARC lookup for %s: %w", domain, err)
	}
	var found []string
	for _, txt := range txts {
		if isDMARC1(txt) {
			found = append(found, txt)
		}
	}
	switch len(found) {
	case 0:
		return nil, errNoPolicy
	case 1:
	default:
		return nil, fmt.Errorf("%w: %d DMARC records at _dmarc.%s", errNoPolicy, len(found), domain)
	}
	rec, err := dmarc.Parse(found[0])
	if err != nil {
		return nil, fmt.Errorf("msgauth: DMARC record at _dmarc.%s: %w", domain, err)
	}
	return rec, nil
}

// isDMARC1 reports whether txt starts with the version tag "v=DMARC1"
// (RFC 7489 section 6.4: v must be the first tag).
func isDMARC1(txt string) bool {
	name, rest, ok := strings.Cut(txt, "=")
	if !ok || strings.TrimSpace(name) != "v" {
		return false
	}
	version, _, _ := strings.Cut(rest, ";")
	return strings.TrimSpace(version) == "DMARC1"
}

// aligned compares an authenticated domain with the Author Domain in the
// given mode (RFC 7489 section 3.1): strict needs the same name, relaxed the
// same Organizational Domain.
func aligned(authenticated, from string, mode dmarc.AlignmentMode) bool {
	if authenticated == "" {
		return false
	}
	if authenticated == from {
		return true
	}
	if mode == dmarc.AlignmentStrict {
		return false
	}
	return organizationalDomain(authenticated) == organizationalDomain(from)
}

// organizationalDomain returns the Organizational Domain of domain (RFC 7489
// section 3.2): the public suffix plus one label, using the Public Suffix
// List compiled into golang.org/x/net/publicsuffix. A domain that is itself
// a public suffix is its own Organizational Domain.
func organizationalDomain(domain string) string {
	org, err := publicsuffix.EffectiveTLDPlusOne(domain)
	if err != nil {
		return domain
	}
	return org
}

// asciiDomain lower-cases domain, drops a trailing dot and converts
// internationalized labels to A-labels so that domains compare as DNS names.
func asciiDomain(domain string) string {
	domain = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(domain), "."))
	if a, err := idna.Lookup.ToASCII(domain); err == nil {
		return a
	}
	return domain
}

// authorDomain extracts the RFC5322.From domain (RFC 7489 section 6.6.1).
// A message without exactly one From field, or whose From names addresses in
// more than one domain, has no single Author Domain.
func authorDomain(fields []field) (string, error) {
	froms := fieldsNamed(fields, "From")
	switch len(froms) {
	case 0:
		return "", errors.New("no From field")
	case 1:
	default:
		return "", fmt.Errorf("%d From fields", len(froms))
	}
	value := froms[0].value()
	var domains []string
	if list, err := mail.ParseAddressList(value); err == nil {
		for _, a := range list {
			domains = append(domains, a.Address[strings.LastIndexByte(a.Address, '@')+1:])
		}
	} else {
		// RFC 7489 section 6.6.1 lets receivers process malformed From
		// fields; a lenient read keeps a broken From from escaping DMARC.
		domains = []string{lenientDomain(value)}
	}
	domain := ""
	for _, d := range domains {
		d = asciiDomain(d)
		if d == "" {
			return "", errors.New("no domain in From")
		}
		if domain != "" && d != domain {
			return "", errors.New("several domains in From")
		}
		domain = d
	}
	if domain == "" || strings.ContainsAny(domain, " \t\"<>()[],;:\\@") {
		return "", errors.New("no usable domain in From")
	}
	return domain, nil
}

// lenientDomain takes the domain of the last angle-bracketed address in v, or
// of v itself: the part after the last "@".
func lenientDomain(v string) string {
	if open := strings.LastIndexByte(v, '<'); open >= 0 {
		v = v[open+1:]
		if end := strings.IndexByte(v, '>'); end >= 0 {
			v = v[:end]
		}
	}
	at := strings.LastIndexByte(v, '@')
	if at < 0 {
		return ""
	}
	return strings.TrimSpace(v[at+1:])
}
