package gen

import (
	"errors"
	"strings"
	"testing"
)

const (
	pagesHeader = "page_number\tpage_name\tnamespace\ttag\ttoken_hex\n"
	metaHeader  = "page_number\ttag\ttoken_hex\tintroduced\tstatus\tnote\n"
)

func TestGenerate(t *testing.T) {
	src, err := Generate(
		strings.NewReader(pagesHeader+"0\tAirSync\tAirSync\tSync\t0x05\n0\tAirSync\tAirSync\tOld\t0x06\n1\tEmail\tEmail\tSubject\t0x14\n"),
		strings.NewReader(metaHeader+"0\tSync\t0x05\tall\tcurrent\t\n0\tOld\t0x06\t2.5\tlegacy\tgone\n1\tSubject\t0x14\tall\tcurrent\t\n"),
	)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`NSAirSync = "AirSync" // code page 0`,
		`0x05: {"Sync", statusCurrent},`,
		`0x06: {"Old", statusLegacy}, // gone`,
		`"Subject": 0x14,`,
		`NSEmail:   1,`,
	} {
		if !strings.Contains(string(src), want) {
			t.Errorf("output lacks %q:\n%s", want, src)
		}
	}
}

func TestGenerateRejects(t *testing.T) {
	okMeta := metaHeader + "0\tSync\t0x05\tall\tcurrent\t\n"
	tests := []struct {
		name, pages, meta string
	}{
		{"bad header", "page\tname\n", okMeta},
		{"token too small", pagesHeader + "0\tAirSync\tAirSync\tSync\t0x04\n", okMeta},
		{"token too large", pagesHeader + "0\tAirSync\tAirSync\tSync\t0x40\n", okMeta},
		{"token not hex", pagesHeader + "0\tAirSync\tAirSync\tSync\t5\n", okMeta},
		{"duplicate token", pagesHeader + "0\tAirSync\tAirSync\tSync\t0x05\n0\tAirSync\tAirSync\tAdd\t0x05\n", okMeta},
		{"duplicate name", pagesHeader + "0\tAirSync\tAirSync\tSync\t0x05\n0\tAirSync\tAirSync\tSync\t0x06\n", okMeta},
		{"page gap", pagesHeader + "0\tAirSync\tAirSync\tSync\t0x05\n2\tEmail\tEmail\tSubject\t0x14\n", okMeta},
		{"page renamed", pagesHeader + "0\tAirSync\tAirSync\tSync\t0x05\n0\tAirSync\tOther\tAdd\t0x07\n", okMeta},
		{"bad name", pagesHeader + "0\tAirSync\tAirSync\tReply-To\t0x05\n", okMeta},
		{"no rows", pagesHeader, okMeta},
		{"missing meta", pagesHeader + "0\tAirSync\tAirSync\tSync\t0x05\n", metaHeader},
		{"meta for unknown tag", pagesHeader + "0\tAirSync\tAirSync\tSync\t0x05\n", okMeta + "0\tAdd\t0x07\tall\tcurrent\t\n"},
		{"meta twice", pagesHeader + "0\tAirSync\tAirSync\tSync\t0x05\n", okMeta + "0\tSync\t0x05\tall\tcurrent\t\n"},
		{"bad status", pagesHeader + "0\tAirSync\tAirSync\tSync\t0x05\n", metaHeader + "0\tSync\t0x05\tall\tdeprecated\t\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Generate(strings.NewReader(tt.pages), strings.NewReader(tt.meta))
			if !errors.Is(err, ErrTable) {
				t.Fatalf("Generate: %v, want ErrTable", err)
			}
		})
	}
}
