package pim

// What a protocol that maps calendar objects field by field (ActiveSync's Calendar and
// Tasks classes) needs besides validation: the decoded tree of a stored object and the
// zone a TZID names.

import (
	"strings"
	"time"

	"github.com/emersion/go-ical"
)

// DecodeCalendar decodes the text of a stored calendar object under the nesting bound
// and with the decoder-panic recovery of ParseCalendar. It checks neither the rules of
// a calendar resource nor the limits: run ParseCalendar on anything about to be stored.
func DecodeCalendar(data []byte) (*ical.Calendar, error) {
	if err := checkNesting(data); err != nil {
		return nil, err
	}
	return decodeOne(data)
}

// LoadZone resolves a TZID to an IANA zone, also behind a vendor prefix such as
// "/mozilla.org/20050126_1/"; ok is false for a name the system does not know (the
// object's VTIMEZONE then says what the zone is).
func LoadZone(tzid string) (loc *time.Location, ok bool) {
	name := tzid
	for name != "" {
		if !strings.HasPrefix(name, "/") {
			if loc, err := time.LoadLocation(name); err == nil {
				return loc, true
			}
		}
		i := strings.IndexByte(name, '/')
		if i < 0 {
			break
		}
		name = name[i+1:]
	}
	return nil, false
}
