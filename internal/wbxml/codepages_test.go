package wbxml

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"mailroom/internal/wbxml/internal/gen"
)

func generate(t *testing.T, dir string) []byte {
	t.Helper()
	pages, err := os.Open(filepath.Join(dir, "codepages.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer pages.Close()
	meta, err := os.Open(filepath.Join(dir, "codepages-meta.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer meta.Close()
	src, err := gen.Generate(pages, meta)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func checkGenerated(t *testing.T, src []byte) {
	t.Helper()
	have, err := os.ReadFile("codepages_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(have, src) {
		t.Fatal("codepages_gen.go is out of date: run go generate ./internal/wbxml")
	}
}

func TestGeneratedUpToDate(t *testing.T) {
	checkGenerated(t, generate(t, "testdata"))
}

// TestGeneratedMatchesReference checks the tables against the shared
// reference copy of the TSV, which CI clones may lack.
func TestGeneratedMatchesReference(t *testing.T) {
	ref := filepath.Join("..", "..", "..", "shared", "reference", "eas")
	if _, err := os.Stat(filepath.Join(ref, "codepages.tsv")); errors.Is(err, fs.ErrNotExist) {
		t.Skipf("reference TSV not present at %s", ref)
	}
	checkGenerated(t, generate(t, ref))
	for _, name := range []string{"codepages.tsv", "codepages-meta.tsv"} {
		a, err := os.ReadFile(filepath.Join(ref, name))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("testdata/%s differs from %s: copy it again and run go generate", name, ref)
		}
	}
}

// TestTables spot-checks facts the README of the reference data calls out.
func TestTables(t *testing.T) {
	counts := map[tagStatus]int{}
	for num := range codePages {
		for _, tag := range codePages[num].tags {
			counts[tag.status]++
		}
	}
	if n := counts[statusCurrent] + counts[statusLegacy] + counts[statusObsolete]; n != 645 {
		t.Errorf("%d tags, want 645", n)
	}
	if len(codePages) != 26 || counts[statusObsolete] != 19 || counts[statusLegacy] != 43 {
		t.Errorf("pages %d, obsolete %d, legacy %d", len(codePages), counts[statusObsolete], counts[statusLegacy])
	}
	tests := []struct {
		space, name string
		token       byte
	}{
		{NSContacts, "FileAs", 0x1E},
		{NSProvision, "AllowWiFi", 0x21},
		{NSProvision, "RequireStorageCardEncryption", 0x10},
		{NSFind, "GalSearchCriterion", 0x19},
		{NSFind, "MaxPictures", 0x20}, // Find skips 0x1A–0x1F
		{NSFind, "Picture", 0x22},
		{NSEmail, "Att0Id", 0x09},
		{NSAirSync, "HeartbeatInterval", 0x29},
	}
	for _, tt := range tests {
		page := pageBySpace[tt.space]
		if tok, ok := codePages[page].tokens[tt.name]; !ok || tok != tt.token {
			t.Errorf("%s:%s = 0x%02X, %v; want 0x%02X", tt.space, tt.name, tok, ok, tt.token)
		}
	}
}
