package api_test

import (
	"testing"

	"github.com/healthstack/tenant-provisioning/internal/api"
	"github.com/healthstack/tenant-provisioning/internal/catalog"
	"github.com/healthstack/tenant-provisioning/internal/store"
)

// Every function of the catalogue's API has a handler, and every handler is one of them.
func TestFunctions(t *testing.T) {
	t.Parallel()
	h, err := api.New(api.Config{Store: store.New(nil), RequiredScope: scope})
	if err != nil {
		t.Fatal(err)
	}
	functions := h.Functions()
	declared := map[string]bool{}
	for _, f := range catalog.Routes {
		declared[f.LogicalID] = true
		if functions[f.LogicalID] == nil {
			t.Errorf("%s (%s) has no handler", f.LogicalID, f.Route)
		}
	}
	for id := range functions {
		if !declared[id] {
			t.Errorf("handler for %s, which catalog.Routes does not list", id)
		}
	}
}
