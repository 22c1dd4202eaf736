package main

import (
	"bytes"
	"fmt"
	"go/format"
	"strings"

	"github.com/healthstack/tenant-provisioning/internal/catalog"
)

const header = "Code generated from internal/catalog by `go generate ./internal/catalog`; DO NOT EDIT."

// component is how the generated code reaches a catalog.Component beyond its name, which
// is also its wiring entry point (wiring.<Component>(id)): the local handler table's
// function for it, its package and its Go type.
type component struct {
	local string // handlers.<local>(c)
	pkg   string // its package under internal/
	typ   string // its Go type
}

var components = map[catalog.Component]component{
	catalog.Pipeline:     {local: "Pipeline", pkg: "pipeline", typ: "*pipeline.Steps"},
	catalog.API:          {local: "API", pkg: "api", typ: "*api.Handler"},
	catalog.Upgrader:     {local: "Upgrade", pkg: "upgrade", typ: "*upgrade.Upgrader"},
	catalog.Reconciler:   {local: "Reconcile", pkg: "reconcile", typ: "*reconcile.Reconciler"},
	catalog.ControlPlane: {local: "ControlPlane", pkg: "controlplane", typ: "*controlplane.Handler"},
	catalog.Auditor:      {local: "Auditor", pkg: "auditchain", typ: "*auditchain.Sealer"},
	catalog.Publisher:    {local: "Publisher", pkg: "outbox", typ: "*outbox.Publisher"},
}

// componentOrder keeps the generated table in a stable order.
var componentOrder = []catalog.Component{catalog.Pipeline, catalog.API, catalog.Upgrader, catalog.Reconciler, catalog.ControlPlane,
	catalog.Auditor, catalog.Publisher}

// where says in words what invokes f, for its main's package comment.
func where(f catalog.Function) string {
	switch f.Kind {
	case catalog.Step:
		if f.Runs == catalog.Upgrader {
			return "the Lambda behind the upgrade state machine's " + f.State + " state"
		}
		return "the Lambda behind the state machine's " + f.State + " state"
	case catalog.Route:
		if f.Public {
			return "the Lambda behind " + f.Route + " on the admin HTTP API, its one public route"
		}
		return "the Lambda behind " + f.Route + " on the admin HTTP API"
	case catalog.Scheduled:
		return "the Lambda its schedule invokes (" + f.Schedule + ")"
	default:
		return "the Lambda a CloudFormation custom resource invokes on every deploy"
	}
}

// mainFile is functions/<Dir>/main.go: wiring only, as every main is.
func mainFile(f catalog.Function) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "// %s\n\n", header)
	fmt.Fprintf(&b, "// Command %s is %s: it %s.\n", f.Dir, where(f), f.Doc)
	fmt.Fprintf(&b, `package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/audit"
	"github.com/healthstack/tenant-provisioning/internal/deadline"
	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

func main() {
	c, closePool := wiring.%s(%q)
	lambda.StartWithOptions(deadline.Keep(audit.As(%[2]q, c.%[3]s)), lambda.WithEnableSIGTERM(closePool))
}
`, f.Runs, f.LogicalID, f.Handler)
	return mustFormat(b.Bytes())
}

// handlerTable is internal/local/handlers/catalog_gen.go: every function's handler on its
// component, wrapped as the Lambda runtime wraps it (lambdarun.NewHandler), in one table,
// and for each component the part of it that component serves.
func handlerTable(fns []catalog.Function) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "// %s\n\npackage handlers\n\nimport (\n\t\"github.com/aws/aws-lambda-go/lambda\"\n\n", header)
	b.WriteString("\t\"github.com/healthstack/tenant-provisioning/internal/audit\"\n")
	b.WriteString("\t\"github.com/healthstack/tenant-provisioning/internal/catalog\"\n")
	b.WriteString("\t\"github.com/healthstack/tenant-provisioning/internal/deadline\"\n")
	for _, k := range componentOrder {
		fmt.Fprintf(&b, "\t%q\n", "github.com/healthstack/tenant-provisioning/internal/"+components[k].pkg)
	}
	b.WriteString("\t\"github.com/healthstack/tenant-provisioning/internal/local/lambdarun\"\n)\n\n")
	b.WriteString("// components are what the catalogue's functions run.\ntype components struct {\n")
	for _, k := range componentOrder {
		fmt.Fprintf(&b, "\t%s %s\n", field(k), components[k].typ)
	}
	b.WriteString("}\n\n")
	b.WriteString("// bind maps every function's logical id to its handler on its component in c. The\n")
	b.WriteString("// components c leaves nil give method values that served drops unused, so every\n")
	b.WriteString("// handler must be a method with a pointer receiver.\n")
	b.WriteString("func bind(c components) map[string]lambda.Handler {\n\treturn map[string]lambda.Handler{\n")
	for _, f := range fns {
		fmt.Fprintf(&b, "\t\t%q: lambdarun.NewHandler(deadline.Keep(audit.As(%[1]q, c.%s.%s))),\n", f.LogicalID, field(f.Runs), f.Handler)
	}
	b.WriteString("\t}\n}\n")
	for _, k := range componentOrder {
		c := components[k]
		fmt.Fprintf(&b, "\n// %s maps the logical ids of the functions %s runs to their handlers on c.\n", c.local, c.typ)
		fmt.Fprintf(&b, "func %s(c %s) map[string]lambda.Handler {\n\treturn served(catalog.%s, bind(components{%s: c}))\n}\n", c.local, c.typ, k, field(k))
	}
	return mustFormat(b.Bytes())
}

// field is a component's field in the generated components struct.
func field(k catalog.Component) string { return strings.ToLower(string(k)) }

// routeTable is internal/api/routes_gen.go: the admin API's handlers by logical id, which
// its router serves at each function's route.
func routeTable(fns []catalog.Function) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "// %s\n\npackage api\n\n", header)
	b.WriteString("// Functions maps each admin API function of the catalogue (catalog.Routes), by logical\n")
	b.WriteString("// id, to its handler on h. The router serves each at the function's route.\n")
	b.WriteString("func (h *Handler) Functions() map[string]LambdaHandler {\n\treturn map[string]LambdaHandler{\n")
	for _, f := range fns {
		if f.Runs == catalog.API {
			fmt.Fprintf(&b, "\t\t%q: h.%s,\n", f.LogicalID, f.Handler)
		}
	}
	b.WriteString("\t}\n}\n")
	return mustFormat(b.Bytes())
}

// makeInclude is functions/catalog.mk: LAMBDAS, one <LogicalId>:<folder> word per
// function, which the Makefile's build-<LogicalId> targets (the ones `sam build` runs)
// are made from.
func makeInclude(fns []catalog.Function) []byte {
	var b bytes.Buffer
	b.WriteString("# " + strings.TrimSuffix(header, " DO NOT EDIT.") + " do not edit.\n")
	b.WriteString("# template.yaml's functions as <LogicalId>:<folder under functions/>.\n")
	b.WriteString("LAMBDAS := \\\n")
	for i, f := range fns {
		end := " \\\n"
		if i == len(fns)-1 {
			end = "\n"
		}
		fmt.Fprintf(&b, "\t%s:%s%s", f.LogicalID, f.Dir, end)
	}
	return b.Bytes()
}

// mustFormat gofmts generated code; a failure is a bug in this generator.
func mustFormat(src []byte) []byte {
	out, err := format.Source(src)
	if err != nil {
		panic(fmt.Sprintf("gen: generated Go does not parse: %v\n%s", err, src))
	}
	return out
}
