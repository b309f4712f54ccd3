package sqlstore

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"mailroom/internal/mime"
)

// summarySeeds are the summaries of the mime package's sample messages, as Deliver
// stores them, plus hand-made inputs the fast decoder must hand to encoding/json.
func summarySeeds(t testing.TB) [][]byte {
	files, err := filepath.Glob("../../mime/testdata/*.eml")
	if err != nil || len(files) == 0 {
		t.Fatalf("sample messages: %v (%d files)", err, len(files))
	}
	var seeds [][]byte
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		p := mime.Parse(raw)
		b, err := json.Marshal(summary{Envelope: p.Envelope, Root: p.Root})
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	return append(seeds,
		[]byte(`{"envelope":{"subject":"caf\u00e9 \"x\""},"root":{"type":"text","hs":0,"bs":1,"end":2,"lines":1}}`),
		[]byte(`{"envelope":{"from":[{"name":"A","mailbox":"a","host":"x"}],"to":[]},"root":{"params":{},"language":["en"]}}`),
		[]byte(`{"Envelope":{},"root":{}}`),           // a key in another case
		[]byte(`{"envelope":{},"envelope":{}}`),       // a key twice
		[]byte(`{"envelope":null,"root":{"hs":1.5}}`), // null, a fraction
		[]byte(`{"root":{"hs":01}}`),                  // not JSON
		[]byte(`{"root":{"type":"caf`+"\xff"+`"}}`),   // not UTF-8
		[]byte(` {"root":{"parts":[{"message":{"root":{}}}]}} `),
		[]byte(`{"root":{}} x`),
	)
}

// checkSummary fails when decodeSummary and json.Unmarshal disagree about data.
func checkSummary(t *testing.T, data []byte) {
	var fast, std summary
	errFast := decodeSummary(data, &fast)
	errStd := json.Unmarshal(data, &std)
	if (errFast == nil) != (errStd == nil) {
		t.Fatalf("%q: decodeSummary error %v, json.Unmarshal error %v", data, errFast, errStd)
	}
	if errStd == nil && !reflect.DeepEqual(fast, std) {
		t.Fatalf("%q:\ndecodeSummary  %+v\njson.Unmarshal %+v", data, fast, std)
	}
	var dec summaryDecoder
	dec.b = data
	var m mime.Message
	if dec.top(func() error { return dec.message(&m, 0) }) == nil && errStd != nil {
		t.Fatalf("%q: the fast path accepts what encoding/json refuses: %v", data, errStd)
	}
	propsFast, errFast := decodeProps(data)
	var propsStd map[string]string
	errStd = json.Unmarshal(data, &propsStd)
	if (errFast == nil) != (errStd == nil) || !reflect.DeepEqual(propsFast, propsStd) {
		t.Fatalf("%q: decodeProps %v, %v; json.Unmarshal %v, %v", data, propsFast, errFast, propsStd, errStd)
	}
}

func TestDecodeSummary(t *testing.T) {
	seeds := append(summarySeeds(t),
		[]byte(`{"a":"1","b":"x\ny"}`),
		[]byte(`{}`),
		[]byte(`{"a":1}`),
	)
	for _, data := range seeds {
		t.Run(string(data[:min(len(data), 40)]), func(t *testing.T) { checkSummary(t, data) })
	}
}

// FuzzDecodeSummary checks the fast summary decoder against encoding/json: same result,
// same success.
func FuzzDecodeSummary(f *testing.F) {
	for _, s := range summarySeeds(f) {
		f.Add(s)
	}
	f.Fuzz(checkSummary)
}

func BenchmarkDecodeSummary(b *testing.B) {
	seeds := summarySeeds(b)
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			for _, s := range seeds {
				var sm summary
				_ = decodeSummary(s, &sm)
			}
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			for _, s := range seeds {
				var sm summary
				_ = json.Unmarshal(s, &sm)
			}
		}
	})
}
