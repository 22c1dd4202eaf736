// Command gen derives from the catalogue (internal/catalog) everything a function is
// declared by besides its entry and its handler: functions/<Dir>/main.go, the local
// handler table (internal/local/handlers/catalog_gen.go), the admin API's route table
// (internal/api/routes_gen.go), the Makefile's builds
// (functions/catalog.mk) and the functions' part of template.yaml. `go generate
// ./internal/catalog` runs it; its test fails while a committed file differs from what it
// would write.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/healthstack/tenant-provisioning/internal/catalog"
)

func main() {
	root := flag.String("root", ".", "the repository's root")
	flag.Parse()
	if err := write(*root, catalog.All()); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

// write renders every derived file under root. A folder under functions/ that no entry
// declares is an error rather than something to delete: it may hold work in progress.
func write(root string, fns []catalog.Function) error {
	tpl, err := os.ReadFile(filepath.Join(root, templateFile))
	if err != nil {
		return err
	}
	files, err := render(fns, tpl)
	if err != nil {
		return err
	}
	for path, b := range files {
		full := filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, b, 0o644); err != nil {
			return err
		}
	}
	mains, _ := filepath.Glob(filepath.Join(root, "functions", "*", "main.go"))
	for _, m := range mains {
		dir := filepath.Base(filepath.Dir(m))
		if !slices.ContainsFunc(fns, func(f catalog.Function) bool { return f.Dir == dir }) {
			return fmt.Errorf("functions/%s is no function of the catalogue: add its entry, or remove the folder", dir)
		}
	}
	return nil
}

// render returns every derived file, by its path from the repository's root, for the
// functions fns; tpl is template.yaml as it stands, whose generated regions it rewrites.
func render(fns []catalog.Function, tpl []byte) (map[string][]byte, error) {
	if err := check(fns); err != nil {
		return nil, err
	}
	files := map[string][]byte{
		"functions/catalog.mk":                   makeInclude(fns),
		"internal/local/handlers/catalog_gen.go": handlerTable(fns),
		"internal/api/routes_gen.go":             routeTable(fns),
	}
	for _, f := range fns {
		files["functions/"+f.Dir+"/main.go"] = mainFile(f)
	}
	t, err := template(fns, tpl)
	if err != nil {
		return nil, err
	}
	files[templateFile] = t
	return files, nil
}

// check refuses a table the derived files could not be built from.
func check(fns []catalog.Function) error {
	ids, dirs := map[string]bool{}, map[string]bool{}
	for _, f := range fns {
		switch {
		case f.LogicalID == "" || f.Dir == "" || f.Handler == "" || f.Doc == "":
			return fmt.Errorf("%q: LogicalID, Dir, Handler and Doc are required", f.LogicalID)
		case ids[f.LogicalID] || dirs[f.Dir]:
			return fmt.Errorf("%s (functions/%s) is declared twice", f.LogicalID, f.Dir)
		case components[f.Runs].typ == "":
			return fmt.Errorf("%s runs %q, which is no component of the catalogue", f.LogicalID, f.Runs)
		case f.Concurrency == "":
			return fmt.Errorf("%s has no reserved concurrency", f.LogicalID)
		case (f.Kind == catalog.Step) != (f.State != ""),
			(f.Kind == catalog.Route) != (f.Route != ""),
			(f.Kind == catalog.Scheduled) != (f.Schedule != ""):
			return fmt.Errorf("%s: a step has a State, a route a Route and a scheduled function a Schedule, and no other", f.LogicalID)
		}
		for _, c := range f.Needs {
			if _, ok := capabilities[c]; !ok {
				return fmt.Errorf("%s needs %q, which the template does not know", f.LogicalID, c)
			}
		}
		ids[f.LogicalID], dirs[f.Dir] = true, true
	}
	return nil
}
