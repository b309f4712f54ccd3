package pim

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestInstances(t *testing.T) {
	series := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\n" +
		"BEGIN:VEVENT\r\nUID:s\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260302T090000Z\r\nDURATION:PT1H\r\n" +
		"RRULE:FREQ=DAILY\r\nEXDATE:20260304T090000Z\r\nEND:VEVENT\r\n" +
		"BEGIN:VEVENT\r\nUID:s\r\nDTSTAMP:20260101T000000Z\r\nRECURRENCE-ID:20260303T090000Z\r\n" +
		"DTSTART:20260303T140000Z\r\nDURATION:PT1H\r\nSTATUS:TENTATIVE\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	day := func(d, h int) time.Time { return time.Date(2026, 3, d, h, 0, 0, 0, time.UTC) }
	tests := []struct {
		name       string
		start, end time.Time
		want       []string // start hour per instance, with the component's STATUS
	}{
		{"first days", day(2, 0), day(6, 0), []string{"03T14 TENTATIVE", "02T09 ", "05T09 "}},
		{"override only", day(3, 12), day(3, 18), []string{"03T14 TENTATIVE"}},
		{"excluded day", day(4, 0), day(5, 0), nil},
		{"ends at the range start", day(2, 10), day(2, 12), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			err := Instances([]byte(series), tt.start, tt.end, Limits{}, func(in Instance) bool {
				got = append(got, in.Start.Format("02T15")+" "+propText(in.Component, "STATUS"))
				return true
			})
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("instances %q, want %q", got, tt.want)
			}
		})
	}
	if err := Instances([]byte(series), day(5, 0), day(4, 0), Limits{}, func(Instance) bool { return true }); !errors.Is(err, ErrInvalid) {
		t.Errorf("reversed range: %v", err)
	}
	n := 0
	if err := Instances([]byte(series), day(2, 0), day(30, 0), Limits{}, func(Instance) bool { n++; return n < 3 }); err != nil || n != 3 {
		t.Errorf("stopping early: %d instances, %v", n, err)
	}
}
