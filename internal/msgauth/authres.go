package msgauth

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/emersion/go-msgauth/authres"
)

// Status is a result value from the RFC 8601 section 2.7 registry.
type Status string

// Result values used by this package (RFC 8601 sections 2.7.1 to 2.7.2,
// RFC 7489 section 11.2).
const (
	StatusNone      Status = "none"
	StatusPass      Status = "pass"
	StatusFail      Status = "fail"
	StatusSoftFail  Status = "softfail"
	StatusNeutral   Status = "neutral"
	StatusTempError Status = "temperror"
	StatusPermError Status = "permerror"
)

// headerName is the field name of RFC 8601 section 2.2.
const headerName = "Authentication-Results"

// Limits on reported values: they come from the message and the DNS, and
// must not make the field exceed the 998-octet line limit of RFC 5322
// section 2.1.1 (each result is written on a line of its own).
const (
	maxReasonLen = 160
	maxValueLen  = 260
)

// formatHeader writes the Authentication-Results field (RFC 8601 section
// 2.2) for res, one method result per folded line, terminated by CRLF.
func formatHeader(authservID string, res Result) string {
	var results []authres.Result
	spfRes := &authres.SPFResult{
		Value:  authres.ResultValue(res.SPF.Status),
		Reason: clean(res.SPF.Reason, maxReasonLen),
	}
	// RFC 8601 section 2.7.2: report the identity that was checked.
	if res.SPF.MailFrom != "" {
		spfRes.From = clean(res.SPF.MailFrom, maxValueLen)
	} else {
		spfRes.Helo = clean(res.SPF.Helo, maxValueLen)
	}
	results = append(results, spfRes)

	for _, d := range res.DKIM {
		// header.s and header.b are registered (RFC 8601 section 2.7.1,
		// RFC 6008) but not modelled by authres.DKIMResult.
		results = append(results, &authres.GenericResult{
			Method: "dkim",
			Value:  authres.ResultValue(d.Status),
			Params: map[string]string{
				"reason":   clean(d.Reason, maxReasonLen),
				"header.d": clean(d.Domain, maxValueLen),
				"header.s": clean(d.Selector, maxValueLen),
				"header.i": clean(d.Identifier, maxValueLen),
				"header.b": clean(d.SignaturePrefix, maxValueLen),
			},
		})
	}

	results = append(results, &authres.DMARCResult{
		Value:  authres.ResultValue(res.DMARC.Status),
		Reason: clean(res.DMARC.Reason, maxReasonLen),
		From:   clean(res.DMARC.FromDomain, maxValueLen),
	})

	var b strings.Builder
	b.WriteString(headerName + ": " + authservID)
	for _, r := range results {
		// authres.Format renders "id; method=value params"; take the part
		// after the identity so each result can go on its own line.
		one := authres.Format(authservID, []authres.Result{r})
		one = strings.TrimSpace(strings.TrimPrefix(one, authservID+";"))
		b.WriteString(";\r\n\t" + one)
	}
	b.WriteString("\r\n")
	return b.String()
}

// clean makes a value from the message or the DNS safe to place in a header
// field: control characters (which could end the field and inject another)
// and backslashes (which authres does not escape inside quoted strings) are
// replaced, invalid UTF-8 is dropped, and the length is capped.
func clean(s string, max int) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == utf8.RuneError:
			continue
		case r == '\\' || unicode.IsControl(r):
			b.WriteByte('?')
		default:
			b.WriteRune(r)
		}
		if b.Len() >= max {
			break
		}
	}
	return b.String()
}

// StripOurResults removes from raw every Authentication-Results field whose
// authserv-id is authservID (compared case-insensitively), as RFC 8601
// section 5 requires of a border MTA: such fields arriving from outside are
// forgeries. Fields of other authserv-ids and all other bytes are kept as
// they are; when nothing is removed raw itself is returned.
func StripOurResults(raw []byte, authservID string) []byte {
	want := normalizeID(authservID)
	fields, _, _ := splitHeader(raw)
	var out []byte
	off := 0
	removed := false
	for _, f := range fields {
		end := off + len(f.raw)
		if strings.EqualFold(f.name, headerName) && normalizeID(authservIDOf(f.value())) == want {
			if !removed {
				out = make([]byte, 0, len(raw))
				out = append(out, raw[:off]...)
				removed = true
			}
		} else if removed {
			out = append(out, raw[off:end]...)
		}
		off = end
	}
	if !removed {
		return raw
	}
	return append(out, raw[off:]...)
}

func normalizeID(id string) string {
	return strings.ToLower(strings.TrimSuffix(id, "."))
}

// authservIDOf returns the authserv-id that starts an Authentication-Results
// field body: a value (token or quoted-string) after optional CFWS
// (RFC 8601 section 2.2).
func authservIDOf(v string) string {
	v = skipCFWS(v)
	if strings.HasPrefix(v, `"`) {
		var b strings.Builder
		for i := 1; i < len(v); i++ {
			switch v[i] {
			case '\\':
				if i+1 < len(v) {
					i++
					b.WriteByte(v[i])
				}
			case '"':
				return b.String()
			default:
				b.WriteByte(v[i])
			}
		}
		return b.String()
	}
	end := strings.IndexAny(v, " \t;()")
	if end < 0 {
		return v
	}
	return v[:end]
}

// skipCFWS drops leading whitespace and (nested) comments (RFC 5322 section
// 3.2.2).
func skipCFWS(v string) string {
	for {
		v = strings.TrimLeft(v, " \t\r\n")
		if !strings.HasPrefix(v, "(") {
			return v
		}
		depth := 0
		i := 0
	comment:
		for ; i < len(v); i++ {
			switch v[i] {
			case '\\':
				i++
			case '(':
				depth++
			case ')':
				depth--
				if depth == 0 {
					break comment
				}
			}
		}
		if i >= len(v) {
			return ""
		}
		v = v[i+1:]
	}
}
