// Package mobileconfig builds Apple configuration profiles (.mobileconfig files): pure
// functions from settings to the XML property list Apple devices install, and the CMS
// signature around it. It must never put a password into a profile, and it emits only
// keys that Apple's payload schemas (apple/device-management, mdm/profiles) define.
//
// A Profile holds Payloads; MailPayload is the IMAP/POP account (com.apple.mail.managed).
// Other packages add payload types by implementing Payload, using Common for the keys
// every payload carries.
package mobileconfig

import (
	"crypto/sha1"
	"errors"
	"fmt"
	"strings"

	"howett.net/plist"
)

// ErrInvalid is matched by errors.Is for every profile or payload that Marshal refuses.
var ErrInvalid = errors.New("invalid profile")

// Profile is the outer dictionary of a configuration profile (TopLevel.yaml).
type Profile struct {
	// Identifier is the reverse-DNS PayloadIdentifier. A device replaces an installed
	// profile with the same identifier instead of adding a second one.
	Identifier   string
	DisplayName  string
	Organization string
	Description  string
	// UUID is the PayloadUUID; DeriveUUID makes one that stays the same across
	// downloads.
	UUID     string
	Payloads []Payload
}

// Payload is one dictionary of a profile's PayloadContent array.
type Payload interface {
	// PayloadDict returns the payload dictionary: the common keys
	// (CommonPayloadKeys.yaml, see Common.Dict) and the payload type's own keys, as
	// plist values (string, bool, int, []byte, []any, map[string]any).
	PayloadDict() (map[string]any, error)
}

// Common holds the keys every payload carries besides PayloadType and PayloadVersion,
// which Dict sets.
type Common struct {
	// Identifier is the payload's reverse-DNS identifier, unique within the profile;
	// usually the profile's identifier with one more component.
	Identifier   string
	UUID         string
	DisplayName  string
	Description  string
	Organization string
}

// Dict returns the common payload keys for a payload of type payloadType, or an error
// wrapping ErrInvalid if a required one is missing.
func (c Common) Dict(payloadType string) (map[string]any, error) {
	if payloadType == "" {
		return nil, fmt.Errorf("%w: payload without PayloadType", ErrInvalid)
	}
	if c.Identifier == "" {
		return nil, fmt.Errorf("%w: %s payload without PayloadIdentifier", ErrInvalid, payloadType)
	}
	if !validUUID(c.UUID) {
		return nil, fmt.Errorf("%w: %s payload %s: PayloadUUID %q is not a UUID", ErrInvalid, payloadType, c.Identifier, c.UUID)
	}
	d := map[string]any{
		"PayloadType":       payloadType,
		"PayloadVersion":    1, // CommonPayloadKeys: the only value defined
		"PayloadIdentifier": c.Identifier,
		"PayloadUUID":       c.UUID,
	}
	putString(d, "PayloadDisplayName", c.DisplayName)
	putString(d, "PayloadDescription", c.Description)
	putString(d, "PayloadOrganization", c.Organization)
	return d, nil
}

// Marshal encodes the profile as an XML property list, ready to be served as
// application/x-apple-aspen-config or passed to Sign. The output depends only on p:
// dictionary keys are sorted.
func (p Profile) Marshal() ([]byte, error) {
	if p.Identifier == "" {
		return nil, fmt.Errorf("%w: no PayloadIdentifier", ErrInvalid)
	}
	if !validUUID(p.UUID) {
		return nil, fmt.Errorf("%w: profile PayloadUUID %q is not a UUID", ErrInvalid, p.UUID)
	}
	if len(p.Payloads) == 0 {
		return nil, fmt.Errorf("%w: profile %s has no payloads", ErrInvalid, p.Identifier)
	}
	content := make([]any, 0, len(p.Payloads))
	ids := make(map[string]bool)
	uuids := map[string]bool{strings.ToUpper(p.UUID): true}
	for _, pl := range p.Payloads {
		d, err := pl.PayloadDict()
		if err != nil {
			return nil, fmt.Errorf("profile %s: %w", p.Identifier, err)
		}
		// CommonPayloadKeys: the identifier "must be unique within the profile", and
		// a UUID shared by two payloads would make a replacement update the wrong one.
		id, _ := d["PayloadIdentifier"].(string)
		uuid, _ := d["PayloadUUID"].(string)
		if ids[id] {
			return nil, fmt.Errorf("%w: profile %s: PayloadIdentifier %s used twice", ErrInvalid, p.Identifier, id)
		}
		if uuids[strings.ToUpper(uuid)] {
			return nil, fmt.Errorf("%w: profile %s: PayloadUUID %s used twice", ErrInvalid, p.Identifier, uuid)
		}
		ids[id], uuids[strings.ToUpper(uuid)] = true, true
		content = append(content, d)
	}
	top := map[string]any{
		"PayloadContent":    content,
		"PayloadIdentifier": p.Identifier,
		"PayloadUUID":       p.UUID,
		"PayloadType":       "Configuration", // TopLevel: the only supported value
		"PayloadVersion":    1,
	}
	putString(top, "PayloadDisplayName", p.DisplayName)
	putString(top, "PayloadDescription", p.Description)
	putString(top, "PayloadOrganization", p.Organization)
	out, err := plist.MarshalIndent(top, plist.XMLFormat, "\t")
	if err != nil {
		return nil, fmt.Errorf("encode profile %s: %w", p.Identifier, err)
	}
	return out, nil
}

// mailroomNamespace is the RFC 9562 name-space UUID of DeriveUUID's name-based UUIDs.
// Its value is arbitrary; it only has to stay the same forever, or re-downloaded
// profiles would stop replacing installed ones.
const mailroomNamespace = "\x6d\x2f\x1c\x84\x3a\x5e\x4b\x1f\x9c\x07\x52\xd8\xe1\x4a\x90\x3b"

// DeriveUUID returns a name-based UUID (version 5, RFC 9562 §5.5) for a payload
// identifier and the user the profile is made for, in the upper-case form uuidgen
// prints. The same pair always gives the same UUID, so a device replaces the profile
// it installed earlier instead of adding a duplicate; the user is compared
// case-insensitively, as addresses are.
func DeriveUUID(identifier, user string) string {
	h := sha1.New()
	h.Write([]byte(mailroomNamespace))
	h.Write([]byte(identifier))
	h.Write([]byte{0}) // keeps ("a.b", "c") and ("a", ".bc") apart
	h.Write([]byte(strings.ToLower(user)))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50 // version 5
	u[8] = u[8]&0x3f | 0x80 // variant 10 (RFC 9562 §4.1)
	return strings.ToUpper(fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16]))
}

// validUUID reports whether s has the form Apple's schema gives for payload UUIDs:
// ^[0-9A-Za-z]{8}-[0-9A-Za-z]{4}-[0-9A-Za-z]{4}-[0-9A-Za-z]{4}-[0-9A-Za-z]{12}$.
func validUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
				return false
			}
		}
	}
	return true
}

// putString sets d[key] to v unless v is empty: optional keys are left out rather than
// sent empty, so a device falls back to its default or asks the user.
func putString(d map[string]any, key, v string) {
	if v != "" {
		d[key] = v
	}
}
