//go:build ignore

// gen.go writes codepages_gen.go from the code page tables in testdata; run it
// with `go generate ./internal/wbxml`. The tables are copies of
// shared/reference/eas/*.tsv kept here so the repository builds on its own.
package main

import (
	"log"
	"os"

	"mailroom/internal/wbxml/internal/gen"
)

func main() {
	pages, err := os.Open("testdata/codepages.tsv")
	if err != nil {
		log.Fatal(err)
	}
	defer pages.Close()
	meta, err := os.Open("testdata/codepages-meta.tsv")
	if err != nil {
		log.Fatal(err)
	}
	defer meta.Close()
	src, err := gen.Generate(pages, meta)
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile("codepages_gen.go", src, 0o644); err != nil {
		log.Fatal(err)
	}
}
