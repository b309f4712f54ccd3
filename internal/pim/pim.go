// Package pim says how calendar objects (RFC 5545 VEVENT and VTODO, each with its
// overrides), contacts (RFC 6350 vCard 3 and 4) and notes are kept as items of the
// mailbox store, for every protocol that serves them (CalDAV and CardDAV now,
// ActiveSync's Calendar, Contacts, Tasks and Notes classes later).
//
// An item's raw bytes are a small MIME wrapper around the object's text exactly as the
// client sent it, so every store path (blobs, quota, copy, move, export) works unchanged;
// what views need without parsing (resource name, UID, component, the UTC time span
// for time-range filtering, the ETag) is kept in the item's properties.
//
// Validation happens here, before anything is stored, and is bounded: object size,
// number of components and attendees, and recurrence rules are limited, and a rule is
// never expanded past a fixed number of instances. pim never writes to the store
// beyond creating the default folders; protocols decide when to write.
package pim

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"strconv"
	"time"

	"mailroom/internal/store"
)

// ErrInvalid is wrapped by every validation error; the rest of the message says what is
// wrong in words a user can act on.
var ErrInvalid = errors.New("invalid object")

// Kind says what an item holds.
type Kind string

// Kinds of item, as kept in PropKind.
const (
	KindEvent   Kind = "VEVENT"
	KindTodo    Kind = "VTODO"
	KindContact Kind = "VCARD"
	KindNote    Kind = "note"
	// KindTombstone marks a deleted resource whose name sync clients still need to hear
	// of (RFC 6578 3.5.2); it has no content.
	KindTombstone Kind = "tombstone"
	// KindCollection is the one item per folder that holds the collection's own
	// properties (display name, colour, description); it is not a member.
	KindCollection Kind = "collection"
)

// Item property names. Times are Unix seconds in UTC.
const (
	PropKind  = "pim:kind"
	PropName  = "pim:name" // the resource name in its collection (a DAV path segment)
	PropUID   = "pim:uid"
	PropETag  = "pim:etag"
	PropStart = "pim:start" // first instance's start; absent: unbounded below (a VTODO without dates)
	PropEnd   = "pim:end"   // last instance's end; absent: no end (an open recurrence)
	// Collection properties, on the KindCollection item.
	PropDisplayName = "pim:displayname"
	PropColor       = "pim:color"
	PropDescription = "pim:description"
)

// Limits bound what an object may hold. The zero value of a field means its default.
type Limits struct {
	MaxSize       int // bytes of iCalendar or vCard text; default 1 MiB
	MaxAttendees  int // ATTENDEE properties per component; default 500
	MaxComponents int // VEVENT/VTODO overrides and VTIMEZONEs in one object; default 1000
	MaxCount      int // largest RRULE COUNT; default 10000
	// MaxInstances bounds any expansion of a recurrence (the end of a rule with UNTIL,
	// a time-range test); a rule that goes on past it is treated as open-ended.
	MaxInstances int // default 20000
}

// WithDefaults fills in the default of every field left zero.
func (l Limits) WithDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxSize, 1<<20)
	def(&l.MaxAttendees, 500)
	def(&l.MaxComponents, 1000)
	def(&l.MaxCount, 10000)
	def(&l.MaxInstances, 20000)
	return l
}

// Object is a validated calendar object or contact.
type Object struct {
	Kind Kind
	UID  string
	Data []byte // the text as received; the ETag is its hash
	// Start and End span every instance in UTC; a zero Start is unbounded below, a zero
	// End has no end.
	Start, End time.Time
}

// ETag is the entity tag of a resource's text (RFC 9110 8.8.3): a strong tag from its
// SHA-256.
func ETag(data []byte) string {
	sum := sha256.Sum256(data)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}

// mediaType is the Content-Type of each kind's wrapper.
func mediaType(k Kind) string {
	switch k {
	case KindEvent, KindTodo:
		return "text/calendar; charset=utf-8; component=" + string(k)
	case KindContact:
		return "text/vcard; charset=utf-8"
	case KindNote:
		return "text/plain; charset=utf-8"
	}
	return "application/octet-stream"
}

// Item is the store item that keeps o under the resource name.
func (o *Object) Item(name string) store.NewMessage {
	props := map[string]string{
		PropKind: string(o.Kind),
		PropName: name,
		PropUID:  o.UID,
		PropETag: ETag(o.Data),
	}
	if !o.Start.IsZero() {
		props[PropStart] = strconv.FormatInt(o.Start.Unix(), 10)
	}
	if !o.End.IsZero() {
		props[PropEnd] = strconv.FormatInt(o.End.Unix(), 10)
	}
	return store.NewMessage{Raw: wrap(mediaType(o.Kind), nil, o.Data), Flags: []string{store.FlagSeen}, Props: props}
}

// Tombstone is the item that stands for a deleted resource of the given kind.
func Tombstone(name, uid string) store.NewMessage {
	return store.NewMessage{
		Raw:   wrap("application/x-mailroom-tombstone", nil, nil),
		Flags: []string{store.FlagSeen, store.FlagDeleted},
		Props: map[string]string{PropKind: string(KindTombstone), PropName: name, PropUID: uid},
	}
}

// CollectionItem is the item that holds a collection's properties.
func CollectionItem(props map[string]string) store.NewMessage {
	p := map[string]string{PropKind: string(KindCollection)}
	for k, v := range props {
		if v != "" {
			p[k] = v
		}
	}
	return store.NewMessage{Raw: wrap("application/x-mailroom-collection", nil, nil), Flags: []string{store.FlagSeen}, Props: p}
}

// maxNote bounds a note's subject and body together.
const maxNote = 1 << 20

// Note is the item that keeps a plain-text note (ActiveSync's Notes class) under name.
func Note(name, subject, body string) (store.NewMessage, error) {
	if len(subject)+len(body) > maxNote {
		return store.NewMessage{}, fmt.Errorf("%w: the note is larger than %d bytes", ErrInvalid, maxNote)
	}
	data := []byte(body)
	hdr := []string{"Subject: " + mime.BEncoding.Encode("utf-8", subject)}
	return store.NewMessage{
		Raw:   wrap(mediaType(KindNote), hdr, data),
		Flags: []string{store.FlagSeen},
		Props: map[string]string{PropKind: string(KindNote), PropName: name, PropETag: ETag(data)},
	}, nil
}

// wrap builds an item's raw bytes: MIME headers, a blank line and the text verbatim.
func wrap(contentType string, extra []string, data []byte) []byte {
	var b bytes.Buffer
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: " + contentType + "\r\nContent-Transfer-Encoding: 8bit\r\n")
	for _, h := range extra {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	b.Write(data)
	return b.Bytes()
}

// Body returns the object text an item's raw bytes wrap.
func Body(raw []byte) ([]byte, error) {
	_, body, ok := bytes.Cut(raw, []byte("\r\n\r\n"))
	if !ok {
		return nil, fmt.Errorf("%w: the stored item has no body", ErrInvalid)
	}
	return body, nil
}

// recoverInvalid turns a decoder's panic on malformed input into an ErrInvalid error.
func recoverInvalid(err *error, format string) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%w: not valid %s: %v", ErrInvalid, format, r)
	}
}
