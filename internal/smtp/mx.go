package smtp

// The MX side of incoming mail: the Authentication-Results field (RFC 8601). A message
// may arrive carrying fields that claim our own checks passed; RFC 8601 5 has the
// receiving MTA delete every field bearing its authserv-id before adding its own.

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

const authResultsName = "Authentication-Results"

// authResults runs the Checker on the message as received and removes forged
// Authentication-Results fields. The authserv-ids stripped are our host name and the
// one the Checker writes. It returns the message, the Checker's field for the caller
// to put on top (with the Received field, in one copy of the message) and the DMARC
// policy the Checker asks for. Without a Checker only the forged fields are removed,
// and the field is "".
func (s *session) authResults(ctx context.Context, raw []byte) ([]byte, string, string, error) {
	ids := []string{s.srv.cfg.Hostname}
	field, policy := "", ""
	if c := s.srv.cfg.Checker; c != nil {
		v, err := c.Check(ctx, s.ip, s.conn.Hostname(), s.tx.from, raw)
		if err != nil {
			return nil, "", "", fmt.Errorf("check message %s: %w", s.tx.id, err)
		}
		policy = v.Policy
		field = crlf(v.Header)
		if !strings.HasPrefix(strings.ToLower(field), strings.ToLower(authResultsName)+":") {
			field = authResultsName + ": " + field
		}
		if id := authservID(fieldValue([]byte(field))); id != "" {
			ids = append(ids, id)
		}
	}
	return stripAuthResults(raw, ids), field, policy, nil
}

// stripAuthResults removes the Authentication-Results fields whose authserv-id is one
// of ids, ignoring case. A message without such fields is returned as it is, uncopied.
func stripAuthResults(raw []byte, ids []string) []byte {
	end := headerEnd(raw)
	fields := headerFields(raw[:end])
	forged := func(f []byte) bool {
		return strings.EqualFold(fieldName(f), authResultsName) && matchesAny(authservID(fieldValue(f)), ids)
	}
	if !slices.ContainsFunc(fields, forged) {
		return raw
	}
	out := make([]byte, 0, len(raw))
	for _, f := range fields {
		if !forged(f) {
			out = append(out, f...)
		}
	}
	return append(out, raw[end:]...)
}

func matchesAny(id string, ids []string) bool {
	for _, x := range ids {
		if x != "" && strings.EqualFold(id, x) {
			return true
		}
	}
	return false
}

// authservID returns the authserv-id that starts an Authentication-Results value (RFC
// 8601 2.2), skipping white space and comments.
func authservID(v string) string {
	v = skipCFWS(v)
	end := strings.IndexAny(v, " \t;(")
	if end < 0 {
		end = len(v)
	}
	return v[:end]
}

// skipCFWS drops leading white space and (nested) comments (RFC 5322 3.2.2).
func skipCFWS(v string) string {
	depth := 0
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '\\' && depth > 0:
			i++
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
		case depth == 0 && c != ' ' && c != '\t':
			return v[i:]
		}
	}
	return ""
}
