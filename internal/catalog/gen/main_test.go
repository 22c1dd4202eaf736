package main

import (
	"bytes"
	"os"
	"testing"

	"github.com/healthstack/tenant-provisioning/internal/catalog"
)

// The Makefile builds what the catalogue declares: functions/catalog.mk is regenerated
// whenever the table changes.
func TestCatalogMakefileIsCurrent(t *testing.T) {
	t.Parallel()
	got, err := os.ReadFile("../../../functions/catalog.mk")
	if err != nil {
		t.Fatal(err)
	}
	if want := render(catalog.All()); !bytes.Equal(got, want) {
		t.Errorf("functions/catalog.mk is stale; run `go generate ./internal/catalog`.\nwant:\n%s", want)
	}
}
