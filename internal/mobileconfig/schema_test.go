package mobileconfig

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// schemaKey is what the tests use of one payloadkeys entry of Apple's schema YAML
// (apple/device-management docs/schema.md).
type schemaKey struct {
	Type      string   // "<string>", "<boolean>", "<integer>", …
	Required  bool     // presence: required
	RangeList []string // allowed values, if the schema lists them
}

// schema is a payload type's keys.
type schema struct {
	PayloadType string
	Keys        map[string]schemaKey
}

// loadSchema reads testdata/apple/name with a reader just big enough for these files:
// the top-level "payloadkeys:" list, whose items start with "- key:" in column 0 and
// carry their fields two columns in; rangelist items are "  - value" lines. Deeper
// lines (content continuations, supportedOS, subkeys) are skipped.
func loadSchema(t testing.TB, name string) schema {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "apple", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := schema{Keys: make(map[string]schemaKey)}
	var section, cur, field string
	var k schemaKey
	flush := func() {
		if cur != "" {
			s.Keys[cur] = k
		}
		cur, k, field = "", schemaKey{}, ""
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case !strings.HasPrefix(line, " ") && !strings.HasPrefix(line, "-"):
			flush()
			section, _, _ = strings.Cut(line, ":")
		case section == "payload" && strings.HasPrefix(line, "  payloadtype:"):
			s.PayloadType = strings.TrimSpace(strings.TrimPrefix(line, "  payloadtype:"))
		case section != "payloadkeys":
		case strings.HasPrefix(line, "- key:"):
			flush()
			cur = strings.TrimSpace(strings.TrimPrefix(line, "- key:"))
		case strings.HasPrefix(line, "  - ") && field == "rangelist":
			k.RangeList = append(k.RangeList, unquote(strings.TrimPrefix(line, "  - ")))
		case strings.HasPrefix(line, "  ") && !strings.HasPrefix(line, "   ") && !strings.HasPrefix(line, "  - "):
			name, value, _ := strings.Cut(strings.TrimSpace(line), ":")
			field = name
			switch name {
			case "type":
				k.Type = strings.TrimSpace(value)
			case "presence":
				k.Required = strings.TrimSpace(value) == "required"
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	flush()
	if len(s.Keys) == 0 {
		t.Fatalf("%s: no payload keys read", name)
	}
	return s
}

func unquote(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && (s[0] == '\'' && s[len(s)-1] == '\'' || s[0] == '"' && s[len(s)-1] == '"') {
		return s[1 : len(s)-1]
	}
	return s
}

// merge returns the keys of all schemas; a key defined twice must agree.
func merge(t testing.TB, schemas ...schema) map[string]schemaKey {
	t.Helper()
	out := make(map[string]schemaKey)
	for _, s := range schemas {
		for name, k := range s.Keys {
			if old, ok := out[name]; ok && old.Type != k.Type {
				t.Fatalf("key %s defined as %s and %s", name, old.Type, k.Type)
			}
			out[name] = k
		}
	}
	return out
}

// checkDict checks a decoded plist dictionary against keys: every key it has is in the
// schema with a value of the schema's type and in the range list, and every required
// key is there.
func checkDict(what string, dict map[string]any, keys map[string]schemaKey) []string {
	var problems []string
	for name, v := range dict {
		k, ok := keys[name]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: key %s is not in Apple's schema", what, name))
			continue
		}
		if !typeMatches(k.Type, v) {
			problems = append(problems, fmt.Sprintf("%s: %s is %T, schema says %s", what, name, v, k.Type))
		}
		if len(k.RangeList) > 0 && !slices.Contains(k.RangeList, fmt.Sprint(v)) {
			problems = append(problems, fmt.Sprintf("%s: %s = %v, not one of %v", what, name, v, k.RangeList))
		}
	}
	for name, k := range keys {
		if _, ok := dict[name]; k.Required && !ok {
			problems = append(problems, fmt.Sprintf("%s: required key %s missing", what, name))
		}
	}
	slices.Sort(problems)
	return problems
}

func typeMatches(typ string, v any) bool {
	switch typ {
	case "<string>":
		_, ok := v.(string)
		return ok
	case "<boolean>":
		_, ok := v.(bool)
		return ok
	case "<integer>":
		switch v.(type) {
		case int64, uint64:
			return true
		}
		return false
	case "<real>":
		_, ok := v.(float64)
		return ok
	case "<data>":
		_, ok := v.([]byte)
		return ok
	case "<date>":
		_, ok := v.(time.Time)
		return ok
	case "<array>":
		_, ok := v.([]any)
		return ok
	case "<dictionary>":
		_, ok := v.(map[string]any)
		return ok
	case "<any>":
		return true
	}
	return false
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
