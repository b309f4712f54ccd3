package directory

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Validation of the names and free-text attributes of principals.

// maxSAMLen is the limit AD keeps for sAMAccountName on user objects, from the
// pre-Windows 2000 logon name.
const maxSAMLen = 20

// maxTextLen bounds free-text attributes (names, department, title, phone).
const maxTextLen = 256

// maxGroupNameLen bounds group names, which AD limits to 64 characters (cn).
const maxGroupNameLen = 64

// checkGroupName checks a group name: 1 to 64 characters, none of them @ or \ (which
// make a name read as an address or a DOMAIN\sam login) or control characters.
func checkGroupName(s string) (string, error) {
	n := strings.TrimSpace(s)
	if n == "" {
		return "", fmt.Errorf("%w: group name is empty", ErrInvalid)
	}
	if !utf8.ValidString(n) {
		return "", fmt.Errorf("%w: group name %q is not valid UTF-8", ErrInvalid, s)
	}
	if utf8.RuneCountInString(n) > maxGroupNameLen {
		return "", fmt.Errorf("%w: group name %q is longer than %d characters", ErrInvalid, s, maxGroupNameLen)
	}
	for _, r := range n {
		if r == '@' || r == '\\' || unicode.IsControl(r) {
			return "", fmt.Errorf("%w: group name %q may not contain %q", ErrInvalid, s, r)
		}
	}
	return n, nil
}

// checkUPN checks a user principal name: name@suffix with the syntax of an address.
// The suffix need not be one of our domains, as in AD. The UPN keeps its case; it is
// compared case-insensitively.
func checkUPN(s string) (string, error) {
	upn := strings.TrimSpace(s)
	if _, err := ParseAddress(upn); err != nil {
		return "", fmt.Errorf("%w: UPN %q must look like name@example.com: %s", ErrInvalid, s, strings.TrimPrefix(err.Error(), ErrInvalid.Error()+": "))
	}
	return strings.TrimSuffix(upn, "."), nil
}

// samForbidden are the characters AD refuses in sAMAccountName, plus @ (it would read
// as a UPN) and space (it would need quoting in DOMAIN\sam logins).
const samForbidden = "\"/\\[]:;|=,+*?<>@ "

// checkSAM checks a sAMAccountName and returns it trimmed.
func checkSAM(s string) (string, error) {
	sam := strings.TrimSpace(s)
	if sam == "" {
		return "", fmt.Errorf("%w: sAMAccountName is empty", ErrInvalid)
	}
	if utf8.RuneCountInString(sam) > maxSAMLen {
		return "", fmt.Errorf("%w: sAMAccountName %q is longer than %d characters", ErrInvalid, s, maxSAMLen)
	}
	for _, r := range sam {
		if strings.ContainsRune(samForbidden, r) || unicode.IsControl(r) || r == utf8.RuneError {
			return "", fmt.Errorf("%w: sAMAccountName %q may not contain %q", ErrInvalid, s, r)
		}
	}
	if strings.Trim(sam, ".") == "" {
		return "", fmt.Errorf("%w: sAMAccountName %q consists of dots only", ErrInvalid, s)
	}
	return sam, nil
}

// deriveSAM makes the default sAMAccountName from a local part: its characters that a
// sAMAccountName allows, cut to 20.
func deriveSAM(local string) string {
	var b strings.Builder
	for _, r := range local {
		if !strings.ContainsRune(samForbidden, r) && b.Len() < maxSAMLen {
			b.WriteRune(r)
		}
	}
	sam := strings.TrimRight(b.String(), ".")
	if strings.Trim(sam, ".") == "" {
		return ""
	}
	return sam
}

// checkText checks a free-text attribute: valid UTF-8, no control characters, not too
// long. It returns the value trimmed.
func checkText(field, s string) (string, error) {
	t := strings.TrimSpace(s)
	if !utf8.ValidString(t) {
		return "", fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalid, field)
	}
	if utf8.RuneCountInString(t) > maxTextLen {
		return "", fmt.Errorf("%w: %s %q is longer than %d characters", ErrInvalid, field, clip(t), maxTextLen)
	}
	for _, r := range t {
		if unicode.IsControl(r) {
			return "", fmt.Errorf("%w: %s %q contains a control character", ErrInvalid, field, t)
		}
	}
	return t, nil
}
