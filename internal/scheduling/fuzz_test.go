package scheduling

import (
	"testing"

	"mailroom/internal/pim"
)

// FuzzITIP feeds arbitrary text through everything that reads a scheduling message or
// a mail carrying one: Extract, Parse, and applying the result to a calendar copy. None
// may panic, and whatever an apply returns must be a valid calendar object.
func FuzzITIP(f *testing.F) {
	f.Add(ics("REQUEST", meeting("m1", 0)...))
	f.Add(ics("REPLY", "UID:m1", "DTSTAMP:20261101T090000Z", "ORGANIZER:mailto:alice@a.test", "ATTENDEE;PARTSTAT=ACCEPTED:mailto:bob@b.test"))
	f.Add(ics("CANCEL", meeting("m1", 1, "RECURRENCE-ID:20261203T100000Z")...))
	f.Add([]byte("Content-Type: text/calendar; method=REQUEST\r\nContent-Transfer-Encoding: base64\r\n\r\nQkVHSU46VkNBTEVOREFS\r\n"))
	lim := pim.Limits{MaxSize: 64 << 10, MaxInstances: 200}
	base, err := ApplyRequest(nil, mustParse(f, ics("REQUEST", meeting("m1", 0, "RRULE:FREQ=DAILY;COUNT=3")...)), lim)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if body, ok := Extract(data); ok {
			data = body
		}
		m, err := Parse(data, lim)
		if err != nil {
			return
		}
		var out []byte
		switch m.Method {
		case MethodRequest:
			out, err = ApplyRequest(nil, m, lim)
		case MethodCancel:
			out, err = ApplyCancel(base, m, lim)
		case MethodReply:
			out, err = ApplyReply(base, m, lim)
		}
		if err == nil && m.Method != MethodRequest {
			if _, err := pim.DecodeITIP(out, lim); err != nil {
				t.Fatalf("applied %s does not decode: %v\n%s", m.Method, err, out)
			}
		}
	})
}
