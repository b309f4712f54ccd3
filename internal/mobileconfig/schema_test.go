package mobileconfig

import (
	"slices"
	"testing"

	"mailroom/internal/mobileconfig/schematest"
)

// schemaKey and schema are schematest's, which every package that writes profiles
// shares; the wrappers below keep these tests' names short.
type (
	schemaKey = schematest.Key
	schema    = schematest.Schema
)

func loadSchema(t testing.TB, name string) schema {
	t.Helper()
	s, err := schematest.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func merge(t testing.TB, schemas ...schema) map[string]schemaKey {
	t.Helper()
	keys, err := schematest.Merge(schemas...)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func checkDict(what string, dict map[string]any, keys map[string]schemaKey) []string {
	return schematest.CheckDict(what, dict, keys)
}

// payloadSchemas returns the key sets for a profile's outer dictionary and for each
// payload type the package writes.
func payloadSchemas(t testing.TB) (top map[string]schemaKey, byType map[string]map[string]schemaKey) {
	t.Helper()
	common := loadSchema(t, "CommonPayloadKeys.yaml")
	mail := loadSchema(t, "com.apple.mail.managed.yaml")
	if mail.PayloadType != MailPayloadType {
		t.Fatalf("mail schema is for %q, want %q", mail.PayloadType, MailPayloadType)
	}
	return merge(t, loadSchema(t, "TopLevel.yaml")), map[string]map[string]schemaKey{
		MailPayloadType: merge(t, common, mail),
	}
}

// TestSchemaReader pins what the reader makes of the files, so a reader bug cannot
// make the other tests pass vacuously.
func TestSchemaReader(t *testing.T) {
	mail := loadSchema(t, "com.apple.mail.managed.yaml")
	want := map[string]schemaKey{
		"EmailAccountType":                 {Type: "<string>", Required: true, RangeList: []string{"EmailTypeIMAP", "EmailTypePOP"}},
		"IncomingMailServerHostName":       {Type: "<string>", Required: true},
		"IncomingMailServerPortNumber":     {Type: "<integer>"},
		"OutgoingMailServerUseSSL":         {Type: "<boolean>"},
		"SMIMEEnablePerMessageSwitch":      {Type: "<boolean>"},
		"IncomingMailServerAuthentication": {Type: "<string>", Required: true, RangeList: []string{"EmailAuthNone", "EmailAuthPassword", "EmailAuthCRAMMD5", "EmailAuthNTLM", "EmailAuthHTTPMD5"}},
	}
	for name, w := range want {
		got := mail.Keys[name]
		if got.Type != w.Type || got.Required != w.Required || !slices.Equal(got.RangeList, w.RangeList) {
			t.Errorf("%s = %+v, want %+v", name, got, w)
		}
	}
	if len(mail.Keys) != 35 {
		t.Errorf("read %d mail keys, want 35", len(mail.Keys))
	}
	top := loadSchema(t, "TopLevel.yaml")
	if k := top.Keys["PayloadVersion"]; !k.Required || !slices.Equal(k.RangeList, []string{"1"}) {
		t.Errorf("TopLevel PayloadVersion = %+v", k)
	}
	if k := top.Keys["PayloadContent"]; k.Type != "<array>" || !k.Required {
		t.Errorf("TopLevel PayloadContent = %+v", k)
	}
	if _, ok := top.Keys["PayloadContentItem"]; ok {
		t.Error("a subkey was read as a top-level key")
	}
}
