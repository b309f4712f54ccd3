package pim

// Contacts: vCard 3.0 (RFC 2426) and 4.0 (RFC 6350) as CardDAV stores them (RFC 6352
// 5.1: one vCard per resource, with a UID).

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/emersion/go-vcard"
)

// maxContactFields bounds the properties of one vCard.
const maxContactFields = 2000

// ParseContact validates a vCard for an address book and returns it with its UID.
func ParseContact(data []byte, lim Limits) (*Object, error) {
	lim = lim.WithDefaults()
	if len(data) > lim.MaxSize {
		return nil, fmt.Errorf("%w: the vCard has %d bytes, more than the limit of %d", ErrInvalid, len(data), lim.MaxSize)
	}
	card, err := DecodeCard(data)
	if err != nil {
		return nil, err
	}
	switch v := card.Value(vcard.FieldVersion); v {
	case "3.0", "4.0":
	case "":
		return nil, fmt.Errorf("%w: the vCard has no VERSION", ErrInvalid)
	default:
		return nil, fmt.Errorf("%w: vCard version %q is not supported; use 3.0 or 4.0 (RFC 6352 5.1)", ErrInvalid, v)
	}
	n := 0
	for _, fs := range card {
		n += len(fs)
	}
	if n > maxContactFields {
		return nil, fmt.Errorf("%w: the vCard has %d properties, more than the limit of %d", ErrInvalid, n, maxContactFields)
	}
	uid := strings.TrimSpace(card.Value(vcard.FieldUID))
	if uid == "" {
		return nil, fmt.Errorf("%w: the vCard has no UID (RFC 6352 5.1 requires one)", ErrInvalid)
	}
	return &Object{Kind: KindContact, UID: uid, Data: data}, nil
}

// DecodeCard decodes exactly one vCard.
func DecodeCard(data []byte) (card vcard.Card, err error) {
	defer recoverInvalid(&err, "vCard")
	dec := vcard.NewDecoder(bytes.NewReader(data))
	card, err = dec.Decode()
	if err != nil {
		return nil, fmt.Errorf("%w: not a valid vCard: %v", ErrInvalid, err)
	}
	if _, err := dec.Decode(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: an address book resource holds exactly one vCard (RFC 6352 5.1)", ErrInvalid)
	}
	return card, nil
}
