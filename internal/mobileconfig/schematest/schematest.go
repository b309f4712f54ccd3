// Package schematest checks configuration profiles against Apple's payload schemas
// (the YAML files of apple/device-management, embedded from apple/), for the tests of
// every package that writes profiles. It is test support: production code must never
// import it, and it never changes the schema files it reads.
package schematest

import (
	"bufio"
	"bytes"
	"embed"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"howett.net/plist"
)

//go:embed apple/*.yaml
var files embed.FS

// Key is what the checks use of one payloadkeys entry (apple/device-management
// docs/schema.md).
type Key struct {
	Type      string   // "<string>", "<boolean>", "<integer>", …
	Required  bool     // presence: required
	RangeList []string // allowed values, if the schema lists them
	Format    string   // a regular expression string values must match, if given
}

// Schema is one payload type's keys.
type Schema struct {
	PayloadType string
	Keys        map[string]Key
}

// Load reads apple/name with a reader just big enough for these files: the top-level
// "payloadkeys:" list, whose items start with "- key:" in column 0 and carry their
// fields two columns in; rangelist items are "  - value" lines. Deeper lines (content
// continuations, supportedOS, subkeys) are skipped.
func Load(name string) (Schema, error) {
	data, err := files.ReadFile("apple/" + name)
	if err != nil {
		return Schema{}, fmt.Errorf("schema %s: %w", name, err)
	}
	s := Schema{Keys: make(map[string]Key)}
	var section, cur, field string
	var k Key
	flush := func() {
		if cur != "" {
			s.Keys[cur] = k
		}
		cur, k, field = "", Key{}, ""
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
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
			case "format":
				k.Format = unquote(value)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return Schema{}, fmt.Errorf("schema %s: %w", name, err)
	}
	flush()
	if len(s.Keys) == 0 {
		return Schema{}, fmt.Errorf("schema %s: no payload keys read", name)
	}
	return s, nil
}

func unquote(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && (s[0] == '\'' && s[len(s)-1] == '\'' || s[0] == '"' && s[len(s)-1] == '"') {
		return s[1 : len(s)-1]
	}
	return s
}

// Merge returns the keys of all schemas; a key defined twice must agree on its type.
func Merge(schemas ...Schema) (map[string]Key, error) {
	out := make(map[string]Key)
	for _, s := range schemas {
		for name, k := range s.Keys {
			if old, ok := out[name]; ok && old.Type != k.Type {
				return nil, fmt.Errorf("key %s defined as %s and %s", name, old.Type, k.Type)
			}
			out[name] = k
		}
	}
	return out, nil
}

// CheckDict checks a decoded plist dictionary against keys: every key it has is in the
// schema with a value of the schema's type, in the range list and matching the format,
// and every required key is there. It returns the problems found, sorted.
func CheckDict(what string, dict map[string]any, keys map[string]Key) []string {
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
		if s, ok := v.(string); ok && k.Format != "" {
			re, err := regexp.Compile(k.Format)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: %s: schema format %q: %v", what, name, k.Format, err))
			} else if !re.MatchString(s) {
				problems = append(problems, fmt.Sprintf("%s: %s = %q does not match %s", what, name, s, k.Format))
			}
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

// schemaFile names the schema file of a payload type, if this package has it.
func schemaFile(payloadType string) (string, bool) {
	switch payloadType {
	case "com.apple.mail.managed", "com.apple.eas.account", "com.apple.security.pkcs12", "com.apple.security.scep":
		return payloadType + ".yaml", true
	}
	return "", false
}

// CheckProfile parses an unsigned profile as a device would and checks its outer
// dictionary against TopLevel.yaml and each payload against CommonPayloadKeys.yaml
// plus its own type's schema. It returns the decoded outer dictionary and the
// problems found; err is for a profile that is not a property list at all.
func CheckProfile(profile []byte) (top map[string]any, problems []string, err error) {
	format, err := plist.Unmarshal(profile, &top)
	if err != nil {
		return nil, nil, fmt.Errorf("parse profile: %w", err)
	}
	if format != plist.XMLFormat {
		problems = append(problems, fmt.Sprintf("profile: plist format %d, want XML", format))
	}
	topSchema, err := Load("TopLevel.yaml")
	if err != nil {
		return nil, nil, err
	}
	common, err := Load("CommonPayloadKeys.yaml")
	if err != nil {
		return nil, nil, err
	}
	problems = append(problems, CheckDict("profile", top, topSchema.Keys)...)
	content, _ := top["PayloadContent"].([]any)
	for i, item := range content {
		dict, ok := item.(map[string]any)
		if !ok {
			problems = append(problems, fmt.Sprintf("payload %d is %T, not a dictionary", i, item))
			continue
		}
		typ, _ := dict["PayloadType"].(string)
		file, ok := schemaFile(typ)
		if !ok {
			problems = append(problems, fmt.Sprintf("payload %d: no schema for PayloadType %q", i, typ))
			continue
		}
		own, err := Load(file)
		if err != nil {
			return nil, nil, err
		}
		if own.PayloadType != typ {
			return nil, nil, fmt.Errorf("schema %s is for %q, want %q", file, own.PayloadType, typ)
		}
		keys, err := Merge(common, own)
		if err != nil {
			return nil, nil, err
		}
		problems = append(problems, CheckDict(fmt.Sprintf("payload %d (%s)", i, typ), dict, keys)...)
	}
	return top, problems, nil
}
