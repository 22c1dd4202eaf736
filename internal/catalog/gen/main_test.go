package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/healthstack/tenant-provisioning/internal/catalog"
	"github.com/healthstack/tenant-provisioning/internal/testkit/cfntemplate"
)

const root = "../../.."

// Every derived file is what the catalogue says: a changed entry, or a hand edit of a
// generated file, fails here until `go generate ./internal/catalog` is run.
func TestGeneratedFilesAreCurrent(t *testing.T) {
	t.Parallel()
	tpl, err := os.ReadFile(filepath.Join(root, templateFile))
	if err != nil {
		t.Fatal(err)
	}
	files, err := render(catalog.All(), tpl)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range files {
		got, err := os.ReadFile(filepath.Join(root, path))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s is stale (%v); run `go generate ./internal/catalog`", path, err)
		}
	}
	mains, _ := filepath.Glob(filepath.Join(root, "functions", "*", "main.go"))
	for _, m := range mains {
		rel, _ := filepath.Rel(root, m)
		if _, ok := files[filepath.ToSlash(rel)]; !ok {
			t.Errorf("%s is no function of the catalogue", rel)
		}
	}
}

// A new function is its catalogue entry and its handler: from the entry alone come its
// main, its template resource with its environment, route and policies, its log group, its
// errors alarm, its build and its place in the local handler table; and the template they
// make passes cfn-lint.
func TestANewEntryIsDerived(t *testing.T) {
	t.Parallel()
	tpl, err := os.ReadFile(filepath.Join(root, templateFile))
	if err != nil {
		t.Fatal(err)
	}
	added := catalog.Function{LogicalID: "SuspendTenantFunction", Dir: "api-suspend-tenant", Kind: catalog.Route,
		Route: "POST /admin/tenants/{id}/suspension", Runs: catalog.API, Handler: "SuspendTenant",
		Doc: "suspends the tenant", Needs: []catalog.Capability{catalog.Email}, Timeout: 15, Concurrency: "ApiConcurrency", DBConns: 1}
	files, err := render(append(catalog.All(), added), tpl)
	if err != nil {
		t.Fatal(err)
	}

	main := string(files["functions/api-suspend-tenant/main.go"])
	for _, want := range []string{"package main", `wiring.API("SuspendTenantFunction")`, `deadline.Keep(audit.As("SuspendTenantFunction", c.SuspendTenant))`, "POST /admin/tenants/{id}/suspension"} {
		if !strings.Contains(main, want) {
			t.Errorf("its main lacks %q:\n%s", want, main)
		}
	}
	if table := files["internal/local/handlers/catalog_gen.go"]; !regexp.MustCompile(`"SuspendTenantFunction":\s+lambdarun\.NewHandler\(deadline\.Keep\(audit\.As\("SuspendTenantFunction", c\.api\.SuspendTenant\)\)\)`).Match(table) {
		t.Errorf("the local handler table does not serve it on the API:\n%s", table)
	}
	if !regexp.MustCompile(`"SuspendTenantFunction":\s+h\.SuspendTenant,`).Match(files["internal/api/routes_gen.go"]) {
		t.Errorf("the API's router does not route to it:\n%s", files["internal/api/routes_gen.go"])
	}
	if !strings.Contains(string(files["functions/catalog.mk"]), "SuspendTenantFunction:api-suspend-tenant") {
		t.Error("make build does not build it")
	}

	doc, path := expand(t, files[templateFile])
	res := cfntemplate.Get(doc, "Resources")
	fn := cfntemplate.Get(res, "SuspendTenantFunction", "Properties")
	if fn == nil {
		t.Fatal("template.yaml has no SuspendTenantFunction")
	}
	if got := cfntemplate.Get(fn, "Events", "Route", "Properties", "Path").Value; got != "/admin/tenants/{id}/suspension" {
		t.Errorf("its route's path is %q", got)
	}
	var policies []string
	for _, p := range cfntemplate.Get(fn, "Policies").Content {
		policies = append(policies, p.Value)
	}
	// A write route's: it logs in as the API's writing user.
	if !slices.Equal(policies, []string{"DbConnecttpapiwritePolicy", "EmailSendPolicy"}) {
		t.Errorf("its policies are %v", policies)
	}
	env := cfntemplate.Keys(cfntemplate.Get(fn, "Environment", "Variables"))
	for _, v := range []string{"DB_MAX_CONNS", "ADMIN_SCOPE", "SES_FROM_ADDRESS", "APP_BASE_URL"} {
		if !slices.Contains(env, v) {
			t.Errorf("its environment %v lacks %s", env, v)
		}
	}
	if lg := cfntemplate.Get(res, "SuspendTenantLogGroup", "Properties", "LogGroupName"); lg == nil || !strings.HasSuffix(lg.Value, "/api-suspend-tenant") {
		t.Errorf("its log group is %v", lg)
	}
	if cfntemplate.Get(fn, "LoggingConfig", "LogGroup").Value != "SuspendTenantLogGroup" {
		t.Error("it does not log to its log group")
	}
	alarm := cfntemplate.Get(res, "SuspendTenantFunctionErrorsAlarm", "Properties", "Metrics")
	if alarm == nil || !strings.Contains(nodeText(alarm), "SuspendTenantFunction") {
		t.Errorf("its errors alarm is missing or watches another function: %s", nodeText(alarm))
	}

	lint := exec.Command("cfn-lint", path)
	if out, err := lint.CombinedOutput(); err != nil {
		t.Errorf("cfn-lint on the template with the new function: %v\n%s", err, out)
	}
}

// The generator refuses an entry the derived files could not be made from.
func TestRenderRefusesABrokenEntry(t *testing.T) {
	t.Parallel()
	good := catalog.Function{LogicalID: "XFunction", Dir: "x", Kind: catalog.Step, State: "X", Runs: catalog.Pipeline,
		Handler: "X", Doc: "does x", Concurrency: "1"}
	tests := []struct {
		name   string
		change func(*catalog.Function)
	}{
		{"no handler", func(f *catalog.Function) { f.Handler = "" }},
		{"no reserved concurrency", func(f *catalog.Function) { f.Concurrency = "" }},
		{"a step without its state", func(f *catalog.Function) { f.State = "" }},
		{"a route without its pattern", func(f *catalog.Function) { f.Kind = catalog.Route; f.State = "" }},
		{"an unknown component", func(f *catalog.Function) { f.Runs = "Nothing" }},
		{"an unknown capability", func(f *catalog.Function) { f.Needs = []catalog.Capability{"Telepathy"} }},
		{"a folder of another function", func(f *catalog.Function) { f.Dir = catalog.CreateSchema.Dir }},
	}
	tpl, err := os.ReadFile(filepath.Join(root, templateFile))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := render(append(catalog.All(), good), tpl); err != nil {
		t.Fatalf("the good entry: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := good
			tt.change(&f)
			if _, err := render(append(catalog.All(), f), tpl); err == nil {
				t.Error("rendered")
			}
		})
	}
	if _, err := render(catalog.All(), []byte("Resources: {}\n")); err == nil {
		t.Error("a template without the generated regions was rendered")
	}
}

// expand writes b to a file, for cfn-lint, and returns it parsed and expanded.
func expand(t *testing.T, b []byte) (*yaml.Node, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "template.yaml")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	doc, err := cfntemplate.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return doc, path
}

func nodeText(n *yaml.Node) string {
	if n == nil {
		return ""
	}
	b, _ := yaml.Marshal(n)
	return string(b)
}
