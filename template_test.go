// Package template_test holds template.yaml (the SAM template), the Makefile's Lambda builds
// and samconfig.toml to the code: what each function's main wires decides its permissions and
// settings, the state machine definition decides the substitutions, the OpenAPI document
// decides the routes. Nothing here needs AWS.
package template_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"gopkg.in/yaml.v3"

	"github.com/healthstack/tenant-provisioning/internal/api"
	"github.com/healthstack/tenant-provisioning/internal/catalog"
	"github.com/healthstack/tenant-provisioning/internal/config"
	"github.com/healthstack/tenant-provisioning/internal/database"
	"github.com/healthstack/tenant-provisioning/internal/deadline"
	"github.com/healthstack/tenant-provisioning/internal/local/devserver"
	"github.com/healthstack/tenant-provisioning/internal/local/handlers"
	"github.com/healthstack/tenant-provisioning/internal/metrics"
	"github.com/healthstack/tenant-provisioning/internal/pipeline"
	"github.com/healthstack/tenant-provisioning/internal/testkit/cfntemplate"
	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

// --- the template ---------------------------------------------------------------------

// cfnTemplate is template.yaml as YAML nodes: the short-form intrinsics (!Ref, !GetAtt,
// !Sub, !If …) stay visible as node tags.
type cfnTemplate struct {
	root      *yaml.Node
	resources *yaml.Node
	globalFn  *yaml.Node // Globals.Function
}

func loadTemplate(t *testing.T) *cfnTemplate {
	t.Helper()
	root, err := cfntemplate.Load("template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tpl := &cfnTemplate{root: root, resources: get(root, "Resources"), globalFn: get(root, "Globals", "Function")}
	if tpl.resources == nil {
		t.Fatal("template.yaml has no Resources")
	}
	return tpl
}

// get follows mapping keys; nil when one is missing.
// The YAML helpers are shared with the events tests.
var (
	get  = cfntemplate.Get
	keys = cfntemplate.Keys
)

func (c *cfnTemplate) resource(id string) *yaml.Node { return get(c.resources, id) }

func (c *cfnTemplate) typeOf(id string) string {
	if n := get(c.resources, id, "Type"); n != nil {
		return n.Value
	}
	return ""
}

func (c *cfnTemplate) ofType(typ string) []string {
	var ids []string
	for _, id := range keys(c.resources) {
		if c.typeOf(id) == typ {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

func (c *cfnTemplate) functions() []string { return c.ofType("AWS::Serverless::Function") }

// fnProp is a function's property as SAM sees it: its own, else the Globals'.
func (c *cfnTemplate) fnProp(id string, path ...string) *yaml.Node {
	if n := get(c.resource(id), append([]string{"Properties"}, path...)...); n != nil {
		return n
	}
	return get(c.globalFn, path...)
}

// env is a function's environment: Globals' variables, then its own (SAM merges the maps).
func (c *cfnTemplate) env(id string) map[string]*yaml.Node {
	vars := map[string]*yaml.Node{}
	for _, src := range []*yaml.Node{get(c.globalFn, "Environment", "Variables"), get(c.resource(id), "Properties", "Environment", "Variables")} {
		for i := 0; src != nil && i+1 < len(src.Content); i += 2 {
			vars[src.Content[i].Value] = src.Content[i+1]
		}
	}
	return vars
}

// intrinsic names a node's intrinsic function ("Ref", "GetAtt", "Sub", "If" …) in short
// (!Ref) or long (Ref:, Fn::GetAtt:) form, with its argument; "" for a plain value.
func intrinsic(n *yaml.Node) (string, *yaml.Node) {
	if n == nil {
		return "", nil
	}
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		return strings.TrimPrefix(n.Tag, "!"), n
	}
	if n.Kind == yaml.MappingNode && len(n.Content) == 2 {
		k := n.Content[0].Value
		if k == "Ref" || strings.HasPrefix(k, "Fn::") {
			return strings.TrimPrefix(k, "Fn::"), n.Content[1]
		}
	}
	return "", nil
}

// refTo returns the logical id a !Ref names, or "".
func refTo(n *yaml.Node) string {
	if f, arg := intrinsic(n); f == "Ref" && arg.Kind == yaml.ScalarNode {
		return arg.Value
	}
	return ""
}

// getAtt returns the resource and attribute of a !GetAtt.
func getAtt(n *yaml.Node) (string, string) {
	f, arg := intrinsic(n)
	if f != "GetAtt" {
		return "", ""
	}
	if arg.Kind == yaml.ScalarNode {
		res, attr, _ := strings.Cut(arg.Value, ".")
		return res, attr
	}
	if arg.Kind == yaml.SequenceNode && len(arg.Content) == 2 {
		return arg.Content[0].Value, arg.Content[1].Value
	}
	return "", ""
}

// versionOf returns the function a DefinitionSubstitutions value names by its published
// version (!Ref <Function>.Version), or "": a definition calls versions, so an execution
// runs the functions of the release it started with, whatever a deploy publishes meanwhile.
func versionOf(n *yaml.Node) string {
	if fn, ok := strings.CutSuffix(refTo(n), ".Version"); ok {
		return fn
	}
	return ""
}

// anyVersionOf returns the function whose every version a policy resource names
// (!Sub "${<Function>.Arn}:*"), or "".
func anyVersionOf(n *yaml.Node) string {
	if f, arg := intrinsic(n); f == "Sub" && arg.Kind == yaml.ScalarNode {
		if m := regexp.MustCompile(`^\$\{(\w+)\.Arn\}:\*$`).FindStringSubmatch(arg.Value); m != nil {
			return m[1]
		}
	}
	return ""
}

// sameNode compares two nodes by content (kind, tag, value, children), not position.
func sameNode(a, b *yaml.Node) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.Kind != b.Kind || a.Tag != b.Tag || a.Value != b.Value || len(a.Content) != len(b.Content) {
		return false
	}
	for i := range a.Content {
		if !sameNode(a.Content[i], b.Content[i]) {
			return false
		}
	}
	return true
}

// scalars lists a scalar or a sequence of scalars.
func scalars(n *yaml.Node) []string {
	switch {
	case n == nil:
		return nil
	case n.Kind == yaml.ScalarNode:
		return []string{n.Value}
	case n.Kind == yaml.SequenceNode:
		var out []string
		for _, c := range n.Content {
			out = append(out, c.Value)
		}
		return out
	}
	return nil
}

// --- what the code says -----------------------------------------------------------------

// documentedVars lists the variables .env.example documents (set or commented out).
func documentedVars(t *testing.T) map[string]bool {
	t.Helper()
	f, err := os.Open(".env.example")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	re := regexp.MustCompile(`^#?\s?([A-Z][A-Z0-9_]+)=`)
	out := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			out[m[1]] = true
		}
	}
	return out
}

// --- the Makefile -----------------------------------------------------------------------

// makeBuild is what `make build-<LogicalId>` would run, for the function's folder and
// build settings.
type makeBuild struct {
	dir     string // functions/<dir>
	command string // the go build line
	copies  string // the RDS CA bundle copied next to bootstrap
}

var goBuildLine = regexp.MustCompile(`(?m)^.*go build .*-o (\S+)/bootstrap \./functions/(\S+)\s*$`)

func makeTargets(t *testing.T, ids []string) map[string]makeBuild {
	t.Helper()
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatalf("make is needed to read the Makefile's build targets: %v", err)
	}
	out := map[string]makeBuild{}
	for _, id := range ids {
		artifacts := filepath.Join(t.TempDir(), id)
		cmd := exec.Command("make", "--no-print-directory", "-n", "build-"+id, "ARTIFACTS_DIR="+artifacts)
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("make -n build-%s: %v\n%s", id, err, b)
			continue
		}
		m := goBuildLine.FindStringSubmatch(string(b))
		if m == nil || m[1] != artifacts {
			t.Errorf("make build-%s does not go build $(ARTIFACTS_DIR)/bootstrap from ./functions/<dir>:\n%s", id, b)
			continue
		}
		mb := makeBuild{dir: m[2], command: m[0]}
		if c := regexp.MustCompile(`cp (\S+) ` + regexp.QuoteMeta(artifacts)).FindStringSubmatch(string(b)); c != nil {
			mb.copies = c[1]
		}
		out[id] = mb
	}
	return out
}

// --- the tests --------------------------------------------------------------------------

var placeholder = regexp.MustCompile(`\$\{([^}]+)\}`)

// machine is one state machine of the template: its resource, its definition under
// statemachine/, and the catalogue's functions its Tasks run.
type machine struct {
	id, file string
	steps    []catalog.Function // the happy path's Tasks, in order
	others   []catalog.Function // Tasks off the happy path
}

var machines = []machine{
	{id: "ProvisioningStateMachine", file: "provisioning.asl.json", steps: catalog.Provisioning, others: []catalog.Function{catalog.Rollback}},
	{id: "UpgradeStateMachine", file: "upgrade.asl.json", steps: catalog.Upgrade},
}

// functions are the catalogue functions the machine's Tasks run.
func (m machine) functions() []catalog.Function { return append(slices.Clone(m.steps), m.others...) }

// localSteps are the local runners' handlers of every state machine's Tasks.
func localSteps() map[string]lambda.Handler {
	out := handlers.Pipeline(nil)
	maps.Copy(out, handlers.Upgrade(nil))
	return out
}

func aslPlaceholders(t *testing.T, file string) (map[string]bool, map[string]any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("statemachine", file))
	if err != nil {
		t.Fatal(err)
	}
	var def map[string]any
	if err := json.Unmarshal(b, &def); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, m := range placeholder.FindAllStringSubmatch(string(b), -1) {
		names[m[1]] = true
	}
	return names, def
}

// flatStates lists a definition's states with those of its Map states' item processors.
func flatStates(def map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	states, _ := def["States"].(map[string]any)
	for name, raw := range states {
		st, _ := raw.(map[string]any)
		out[name] = st
		if proc, ok := st["ItemProcessor"].(map[string]any); ok {
			maps.Copy(out, flatStates(proc))
		}
	}
	return out
}

// happyPath lists the Tasks run from StartAt along each Next (a Choice's Default, a Map's
// item processor), in order.
func happyPath(def map[string]any) []string {
	states, _ := def["States"].(map[string]any)
	var path []string
	name, _ := def["StartAt"].(string)
	for hops := 0; name != "" && hops <= len(states); hops++ {
		st, _ := states[name].(map[string]any)
		switch st["Type"] {
		case "Task":
			path = append(path, name)
		case "Map":
			proc, _ := st["ItemProcessor"].(map[string]any)
			path = append(path, happyPath(proc)...)
		case "Choice":
			name, _ = st["Default"].(string)
			continue
		}
		name, _ = st["Next"].(string)
	}
	return path
}

// stateMachines checks the template has exactly the machines of the table and returns
// each one's resource.
func stateMachines(t *testing.T, tpl *cfnTemplate) map[string]*yaml.Node {
	t.Helper()
	var want []string
	out := map[string]*yaml.Node{}
	for _, m := range machines {
		want = append(want, m.id)
		out[m.id] = tpl.resource(m.id)
	}
	if ids := tpl.ofType("AWS::Serverless::StateMachine"); !slices.Equal(slices.Sorted(slices.Values(ids)), slices.Sorted(slices.Values(want))) {
		t.Fatalf("want the state machines %v, have %v", want, ids)
	}
	return out
}

// (a) Every ${…} of the definition has a substitution and every substitution is used; each
// is the ARN of a function of the template, the one the code names for it.
func TestDefinitionSubstitutions(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	code := handlers.Substitutions(localSteps())
	for _, f := range catalog.All() {
		if f.State != "" && code[f.Substitution()] != f.LogicalID {
			t.Errorf("the local runners resolve ${%s} to %q, the catalogue says %s", f.Substitution(), code[f.Substitution()], f.LogicalID)
		}
	}
	sms := stateMachines(t, tpl)
	for _, m := range machines {
		checkSubstitutions(t, tpl, m, sms[m.id], code)
	}
}

func checkSubstitutions(t *testing.T, tpl *cfnTemplate, m machine, sm *yaml.Node, code map[string]string) {
	t.Helper()
	used, _ := aslPlaceholders(t, m.file)
	if uri := get(sm, "Properties", "DefinitionUri"); uri == nil || uri.Value != "statemachine/"+m.file {
		t.Errorf("%s: DefinitionUri = %v, want statemachine/%s", m.id, uri, m.file)
	}
	subs := get(sm, "Properties", "DefinitionSubstitutions")
	defined := map[string]bool{}
	for _, k := range keys(subs) {
		defined[k] = true
		if !used[k] {
			t.Errorf("DefinitionSubstitutions.%s is not used by the definition", k)
		}
		fn := versionOf(get(subs, k))
		if tpl.typeOf(fn) != "AWS::Serverless::Function" {
			t.Errorf("DefinitionSubstitutions.%s is not !Ref <a function of the template>.Version", k)
		}
		if code[k] != fn {
			t.Errorf("DefinitionSubstitutions.%s names %s; internal/local/handlers resolves it to %q", k, fn, code[k])
		}
	}
	for k := range used {
		if !defined[k] {
			t.Errorf("${%s} in the definition has no DefinitionSubstitutions entry", k)
		}
	}
}

// Each step function times out before its state does, so that its own deadlines turn into a
// typed, retried TransientError rather than an invocation killed by Lambda.
func TestStepTimeoutsFitTheirStates(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	sms := stateMachines(t, tpl)
	for _, m := range machines {
		_, def := aslPlaceholders(t, m.file)
		checkTimeouts(t, tpl, get(sms[m.id], "Properties", "DefinitionSubstitutions"), flatStates(def))
	}
}

func checkTimeouts(t *testing.T, tpl *cfnTemplate, subs *yaml.Node, states map[string]map[string]any) {
	t.Helper()
	for name, st := range states {
		res, _ := st["Resource"].(string)
		m := placeholder.FindStringSubmatch(res)
		if m == nil {
			continue
		}
		fn := versionOf(get(subs, m[1]))
		stateTimeout, _ := st["TimeoutSeconds"].(float64)
		timeout, err := strconv.Atoi(tpl.fnProp(fn, "Timeout").Value)
		if err != nil {
			t.Fatalf("%s Timeout: %v", fn, err)
		}
		if float64(timeout) >= stateTimeout {
			t.Errorf("%s: Timeout %d s is not below state %s's TimeoutSeconds %v", fn, timeout, name, stateTimeout)
		}
	}
}

// (h) Every wait inside a function fits its timeout less deadline.Reserve, so the handler
// answers (with a TransientError at worst) before Lambda stops it; every wait detached
// from the invocation's context (recording a failed attempt, releasing a reservation) fits
// deadline.Reserve; and a deployer lease outlives the invocation that holds it. The waits:
// a database connection through RDS Proxy (its borrow timeout), an SES call, a Step
// Functions start or describe, and a Soroban transaction's confirmation (the template's
// SorobanConfirmTimeout in every environment of samconfig.toml).
func TestInternalWaitsFitTheirFunctions(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	cfg := readSamconfig(t)
	borrow, err := strconv.Atoi(get(tpl.resource("DatabaseProxyTargetGroup"), "Properties", "ConnectionPoolConfigurationInfo", "ConnectionBorrowTimeout").Value)
	if err != nil {
		t.Fatalf("ConnectionBorrowTimeout: %v", err)
	}
	for name, d := range map[string]time.Duration{"pipeline.FailureLogTimeout": pipeline.FailureLogTimeout, "api.ReleaseTimeout": api.ReleaseTimeout} {
		if d > deadline.Reserve {
			t.Errorf("%s (%v) is detached from the invocation and must fit deadline.Reserve (%v)", name, d, deadline.Reserve)
		}
	}
	for _, env := range samconfigEnvs {
		confirm, err := time.ParseDuration(deployParams(t, tpl, cfg, env)["SorobanConfirmTimeout"])
		if err != nil {
			t.Fatalf("%s: SorobanConfirmTimeout: %v", env, err)
		}
		for _, f := range catalog.All() {
			work := f.TimeLimit() - deadline.Reserve
			waits := map[string]time.Duration{"an RDS Proxy connection borrow": time.Duration(borrow) * time.Second}
			if f.Uses(catalog.Email) {
				waits["an SES call (pipeline.SendTimeout)"] = pipeline.SendTimeout
			}
			if f.Uses(catalog.StartProvisioning) || f.Uses(catalog.StartUpgrades) {
				waits["a Step Functions start (api.StartTimeout)"] = api.StartTimeout
			}
			if f.Uses(catalog.DescribeProvisioning) {
				waits["a Step Functions describe (api.DescribeTimeout)"] = api.DescribeTimeout
			}
			if f.Uses(catalog.Contracts) {
				waits["a Soroban confirmation (SorobanConfirmTimeout)"] = confirm
				if wiring.DeployerLease < f.TimeLimit() {
					t.Errorf("%s: a deployer lease (%v) ends before the invocation that holds it (%v)", f.LogicalID, wiring.DeployerLease, f.TimeLimit())
				}
			}
			for what, d := range waits {
				if d > work {
					t.Errorf("%s: %s: %s waits up to %v, more than its timeout %v less deadline.Reserve", env, f.LogicalID, what, d, f.TimeLimit())
				}
			}
		}
	}
}

// deployParams are the template's parameters as an environment of samconfig.toml deploys
// them: its overrides on the defaults.
func deployParams(t *testing.T, tpl *cfnTemplate, cfg samconfig, env string) map[string]string {
	t.Helper()
	params := map[string]string{}
	for _, p := range keys(get(tpl.root, "Parameters")) {
		if v := get(tpl.root, "Parameters", p, "Default"); v != nil {
			params[p] = v.Value
		}
	}
	maps.Copy(params, samconfigOverrides(t, env, cfg[env+".deploy"]))
	return params
}

// The local runners time each function out where Lambda will (catalog.Function.TimeLimit):
// its Timeout in template.yaml is the catalogue's.
func TestLocalTimeoutsAreTheTemplates(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	for _, f := range catalog.All() {
		timeout, err := strconv.Atoi(tpl.fnProp(f.LogicalID, "Timeout").Value)
		if err != nil || time.Duration(timeout)*time.Second != f.TimeLimit() {
			t.Errorf("%s: Timeout %d s (%v) in template.yaml, the catalogue's %v", f.LogicalID, timeout, err, f.TimeLimit())
		}
	}
}

// The machine: Standard, execution data kept out of its logs, traced, and allowed to invoke
// exactly the functions its definition names.
func TestStateMachine(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	sms := stateMachines(t, tpl)
	for _, m := range machines {
		checkStateMachine(t, tpl, m, sms[m.id])
	}
}

// distributedMap reports whether a definition has a Distributed Map, whose child
// executions run on the state machine itself.
func distributedMap(def map[string]any) bool {
	for _, st := range flatStates(def) {
		proc, _ := st["ItemProcessor"].(map[string]any)
		cfg, _ := proc["ProcessorConfig"].(map[string]any)
		if cfg["Mode"] == "DISTRIBUTED" {
			return true
		}
	}
	return false
}

func checkStateMachine(t *testing.T, tpl *cfnTemplate, m machine, sm *yaml.Node) {
	t.Helper()
	p := get(sm, "Properties")
	if v := get(p, "Type"); v == nil || v.Value != "STANDARD" {
		t.Errorf("Type = %v, want STANDARD", v)
	}
	if v := get(p, "Logging", "IncludeExecutionData"); v == nil || v.Value != "false" {
		t.Error("Logging.IncludeExecutionData must be false: execution data must not reach the logs")
	}
	if v := get(p, "Logging", "Level"); v == nil || (v.Value != "ERROR" && v.Value != "ALL") {
		t.Errorf("Logging.Level = %v, want ERROR or ALL", v)
	}
	if v := get(p, "Tracing", "Enabled"); v == nil || v.Value != "true" {
		t.Error("Tracing.Enabled must be true")
	}
	want := map[string]bool{}
	for _, k := range keys(get(p, "DefinitionSubstitutions")) {
		want[versionOf(get(p, "DefinitionSubstitutions", k))] = true
	}
	// A Distributed Map starts its children on its own state machine, and follows and stops
	// them: exactly that, on the machine's own name (it cannot !Ref itself).
	_, def := aslPlaceholders(t, m.file)
	var self string
	if n := get(p, "Name"); n != nil {
		self = subText(n)
	}
	wantStates := map[string]string{}
	if distributedMap(def) {
		if self == "" {
			t.Errorf("%s: a Distributed Map's machine needs a Name its policy can name", m.id)
		}
		wantStates = map[string]string{
			"states:StartExecution":    ":stateMachine:" + self,
			"states:DescribeExecution": ":execution:" + self + "/*",
			"states:StopExecution":     ":execution:" + self + "/*",
		}
	}
	gotStates := map[string]bool{}
	got := map[string]bool{}
	for _, g := range grants(t, tpl, get(p, "Policies")) {
		if strings.HasPrefix(g.action, "states:") {
			if suffix, ok := wantStates[g.action]; !ok || !strings.HasSuffix(subText(g.resource), suffix) {
				t.Errorf("%s role: %s on %q; only a Distributed Map's own children need states actions", m.id, g.action, subText(g.resource))
			}
			gotStates[g.action] = true
		}
		if strings.HasPrefix(g.action, "lambda:") {
			if g.action != "lambda:InvokeFunction" {
				t.Errorf("state machine role: %s; only lambda:InvokeFunction is needed", g.action)
			}
			fn := anyVersionOf(g.resource)
			if !want[fn] {
				t.Errorf("state machine role may invoke %v, which is not every version of a function the definition names", g.resource.Value)
			}
			got[fn] = true
		}
	}
	for fn := range want {
		if !got[fn] {
			t.Errorf("state machine role may not invoke %s, which the definition names", fn)
		}
	}
	for a := range wantStates {
		if !gotStates[a] {
			t.Errorf("%s role may not %s, which its Distributed Map needs", m.id, a)
		}
	}
}

// (b) Every folder under functions/ is exactly one function of the template, built by the
// Makefile target sam build runs for it; (c) for arm64, as the template declares.
func TestFunctionsAreBuiltByTheMakefile(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	ids := tpl.functions()
	builds := makeTargets(t, ids)
	dirs, _ := filepath.Glob(filepath.Join("functions", "*", "main.go"))
	byDir := map[string][]string{}
	for _, id := range ids {
		if b, ok := builds[id]; ok {
			byDir[b.dir] = append(byDir[b.dir], id)
		}
		if v := get(tpl.resource(id), "Metadata", "BuildMethod"); v == nil || v.Value != "makefile" {
			t.Errorf("%s: Metadata.BuildMethod must be makefile", id)
		}
		checks := map[string]string{"CodeUri": ".", "Runtime": "provided.al2023", "Handler": "bootstrap"}
		for prop, want := range checks {
			if v := tpl.fnProp(id, prop); v == nil || v.Value != want {
				t.Errorf("%s: %s = %v, want %s", id, prop, v, want)
			}
		}
		if arch := scalars(tpl.fnProp(id, "Architectures")); !slices.Equal(arch, []string{"arm64"}) {
			t.Errorf("%s: Architectures = %v, want [arm64]", id, arch)
		}
		if b, ok := builds[id]; ok {
			for _, want := range []string{"GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0", "-tags lambda.norpc", "-trimpath"} {
				if !strings.Contains(b.command, want) {
					t.Errorf("make build-%s: %q lacks %s (template.yaml: Architectures arm64, provided.al2023)", id, b.command, want)
				}
			}
		}
	}
	for _, m := range dirs {
		dir := filepath.Base(filepath.Dir(m))
		if len(byDir[dir]) != 1 {
			t.Errorf("functions/%s is built by %d functions of the template (%v), want exactly one", dir, len(byDir[dir]), byDir[dir])
		}
		delete(byDir, dir)
	}
	for dir, ids := range byDir {
		t.Errorf("%v build functions/%s, which has no main.go", ids, dir)
	}
	code := append(handlers.Names(localSteps()), handlers.Names(handlers.API(nil))...)
	for _, id := range code {
		if !slices.Contains(ids, id) {
			t.Errorf("internal/local/handlers names %s, which the template does not define", id)
		}
	}
}

// The catalogue (internal/catalog) is the one declaration of each function: the
// definition's Task states, template.yaml's functions, the Makefile's builds, the folders
// under functions/, the API routes and the local handlers must all say what it says.
func TestCatalogIsTheOneDeclaration(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	ids := tpl.functions()
	builds := makeTargets(t, ids)
	sms := stateMachines(t, tpl)
	local := localSteps()
	maps.Copy(local, handlers.API(nil))
	// Which machine runs each catalogue function with a State.
	machineOf := map[string]machine{}
	for _, m := range machines {
		for _, f := range m.functions() {
			machineOf[f.LogicalID] = m
		}
	}

	declared := map[string]catalog.Function{}
	for _, f := range catalog.All() {
		if _, dup := declared[f.LogicalID]; dup {
			t.Errorf("the catalogue declares %s twice", f.LogicalID)
		}
		declared[f.LogicalID] = f
		if !slices.Contains(ids, f.LogicalID) {
			t.Errorf("catalogue: %s is not a function of template.yaml", f.LogicalID)
		}
		if b, ok := builds[f.LogicalID]; ok && b.dir != f.Dir {
			t.Errorf("catalogue: %s is built from functions/%s, make build-%s builds functions/%s", f.LogicalID, f.Dir, f.LogicalID, b.dir)
		}
		if _, err := os.Stat(filepath.Join("functions", f.Dir, "main.go")); err != nil {
			t.Errorf("catalogue: %s has no functions/%s/main.go", f.LogicalID, f.Dir)
		}
		if f.State != "" || f.Route != "" {
			if local[f.LogicalID] == nil {
				t.Errorf("catalogue: %s has no handler in internal/local/handlers", f.LogicalID)
			}
		}
		if f.State != "" {
			m, ok := machineOf[f.LogicalID]
			if !ok {
				t.Errorf("catalogue: %s runs state %s, but no state machine of this test's table lists it", f.LogicalID, f.State)
				continue
			}
			_, def := aslPlaceholders(t, m.file)
			st := flatStates(def)[f.State]
			res, _ := st["Resource"].(string)
			if st["Type"] != "Task" || res != "${"+f.Substitution()+"}" {
				t.Errorf("catalogue: state %s of %s should be a Task on ${%s}; the definition has %v on %q", f.State, m.file, f.Substitution(), st["Type"], res)
			}
			if fn := versionOf(get(sms[m.id], "Properties", "DefinitionSubstitutions", f.Substitution())); fn != f.LogicalID {
				t.Errorf("catalogue: %s's DefinitionSubstitutions.%s is %q, want %s.Version", m.id, f.Substitution(), fn, f.LogicalID)
			}
		}
		if f.Route != "" {
			if got := routesOf(tpl, f.LogicalID); !slices.Equal(got, []string{f.Route}) {
				t.Errorf("catalogue: %s serves %s; template.yaml routes %v to it", f.LogicalID, f.Route, got)
			}
		}
	}
	for _, id := range ids {
		if _, ok := declared[id]; !ok {
			t.Errorf("template.yaml's %s is not in the catalogue (internal/catalog)", id)
		}
	}
	for _, m := range machines {
		_, def := aslPlaceholders(t, m.file)
		// Every Task runs a function the catalogue lists for this machine (a function may
		// serve more than one state: the upgrade's summary ends both paths).
		var resources []string
		for _, f := range m.functions() {
			resources = append(resources, "${"+f.Substitution()+"}")
		}
		for name, st := range flatStates(def) {
			res, _ := st["Resource"].(string)
			if st["Type"] == "Task" && !slices.Contains(resources, res) {
				t.Errorf("%s: Task %s runs %q, which the catalogue does not list for this machine", m.file, name, res)
			}
		}
		var order []string
		for _, f := range m.steps {
			order = append(order, f.State)
		}
		if path := happyPath(def); !slices.Equal(path, order) {
			t.Errorf("%s runs %v; the catalogue lists %v", m.file, path, order)
		}
	}
	for id := range local {
		if _, ok := declared[id]; !ok {
			t.Errorf("internal/local/handlers serves %s, which the catalogue does not declare", id)
		}
	}
}

// grant is one allowed action on one resource (a node of the template).
type grant struct {
	action    string
	resource  *yaml.Node
	condition *yaml.Node
	policy    string // where it comes from
}

// grants lists what a SAM Policies list allows. Managed policies of the template (by !Ref)
// and inline statements are read; AWS managed policies and SAM policy templates are
// reported, since they would grant more than a statement here shows.
func grants(t *testing.T, tpl *cfnTemplate, policies *yaml.Node) []grant {
	t.Helper()
	var out []grant
	if policies == nil {
		return nil
	}
	for _, p := range policies.Content {
		name, doc := "inline", p
		if ref := refTo(p); ref != "" {
			if tpl.typeOf(ref) != "AWS::IAM::ManagedPolicy" {
				t.Errorf("policy !Ref %s is not an AWS::IAM::ManagedPolicy of the template", ref)
				continue
			}
			name, doc = ref, get(tpl.resource(ref), "Properties", "PolicyDocument")
		} else if p.Kind != yaml.MappingNode || get(p, "Statement") == nil {
			t.Errorf("policy %q (line %d) is an AWS managed policy or a SAM policy template: use a statement", p.Value, p.Line)
			continue
		}
		for _, st := range get(doc, "Statement").Content {
			if e := get(st, "Effect"); e == nil || e.Value != "Allow" {
				continue
			}
			res := get(st, "Resource")
			var resources []*yaml.Node
			switch {
			case res.Kind == yaml.SequenceNode && res.Tag == "!!seq":
				resources = res.Content
			default:
				resources = []*yaml.Node{res}
			}
			for _, a := range scalars(get(st, "Action")) {
				for _, r := range resources {
					out = append(out, grant{action: a, resource: r, condition: get(st, "Condition"), policy: name})
				}
			}
		}
	}
	return out
}

// capability names what a function's grant lets it do, judged against the template's own
// resources: the secrets its environment names, the state machines it acts on.
func capability(g grant, dbSecret, deployerSecret *yaml.Node, machines []string) string {
	switch g.action {
	case "secretsmanager:GetSecretValue":
		switch {
		case sameNode(g.resource, dbSecret):
			return "read DB secret"
		case deployerSecret != nil && sameNode(g.resource, deployerSecret):
			return "read deployer secret"
		}
		return fmt.Sprintf("read secret %q (line %d)", g.resource.Value, g.resource.Line)
	case "rds-db:connect":
		// arn:…:dbuser:${Id}/<user>, Id the proxy's or the instance's resource id.
		if text := subText(g.resource); strings.Contains(text, ":dbuser:${Id}/") {
			return "log in to the database as " + text[strings.LastIndex(text, "/")+1:]
		}
	case "ses:SendEmail":
		return "ses:SendEmail"
	case "kms:Sign", "kms:GetPublicKey":
		if g.resource.Value == "AuditSigningKey.Arn" {
			return g.action + " with the audit key"
		}
	case "s3:ListBucket", "s3:ListBucketVersions": // the bucket, under the digests' prefix only
		if g.resource.Value == "AuditDigestBucket.Arn" && text(get(g.condition, "StringLike", "s3:prefix")) == "audit-digests/*" {
			return g.action + " of the audit digests"
		}
	case "s3:PutObject", "s3:GetObject", "s3:GetObjectVersion":
		if g.resource.Value == "${AuditDigestBucket.Arn}/audit-digests/*" {
			return g.action + " of the audit digests"
		}
	case "states:StartExecution":
		if sm := refTo(g.resource); slices.Contains(machines, sm) {
			return g.action + " on " + sm
		}
	case "events:PutEvents":
		// The stack's own bus, by its ARN: no other bus.
		if f, arg := intrinsic(g.resource); f == "GetAtt" && (arg.Value == "EventBus.Arn" ||
			len(arg.Content) == 2 && arg.Content[0].Value == "EventBus" && arg.Content[1].Value == "Arn") {
			return "events:PutEvents on EventBus"
		}
	case "states:DescribeExecution":
		for _, sm := range machines {
			if f, arg := intrinsic(g.resource); f == "Sub" && strings.Contains(arg.Value, ":execution:${"+sm+".Name}:") {
				return g.action + " on " + sm
			}
		}
	}
	return fmt.Sprintf("%s on %q (line %d)", g.action, g.resource.Value, g.resource.Line)
}

// (d) Each function may do exactly what its catalogue entry's capabilities say (wiring
// builds its clients from the same capabilities): every function logs in to the database
// as its own user (catalog.Function.DBUser), the migration alone reads the master secret;
// Email sends e-mail as SES_FROM_ADDRESS through the SES identity; Contracts reads the
// deployer secret; StartProvisioning, DescribeProvisioning and StartUpgrades act on their
// state machine's executions; PublishEvents puts events on the stack's bus. Nothing else,
// and nothing missing.
func TestLeastPrivilegeMatchesTheCatalogue(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	dbSecret := tpl.env(catalog.MigrateControlPlane.LogicalID)["DB_SECRET_ARN"]
	if dbSecret == nil {
		t.Fatal("the migration has no DB_SECRET_ARN")
	}
	var deployerSecret *yaml.Node
	for _, id := range tpl.functions() {
		if v := tpl.env(id)["DEPLOYER_SECRET_ARN"]; v != nil {
			deployerSecret = v
		}
	}
	machineIDs := tpl.ofType("AWS::Serverless::StateMachine")
	for _, f := range catalog.All() {
		id, env := f.LogicalID, tpl.env(f.LogicalID)
		want := map[string]bool{"log in to the database as " + string(f.DBUser()): true}
		if f.DBUser() == catalog.MigrationUser {
			want = map[string]bool{"read DB secret": true}
		}
		for _, c := range f.Needs {
			switch c {
			case catalog.Email:
				want["ses:SendEmail"] = true
			case catalog.Contracts:
				want["read deployer secret"] = true
			case catalog.StartProvisioning:
				want["states:StartExecution on ProvisioningStateMachine"] = true
			case catalog.DescribeProvisioning:
				want["states:DescribeExecution on ProvisioningStateMachine"] = true
			case catalog.StartUpgrades:
				want["states:StartExecution on UpgradeStateMachine"] = true
				want["states:DescribeExecution on UpgradeStateMachine"] = true
			case catalog.SignAudit: // listing: a digest not yet written reads as missing, not denied
				for _, a := range []string{"kms:Sign with the audit key", "s3:ListBucket of the audit digests", "s3:PutObject of the audit digests", "s3:GetObject of the audit digests"} {
					want[a] = true
				}
			case catalog.VerifyAudit:
				for _, a := range []string{"kms:GetPublicKey with the audit key", "s3:ListBucketVersions of the audit digests", "s3:GetObject of the audit digests", "s3:GetObjectVersion of the audit digests"} {
					want[a] = true
				}
			case catalog.PublishEvents:
				want["events:PutEvents on EventBus"] = true
			default:
				t.Errorf("%s needs %s: teach this test what it may do", id, c)
			}
		}
		got := map[string]bool{}
		for _, g := range grants(t, tpl, get(tpl.resource(id), "Properties", "Policies")) {
			if strings.Contains(g.action, "*") {
				t.Errorf("%s: wildcard action %s (%s)", id, g.action, g.policy)
			}
			if f, _ := intrinsic(g.resource); f == "" && strings.Contains(g.resource.Value, "*") {
				t.Errorf("%s: %s on a wildcard resource %q (%s)", id, g.action, g.resource.Value, g.policy)
			}
			c := capability(g, dbSecret, deployerSecret, machineIDs)
			if c == "ses:SendEmail" {
				if !strings.Contains(subText(g.resource), ":identity/") {
					t.Errorf("%s: ses:SendEmail must name the SES identity, not %q", id, subText(g.resource))
				}
				if from := get(g.condition, "StringEquals", "ses:FromAddress"); !sameNode(from, env["SES_FROM_ADDRESS"]) {
					t.Errorf("%s: ses:SendEmail is not limited to the SES_FROM_ADDRESS sender (Condition ses:FromAddress)", id)
				}
			}
			got[c] = true
		}
		for c := range got {
			if !want[c] {
				t.Errorf("%s (functions/%s): may %s, which its catalogue entry does not need", id, f.Dir, c)
			}
		}
		for c := range want {
			if !got[c] {
				t.Errorf("%s (functions/%s): may not %s, which its catalogue entry needs", id, f.Dir, c)
			}
		}
	}
}

// The master user's password reaches the migration and RDS Proxy and nothing else: no
// other function has DB_SECRET_ARN (in its own environment or the Globals'), nor a policy
// that reads the secret; each logs in with an IAM token as its own user, the instance
// accepts IAM authentication, and the functions' users have a connect policy each.
func TestNoFunctionButTheMigrationReceivesTheMasterSecret(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	if v := get(tpl.globalFn, "Environment", "Variables", "DB_SECRET_ARN"); v != nil {
		t.Errorf("Globals give every function DB_SECRET_ARN")
	}
	for _, f := range catalog.All() {
		_, has := tpl.env(f.LogicalID)["DB_SECRET_ARN"]
		var reads bool
		for _, p := range get(tpl.resource(f.LogicalID), "Properties", "Policies").Content {
			reads = reads || refTo(p) == "DatabaseSecretReadPolicy"
		}
		isMigration := f.DBUser() == catalog.MigrationUser
		if has != isMigration || reads != isMigration {
			t.Errorf("%s: DB_SECRET_ARN %v, reads the secret %v; want both %v", f.LogicalID, has, reads, isMigration)
		}
	}
	for _, id := range keys(tpl.resources) {
		if id == "DatabaseProxyRole" || id == "DatabaseSecretReadPolicy" || slices.ContainsFunc(catalog.All(), func(f catalog.Function) bool { return f.LogicalID == id }) {
			continue
		}
		if strings.Contains(text(tpl.resource(id)), "DatabaseSecretReadPolicy") {
			t.Errorf("%s refers to the master secret's policy", id)
		}
	}
	if v := get(tpl.resource("Database"), "Properties", "EnableIAMDatabaseAuthentication"); v == nil || v.Value != "true" {
		t.Errorf("Database: IAM database authentication is not enabled")
	}
	for _, u := range catalog.DBUsers() {
		policy := "DbConnect" + strings.ReplaceAll(string(u), "_", "") + "Policy"
		stmt := get(tpl.resource(policy), "Properties", "PolicyDocument", "Statement")
		if stmt == nil || len(stmt.Content) != 1 || !strings.HasSuffix(subText(get(stmt.Content[0], "Resource")), "/"+string(u)) {
			t.Errorf("%s: no policy that logs in as %s alone", policy, u)
		}
	}
}

// text is n as YAML, for messages and comparisons.
func text(n *yaml.Node) string {
	b, err := yaml.Marshal(n)
	if err != nil {
		return fmt.Sprintf("unprintable node: %v", err)
	}
	return strings.TrimSpace(string(b))
}

// subText is the text of a !Sub (string or [string, vars]) or a plain scalar; for an !If,
// the texts of both branches.
func subText(n *yaml.Node) string {
	f, arg := intrinsic(n)
	switch f {
	case "Sub":
		if arg.Kind == yaml.SequenceNode {
			return arg.Content[0].Value
		}
		return arg.Value
	case "If":
		var parts []string
		for _, c := range arg.Content[1:] {
			if c.Kind == yaml.SequenceNode && c.Tag == "!!seq" {
				for _, e := range c.Content {
					parts = append(parts, subText(e))
				}
				continue
			}
			parts = append(parts, subText(c))
		}
		return strings.Join(parts, " ")
	}
	return n.Value
}

// deployed evaluates what a function's environment holds once deployed with params: its
// !Ref, !If (on the template's Conditions) and !GetAtt resolved, a resource's ARN or
// address standing in as what CloudFormation would give. ok is false for AWS::NoValue.
type deployed struct {
	tpl    *cfnTemplate
	params map[string]string
}

func (d deployed) value(n *yaml.Node) (string, bool) {
	f, arg := intrinsic(n)
	switch f {
	case "":
		return n.Value, true
	case "Ref":
		switch {
		case arg.Value == "AWS::NoValue":
			return "", false
		case get(d.tpl.root, "Parameters", arg.Value) != nil:
			return d.params[arg.Value], true
		case d.tpl.typeOf(arg.Value) == "AWS::Serverless::StateMachine":
			return "arn:aws:states:us-east-1:123456789012:stateMachine:" + arg.Value, true
		case d.tpl.typeOf(arg.Value) == "AWS::SecretsManager::Secret":
			return "arn:aws:secretsmanager:us-east-1:123456789012:secret:" + arg.Value, true
		}
		return arg.Value, true
	case "GetAtt":
		if res, attr := getAtt(n); strings.HasSuffix(attr, "SecretArn") {
			return "arn:aws:secretsmanager:us-east-1:123456789012:secret:" + res, true
		}
		return "db.internal.example", true
	case "If":
		branch := arg.Content[2]
		if d.condition(get(d.tpl.root, "Conditions", arg.Content[0].Value)) {
			branch = arg.Content[1]
		}
		return d.value(branch)
	}
	return "", false
}

func (d deployed) condition(n *yaml.Node) bool {
	f, arg := intrinsic(n)
	switch f {
	case "Equals":
		a, _ := d.value(arg.Content[0])
		b, _ := d.value(arg.Content[1])
		return a == b
	case "Not":
		return !d.condition(arg.Content[0])
	case "And", "Or":
		all := f == "And"
		for _, c := range arg.Content {
			if d.condition(c) != all {
				return !all
			}
		}
		return all
	case "Condition":
		return d.condition(get(d.tpl.root, "Conditions", arg.Value))
	}
	panic(fmt.Sprintf("condition %s at line %d: teach this test", f, n.Line))
}

// (e) Each function starts with the settings the template gives it, in every environment
// of samconfig.toml, and reads every one of them: the configuration loaders wiring runs
// for its component and capabilities (internal/config) run on its environment as
// deployed, and what they read is recorded. .env.example lists every variable for people.
func TestEnvironmentMatchesTheCode(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	cfg := readSamconfig(t)
	documented := documentedVars(t)
	for _, envName := range samconfigEnvs {
		d := deployed{tpl: tpl, params: deployParams(t, tpl, cfg, envName)}
		for _, f := range catalog.All() {
			vars := map[string]string{}
			for name, n := range tpl.env(f.LogicalID) {
				if v, ok := d.value(n); ok {
					vars[name] = v
				}
			}
			read := map[string]bool{}
			e := config.Env(func(name string) string { read[name] = true; return vars[name] })
			fail := func(what string, err error) {
				if err != nil {
					t.Errorf("%s: %s (functions/%s) cannot load its %s settings: %v", envName, f.LogicalID, f.Dir, what, err)
				}
			}
			_, err := e.Database()
			fail("database", err)
			if f.Uses(catalog.Email) {
				_, err := e.Email()
				fail("e-mail", err)
			}
			if f.Uses(catalog.Contracts) {
				_, err := e.Soroban()
				fail("Soroban", err)
			}
			if f.Uses(catalog.SignAudit) || f.Uses(catalog.VerifyAudit) {
				_, err := e.AuditChain()
				fail("audit chain", err)
			}
			// wiring.NewAPI reads both state machines and takes an unset one as absent;
			// the reconciler requires the provisioning one.
			_, wfErr := e.Workflow()
			_, upErr := e.UpgradeWorkflow()
			switch f.Runs {
			case catalog.API:
				e.API()
				if !errors.Is(wfErr, config.ErrNotSet) || f.Uses(catalog.StartProvisioning) || f.Uses(catalog.DescribeProvisioning) {
					fail("provisioning state machine", wfErr)
				}
				if !errors.Is(upErr, config.ErrNotSet) || f.Uses(catalog.StartUpgrades) {
					fail("upgrade state machine", upErr)
				}
			case catalog.Reconciler:
				fail("provisioning state machine", wfErr)
			}
			if f.Uses(catalog.PublishEvents) {
				_, err := e.Events()
				fail("event bus", err)
			}
			for name := range vars {
				if !read[name] {
					t.Errorf("%s: %s (functions/%s) is given %s, which its code does not read", envName, f.LogicalID, f.Dir, name)
				}
				if !documented[name] {
					t.Errorf("%s: %s is not in .env.example", f.LogicalID, name)
				}
			}
		}
	}
	env := get(tpl.globalFn, "Environment", "Variables")
	if v := get(env, "DB_SSLMODE"); v == nil || v.Value != "verify-full" {
		t.Errorf("DB_SSLMODE = %v, want verify-full", v)
	}
	// Direct, the RDS bundle of the deployment package verifies the instance; through the
	// proxy, the system roots verify the proxy's certificate from Amazon's public CAs.
	fn, args := intrinsic(get(env, "DB_SSLROOTCERT"))
	if fn != "If" || len(args.Content) != 3 || args.Content[0].Value != "UseProxy" || args.Content[1].Value != "system" {
		t.Fatalf("DB_SSLROOTCERT = %v, want !If [UseProxy, system, <the bundle>]", get(env, "DB_SSLROOTCERT"))
	}
	root := args.Content[2]
	if !strings.HasPrefix(root.Value, "/var/task/") {
		t.Fatalf("DB_SSLROOTCERT without the proxy = %q, want a file of the deployment package (/var/task/…)", root.Value)
	}
	for id, b := range makeTargets(t, tpl.functions()) {
		if filepath.Base(b.copies) != filepath.Base(root.Value) {
			t.Errorf("make build-%s copies %q next to bootstrap, DB_SSLROOTCERT is %s", id, b.copies, root.Value)
		}
	}
	if lf := get(tpl.globalFn, "LoggingConfig", "LogFormat"); lf == nil || lf.Value != "JSON" {
		t.Error("Globals.Function.LoggingConfig.LogFormat must be JSON (the functions log JSON with slog)")
	}
	for _, id := range tpl.functions() {
		if lf := get(tpl.resource(id), "Properties", "LoggingConfig", "LogFormat"); lf != nil && lf.Value != "JSON" {
			t.Errorf("%s: LogFormat %s", id, lf.Value)
		}
	}
}

func routesOf(tpl *cfnTemplate, id string) []string {
	var out []string
	events := get(tpl.resource(id), "Properties", "Events")
	for _, name := range keys(events) {
		ev := get(events, name)
		if get(ev, "Type").Value != "HttpApi" {
			continue
		}
		out = append(out, strings.ToUpper(get(ev, "Properties", "Method").Value)+" "+get(ev, "Properties", "Path").Value)
	}
	return out
}

// (f) The HTTP API has exactly the routes of internal/api/openapi.json, each behind the JWT
// authorizer with the scope the handlers check.
func TestAdminRoutes(t *testing.T) {
	tpl := loadTemplate(t)
	b, err := os.ReadFile(filepath.Join("internal", "api", "openapi.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var want []string
	for path, ops := range doc.Paths {
		for method := range ops {
			switch method {
			case "get", "post", "put", "patch", "delete":
				want = append(want, strings.ToUpper(method)+" "+path)
			}
		}
	}
	sort.Strings(want)

	apis := tpl.ofType("AWS::Serverless::HttpApi")
	if len(apis) != 1 {
		t.Fatalf("want one AWS::Serverless::HttpApi, have %v", apis)
	}
	api := tpl.resource(apis[0])
	auth := get(api, "Properties", "Auth")
	t.Setenv("ADMIN_SCOPE", "")
	scope := config.LoadAPI().RequiredScope
	if d := get(tpl.root, "Parameters", "AdminScope", "Default"); d == nil || d.Value != scope {
		t.Errorf("parameter AdminScope defaults to %v; the handlers default to %s", d, scope)
	}
	jwt := func(name string) bool {
		c := get(auth, "Authorizers", name, "JwtConfiguration")
		return refTo(get(c, "issuer")) == "JwtIssuer" && refTo(get(c, "audience")) == "JwtAudience"
	}
	var got []string
	for _, id := range tpl.functions() {
		events := get(tpl.resource(id), "Properties", "Events")
		for _, name := range keys(events) {
			ev := get(events, name)
			if get(ev, "Type").Value != "HttpApi" {
				continue
			}
			p := get(ev, "Properties")
			route := strings.ToUpper(get(p, "Method").Value) + " " + get(p, "Path").Value
			got = append(got, route)
			if refTo(get(p, "ApiId")) != apis[0] {
				t.Errorf("%s: route %s is not on %s", id, route, apis[0])
			}
			authorizer := get(p, "Auth", "Authorizer")
			if authorizer == nil {
				authorizer = get(auth, "DefaultAuthorizer")
			}
			// The catalogue's one public route (the activation link's) has no authorizer and
			// its own throttling; every other is behind the JWT authorizer with the scope.
			if f, _ := catalog.ByLogicalID(id); f.Public {
				if authorizer == nil || authorizer.Value != "NONE" {
					t.Errorf("%s: the public route %s must say Auth.Authorizer NONE", id, route)
				}
				if get(api, "Properties", "RouteSettings", route, "ThrottlingRateLimit") == nil {
					t.Errorf("%s: the public route %s has no RouteSettings throttling of its own", id, route)
				}
				continue
			}
			if authorizer == nil || !jwt(authorizer.Value) {
				t.Errorf("%s: route %s is not behind a JWT authorizer on JwtIssuer and JwtAudience", id, route)
			}
			// A route that only reads takes the read scope or the admin scope; the rest
			// the admin scope alone. The handlers check the same (api.Handler.Scopes).
			f, _ := catalog.ByLogicalID(id)
			want, wantEnv := []string{"AdminScope"}, map[string]string{"ADMIN_SCOPE": "AdminScope"}
			if f.ReadOnly() {
				want, wantEnv = []string{"ReadScope", "AdminScope"}, map[string]string{"ADMIN_SCOPE": "AdminScope", "READ_SCOPE": "ReadScope"}
			}
			var scopes []string
			for _, sc := range get(p, "Auth", "AuthorizationScopes").Content {
				scopes = append(scopes, refTo(sc))
			}
			if !slices.Equal(scopes, want) {
				t.Errorf("%s: route %s requires %v, want %v", id, route, scopes, want)
			}
			for v, param := range wantEnv {
				if refTo(tpl.env(id)[v]) != param {
					t.Errorf("%s: %s must be !Ref %s, the scope the authorizer requires", id, v, param)
				}
			}
		}
	}
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Errorf("HTTP API routes %v; openapi.json has %v", got, want)
	}
}

// The activation page posts to the API from APP_BASE_URL's origin: the HTTP API's CORS
// allows exactly that origin (the AppBaseUrl parameter, every function's APP_BASE_URL), with
// the methods, headers and max age the local server answers preflights with, and no
// credentials. The parameter admits an https origin only, as browsers send it in Origin.
func TestActivationCORS(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	apis := tpl.ofType("AWS::Serverless::HttpApi")
	cors := get(tpl.resource(apis[0]), "Properties", "CorsConfiguration")
	if o := get(cors, "AllowOrigins"); o == nil || o.Kind != yaml.SequenceNode || len(o.Content) != 1 || refTo(o.Content[0]) != "AppBaseUrl" {
		t.Errorf("%s: CorsConfiguration.AllowOrigins must be exactly [!Ref AppBaseUrl]", apis[0])
	}
	for _, id := range tpl.functions() {
		if v, ok := tpl.env(id)["APP_BASE_URL"]; ok && refTo(v) != "AppBaseUrl" {
			t.Errorf("%s: APP_BASE_URL must be !Ref AppBaseUrl, the origin CORS allows", id)
		}
	}
	if m := scalars(get(cors, "AllowMethods")); !slices.Equal(m, devserver.CORSMethods) {
		t.Errorf("AllowMethods %v; the local server allows %v", m, devserver.CORSMethods)
	}
	if h := scalars(get(cors, "AllowHeaders")); !slices.Equal(h, devserver.CORSHeaders) {
		t.Errorf("AllowHeaders %v; the local server allows %v", h, devserver.CORSHeaders)
	}
	if a := get(cors, "MaxAge"); a == nil || a.Value != strconv.Itoa(devserver.CORSMaxAge) {
		t.Errorf("MaxAge must be %d, as the local server says", devserver.CORSMaxAge)
	}
	for _, k := range []string{"AllowCredentials", "ExposeHeaders"} {
		if v := get(cors, k); v != nil && v.Value != "false" {
			t.Errorf("CorsConfiguration.%s is set: the activation page needs neither", k)
		}
	}
	pattern := regexp.MustCompile(get(tpl.root, "Parameters", "AppBaseUrl", "AllowedPattern").Value)
	for v, want := range map[string]bool{
		"https://admin.example-health.app": true, "https://admin.example-health.app:8443": true,
		"http://admin.example-health.app": false, "https://admin.example-health.app/": false,
		"https://admin.example-health.app/activate": false, "https://Admin.example-health.app": false, "https://": false,
	} {
		if pattern.MatchString(v) != want {
			t.Errorf("AppBaseUrl's AllowedPattern matches %q: %v, want %v", v, !want, want)
		}
	}
}

// The database the template creates is private, encrypted and kept on deletion; every log
// group has the retention parameter.
func TestStatefulResources(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	for _, id := range tpl.ofType("AWS::RDS::DBInstance") {
		db := tpl.resource(id)
		for prop, want := range map[string]string{"StorageEncrypted": "true", "PubliclyAccessible": "false", "ManageMasterUserPassword": "true", "Engine": "postgres"} {
			if v := get(db, "Properties", prop); v == nil || v.Value != want {
				t.Errorf("%s: %s = %v, want %s", id, prop, v, want)
			}
		}
		for _, attr := range []string{"DeletionPolicy", "UpdateReplacePolicy"} {
			if v := get(db, attr); v == nil || v.Value != "Snapshot" {
				t.Errorf("%s: %s must be Snapshot", id, attr)
			}
		}
	}
	groups := map[string]bool{}
	for _, id := range tpl.ofType("AWS::Logs::LogGroup") {
		groups[id] = true
		if refTo(get(tpl.resource(id), "Properties", "RetentionInDays")) != "LogRetentionDays" {
			t.Errorf("%s: RetentionInDays must be !Ref LogRetentionDays", id)
		}
	}
	for _, id := range tpl.functions() {
		if lg := refTo(get(tpl.resource(id), "Properties", "LoggingConfig", "LogGroup")); !groups[lg] {
			t.Errorf("%s: LoggingConfig.LogGroup is not a log group of the template", id)
		}
	}
}

// The dashboard shows every metric internal/metrics emits, and the state machine's; there is
// an alarm per function and on failed, timed-out and aborted executions.
func TestObservability(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	dashboards := tpl.ofType("AWS::CloudWatch::Dashboard")
	if len(dashboards) != 1 {
		t.Fatalf("want one dashboard, have %v", dashboards)
	}
	body := subText(get(tpl.resource(dashboards[0]), "Properties", "DashboardBody"))
	var parsed any
	if err := json.Unmarshal([]byte(placeholder.ReplaceAllString(body, "x")), &parsed); err != nil {
		t.Fatalf("DashboardBody is not JSON: %v", err)
	}
	if !strings.Contains(body, `"`+metrics.Namespace+`"`) && !strings.Contains(body, "{"+metrics.Namespace+",") {
		t.Errorf("the dashboard does not show namespace %s", metrics.Namespace)
	}
	for _, m := range metrics.Names() {
		if !strings.Contains(body, `"`+m+`"`) && !strings.Contains(body, `MetricName=\"`+m+`\"`) {
			t.Errorf("the dashboard does not show %s, which internal/metrics emits", m)
		}
	}
	sms := stateMachines(t, tpl)
	alarmed := map[string]bool{}
	for _, id := range tpl.ofType("AWS::CloudWatch::Alarm") {
		a := get(tpl.resource(id), "Properties")
		var dims []*yaml.Node
		if d := get(a, "Dimensions"); d != nil {
			dims = append(dims, d)
			if sm := refTo(get(d.Content[0], "Value")); get(a, "Namespace").Value == "AWS/States" && sms[sm] != nil {
				alarmed[sm+" "+get(a, "MetricName").Value] = true
			}
		}
		if ms := get(a, "Metrics"); ms != nil {
			for _, q := range ms.Content {
				if d := get(q, "MetricStat", "Metric", "Dimensions"); d != nil {
					dims = append(dims, d)
				}
			}
		}
		for _, d := range dims {
			for _, kv := range d.Content {
				if get(kv, "Name").Value == "FunctionName" {
					alarmed[refTo(get(kv, "Value"))] = true
				}
			}
		}
	}
	want := tpl.functions()
	for _, m := range machines {
		for _, metric := range []string{"ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"} {
			want = append(want, m.id+" "+metric)
		}
	}
	for _, want := range want {
		if !alarmed[want] {
			t.Errorf("no alarm on %s", want)
		}
	}
}

// The definition passes cfn-lint's state machine schema once its substitutions are made
// (cfn-lint cannot read a DefinitionUri file, so template.yaml's lint does not cover it).
func TestDefinitionPassesCfnLint(t *testing.T) {
	t.Parallel()
	lint, err := exec.LookPath("cfn-lint")
	if err != nil {
		t.Skip("cfn-lint is not installed (pip install cfn-lint); make lint-template requires it")
	}
	for _, m := range machines {
		lintDefinition(t, lint, m)
	}
}

// lintDefinition runs cfn-lint on the machine's definition, its ${…} resolved to ARNs.
func lintDefinition(t *testing.T, lint string, m machine) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("statemachine", m.file))
	if err != nil {
		t.Fatal(err)
	}
	resolved := placeholder.ReplaceAllStringFunc(string(b), func(m string) string {
		fn := strings.TrimSuffix(placeholder.FindStringSubmatch(m)[1], "Arn")
		return "arn:aws:lambda:eu-west-1:123456789012:function:" + fn
	})
	var def any
	if err := json.Unmarshal([]byte(resolved), &def); err != nil {
		t.Fatal(err)
	}
	tmpl := map[string]any{
		"AWSTemplateFormatVersion": "2010-09-09",
		"Resources": map[string]any{m.id: map[string]any{
			"Type": "AWS::StepFunctions::StateMachine",
			"Properties": map[string]any{
				"RoleArn":          "arn:aws:iam::123456789012:role/provisioning",
				"StateMachineType": "STANDARD",
				"Definition":       def,
			},
		}},
	}
	out, _ := json.Marshal(tmpl)
	path := filepath.Join(t.TempDir(), "definition.json")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := exec.Command(lint, "--", path).CombinedOutput()
	if err != nil {
		t.Errorf("cfn-lint on the resolved %s: %v\n%s", m.file, err, res)
	}
}

// --- samconfig.toml -----------------------------------------------------------------------

// samconfigEnvs are the environments samconfig.toml deploys.
var samconfigEnvs = []string{"default", "staging", "prod"}

// samconfigOverrides are an environment's parameter_overrides, parameter → value.
func samconfigOverrides(t *testing.T, env string, deploy map[string]string) map[string]string {
	t.Helper()
	overrides := map[string]string{}
	for _, kv := range strings.Split(strings.Trim(deploy["parameter_overrides"], "[]"), "\x00") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			t.Errorf("%s: parameter override %q is not Key=Value", env, kv)
			continue
		}
		overrides[k] = v
	}
	return overrides
}

// samconfig is the part of samconfig.toml read here: "<env>.<command>" → key → raw value.
type samconfig map[string]map[string]string

// readSamconfig reads the TOML this file uses: [a.b.c] tables, key = value, and arrays of
// strings over several lines. (No TOML module for one test.)
func readSamconfig(t *testing.T) samconfig {
	t.Helper()
	b, err := os.ReadFile("samconfig.toml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := samconfig{}
	section := ""
	var key string
	var array []string
	inArray := false
	for _, line := range strings.Split(string(b), "\n") {
		line = stripComment(line)
		if line == "" {
			continue
		}
		if inArray {
			if line == "]" {
				cfg[section][key] = "[" + strings.Join(array, "\x00") + "]"
				inArray = false
				continue
			}
			s, err := strconv.Unquote(strings.TrimSuffix(line, ","))
			if err != nil {
				t.Fatalf("samconfig.toml: %q in %s.%s: %v", line, section, key, err)
			}
			array = append(array, s)
			continue
		}
		if strings.HasPrefix(line, "[") {
			section = strings.TrimSuffix(strings.Trim(line, "[]"), ".parameters")
			cfg[section] = map[string]string{}
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("samconfig.toml: cannot read %q", line)
		}
		key, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if section == "" {
			continue // version
		}
		if v == "[" {
			inArray, array = true, nil
			continue
		}
		if s, err := strconv.Unquote(v); err == nil {
			v = s
		}
		cfg[section][key] = v
	}
	return cfg
}

func stripComment(line string) string {
	inString := false
	for i, r := range line {
		switch {
		case r == '"':
			inString = !inString
		case r == '#' && !inString:
			return strings.TrimSpace(line[:i])
		}
	}
	return strings.TrimSpace(line)
}

// Every environment of samconfig.toml gives every parameter the template requires, only
// parameters the template has, with values it accepts; staging and prod confirm changesets
// and protect the database.
func TestSamconfig(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	params := get(tpl.root, "Parameters")
	cfg := readSamconfig(t)
	for _, env := range samconfigEnvs {
		deploy := cfg[env+".deploy"]
		if deploy == nil {
			t.Errorf("samconfig.toml has no [%s.deploy.parameters]", env)
			continue
		}
		if cfg[env+".build"]["cached"] != "true" || cfg[env+".build"]["parallel"] != "true" {
			t.Errorf("[%s.build.parameters] should build cached and in parallel", env)
		}
		if cfg[env+".global"]["stack_name"] == "" {
			t.Errorf("[%s.global.parameters] has no stack_name", env)
		}
		for _, c := range []string{"CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"} {
			if !strings.Contains(deploy["capabilities"], c) {
				t.Errorf("[%s.deploy.parameters] capabilities lack %s", env, c)
			}
		}
		wantConfirm := map[string]string{"default": "false", "staging": "true", "prod": "true"}[env]
		if deploy["confirm_changeset"] != wantConfirm {
			t.Errorf("[%s.deploy.parameters] confirm_changeset = %s, want %s", env, deploy["confirm_changeset"], wantConfirm)
		}
		overrides := samconfigOverrides(t, env, deploy)
		for k, v := range overrides {
			p := get(params, k)
			if p == nil {
				t.Errorf("%s: overrides %s, which is not a template parameter", env, k)
				continue
			}
			if allowed := scalars(get(p, "AllowedValues")); allowed != nil && !slices.Contains(allowed, v) {
				t.Errorf("%s: %s=%s is not one of %v", env, k, v, allowed)
			}
			if pat := get(p, "AllowedPattern"); pat != nil && !regexp.MustCompile(pat.Value).MatchString(v) {
				t.Errorf("%s: %s=%s does not match %s", env, k, v, pat.Value)
			}
		}
		for _, k := range keys(params) {
			if get(params, k, "Default") == nil && overrides[k] == "" {
				t.Errorf("%s: required parameter %s is not in parameter_overrides", env, k)
			}
		}
		if env != "default" && overrides["DbDeletionProtection"] != "true" {
			t.Errorf("%s: DbDeletionProtection must be true", env)
		}
	}
}

// What a Lambda carries is only what ships: no function's main reaches, even indirectly,
// a package that runs only on a developer machine (internal/local/...) or only in tests
// (internal/testkit/...). Read as sam build builds it (linux/arm64, lambda.norpc).
func TestLambdasShipNoLocalOrTestCode(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("go", "list", "-tags", "lambda.norpc", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, "./functions/...")
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list ./functions/...: %v", err)
	}
	const module = "github.com/healthstack/tenant-provisioning/"
	forbidden := []string{module + "internal/local/", module + "internal/testkit/"}
	mains := 0
	for line := range strings.Lines(string(out)) {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		mains++
		for _, dep := range fields[1:] {
			for _, f := range forbidden {
				if strings.HasPrefix(dep, f) {
					t.Errorf("%s depends on %s, which must not ship in a Lambda", strings.TrimPrefix(fields[0], module), strings.TrimPrefix(dep, module))
				}
			}
		}
	}
	if want := len(catalog.All()); mains != want {
		t.Errorf("go list found %d functions, the catalogue declares %d", mains, want)
	}
}

// The upgrade's Distributed Map is sized to the database: at most MaxConcurrency batches
// run at once, and the batch function may run that many containers with one connection
// each, so the fan-out never holds more connections than that, however many tenants.
func TestUpgradeFanOutFitsItsConnections(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	_, def := aslPlaceholders(t, "upgrade.asl.json")
	var width float64
	for _, st := range flatStates(def) {
		if proc, ok := st["ItemProcessor"].(map[string]any); ok {
			for _, inner := range flatStates(proc) {
				if inner["Resource"] == "${"+catalog.MigrateTenantBatch.Substitution()+"}" {
					width, _ = st["MaxConcurrency"].(float64)
				}
			}
		}
	}
	if width < 1 {
		t.Fatalf("the Map running %s has no MaxConcurrency", catalog.MigrateTenantBatch.State)
	}
	id := catalog.MigrateTenantBatch.LogicalID
	reserved := tpl.fnProp(id, "ReservedConcurrentExecutions")
	if reserved == nil || reserved.Value != strconv.Itoa(int(width)) {
		t.Errorf("%s: ReservedConcurrentExecutions %v, want the Map's MaxConcurrency %v", id, reserved, width)
	}
	if c := tpl.env(id)["DB_MAX_CONNS"]; c == nil || c.Value != "1" {
		t.Errorf("%s: DB_MAX_CONNS %v, want 1: a batch migrates its tenants one after another", id, c)
	}
}

// Every pipeline step and every admin route holds one connection at a time, so each of
// their containers opens one (half the default): the pipeline's tests run the steps, and
// the API's tests serve the routes, from a pool of one connection, where one that needed
// a second at once would hang.
func TestFunctionsOpenOneConnection(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	for _, f := range slices.Concat(catalog.Provisioning, []catalog.Function{catalog.Rollback}, catalog.Routes) {
		if c := tpl.env(f.LogicalID)["DB_MAX_CONNS"]; c == nil || c.Value != "1" {
			t.Errorf("%s: DB_MAX_CONNS %v, want 1", f.LogicalID, c)
		}
	}
}

// maxConnections is RDS for PostgreSQL's default max_connections by instance class,
// LEAST({DBInstanceClassMemory/9531392}, 5000), as the classes the template and
// samconfig.toml name report it, rounded down (DBInstanceClassMemory is the memory left
// after the OS and RDS take theirs, so it is not the class's nominal memory).
var maxConnections = map[string]int{
	"db.t4g.micro": 81, "db.t4g.small": 189, "db.t4g.medium": 405, "db.t4g.large": 845,
	"db.m7g.large": 845, "db.m7g.xlarge": 1700, "db.r7g.large": 1700,
}

// reservedForOthers are the connections the functions must leave: the superuser slots
// only rdsadmin may use (superuser_reserved_connections, 3) and room for an operator's
// psql and RDS's own monitoring.
const reservedForOthers = 3 + 10

// The functions' containers cannot open more connections than the database accepts:
// every function has a reserved concurrency, and the sum of reserved concurrency times
// DB_MAX_CONNS (each container's pool, held even while the container is frozen) stays
// below max_connections, with room for others, with the template's defaults and in
// every samconfig.toml environment. The connections alarm fires between the two; no
// throttling burst of the admin API exceeds the containers a route may run (a request
// Lambda throttles gets a 500 from API Gateway, one API Gateway throttles a 429).
func TestConnectionBudget(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	params := get(tpl.root, "Parameters")
	cfg := readSamconfig(t)
	configs := map[string]map[string]string{"template defaults": {}}
	for _, env := range samconfigEnvs {
		configs[env] = samconfigOverrides(t, env, cfg[env+".deploy"])
	}
	for _, name := range slices.Sorted(maps.Keys(configs)) {
		overrides := configs[name]
		t.Run(name, func(t *testing.T) {
			number := func(v string) int {
				t.Helper()
				i, err := strconv.Atoi(v)
				if err != nil {
					t.Fatalf("%q is not a number: %v", v, err)
				}
				return i
			}
			setting := func(name string) string { // the environment's value, else the default
				if v := overrides[name]; v != "" {
					return v
				}
				return get(params, name, "Default").Value
			}
			param := func(name string) int { return number(setting(name)) }
			value := func(n *yaml.Node) int { // a number, or a !Ref to a parameter
				if fn, arg := intrinsic(n); fn == "Ref" {
					return param(arg.Value)
				}
				return number(n.Value)
			}
			class := setting("DbInstanceClass")
			limit, ok := maxConnections[class]
			if !ok {
				t.Fatalf("DbInstanceClass %s: its max_connections is not in this test's table", class)
			}
			connections, reserved := 0, 0
			var tally []string
			for _, id := range tpl.functions() {
				n := tpl.fnProp(id, "ReservedConcurrentExecutions")
				if n == nil {
					t.Errorf("%s has no ReservedConcurrentExecutions: its containers, and their connections, are unbounded", id)
					continue
				}
				containers, conns := value(n), database.DefaultMaxConns
				if c := tpl.env(id)["DB_MAX_CONNS"]; c != nil {
					conns = value(c)
				}
				connections += containers * conns
				reserved += containers
				tally = append(tally, fmt.Sprintf("%s %d×%d", id, containers, conns))
			}
			t.Logf("%s: %d connections at most (%s), max_connections %d", class, connections, strings.Join(tally, ", "), limit)
			if connections > limit-reservedForOthers {
				t.Errorf("the functions may open %d connections; %s accepts %d, of which %d are not theirs", connections, class, limit, reservedForOthers)
			}
			if alarm := param("DbConnectionsAlarmThreshold"); alarm < connections || alarm >= limit {
				t.Errorf("DbConnectionsAlarmThreshold %d: want at least the functions' %d and below max_connections %d", alarm, connections, limit)
			}
			// Lambda keeps 100 of an account's default 1,000 concurrent executions unreserved.
			if reserved > 900 {
				t.Errorf("the functions reserve %d concurrent executions; an account has 1,000 unless raised", reserved)
			}
			api := param("ApiConcurrency")
			for _, burst := range []string{"ApiThrottlingBurstLimit", "CreateTenantThrottlingBurstLimit", "ActivationThrottlingBurstLimit"} {
				if b := param(burst); b > api {
					t.Errorf("%s %d exceeds ApiConcurrency %d", burst, b, api)
				}
			}
		})
	}
}

// UseRdsProxy=true puts an RDS Proxy between the functions and the database: the
// functions' settings switch to the proxy (endpoint, its port, DB_PROXY, system roots),
// the network path runs functions → proxy → database and no longer directly, and the
// proxy requires TLS, logs no SQL and reads the functions' own credentials secret.
func TestRdsProxyOption(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	env := get(tpl.globalFn, "Environment", "Variables")
	proxied := map[string]string{ // variable → its value through the proxy
		"DB_HOST": "!GetAtt DatabaseProxy.Endpoint", "DB_PORT": "5432", "DB_SSLROOTCERT": "system",
	}
	for v, want := range proxied {
		fn, args := intrinsic(get(env, v))
		if fn != "If" || args.Content[0].Value != "UseProxy" || text(args.Content[1]) != want {
			t.Errorf("%s = %s, want !If [UseProxy, %s, …]", v, text(get(env, v)), want)
		}
	}
	if refTo(get(env, "DB_PROXY")) != "UseRdsProxy" {
		t.Errorf("DB_PROXY = %s, want !Ref UseRdsProxy", text(get(env, "DB_PROXY")))
	}

	for _, id := range keys(tpl.resources) {
		cond := get(tpl.resource(id), "Condition")
		if strings.Contains(id, "Proxy") && (cond == nil || cond.Value != "UseProxy") {
			t.Errorf("%s: Condition %v, want UseProxy", id, cond)
		}
	}
	for _, id := range []string{"FunctionEgressToDatabase", "DatabaseIngressFromFunctions"} {
		if c := get(tpl.resource(id), "Condition"); c == nil || c.Value != "Direct" {
			t.Errorf("%s: Condition %v, want Direct: through the proxy the functions reach the proxy only", id, c)
		}
	}
	for id, want := range map[string][2]string{
		"FunctionEgressToProxy":     {"FunctionSecurityGroup", "ProxySecurityGroup"},
		"ProxyIngressFromFunctions": {"ProxySecurityGroup", "FunctionSecurityGroup"},
	} {
		p := get(tpl.resource(id), "Properties")
		peerNode := get(p, "DestinationSecurityGroupId")
		if peerNode == nil {
			peerNode = get(p, "SourceSecurityGroupId")
		}
		group, _ := getAtt(get(p, "GroupId"))
		peer, _ := getAtt(peerNode)
		if group != want[0] || peer != want[1] || get(p, "FromPort").Value != "5432" || get(p, "ToPort").Value != "5432" {
			t.Errorf("%s: %s, want %s ⇄ %s on 5432", id, text(p), want[0], want[1])
		}
	}

	proxy := get(tpl.resource("DatabaseProxy"), "Properties")
	if get(proxy, "RequireTLS").Value != "true" || get(proxy, "DebugLogging").Value != "false" || get(proxy, "EngineFamily").Value != "POSTGRESQL" {
		t.Errorf("DatabaseProxy: %s", text(proxy))
	}
	// The functions' users log in with IAM end to end; the migration with the master secret.
	secret := tpl.env(catalog.MigrateControlPlane.LogicalID)["DB_SECRET_ARN"]
	auth := get(proxy, "Auth").Content
	if len(auth) != 1 || text(get(auth[0], "SecretArn")) != text(secret) || get(auth[0], "IAMAuth").Value != "DISABLED" {
		t.Errorf("DatabaseProxy.Auth = %s, want the migration's secret (%s) alone", text(get(proxy, "Auth")), text(secret))
	}
	if v := get(proxy, "DefaultAuthScheme"); v == nil || v.Value != "IAM_AUTH" {
		t.Errorf("DatabaseProxy.DefaultAuthScheme: want IAM_AUTH, the functions' users have no password")
	}
	if role, _ := getAtt(get(proxy, "RoleArn")); role != "DatabaseProxyRole" {
		t.Errorf("DatabaseProxy.RoleArn: %s", role)
	}
	role := get(tpl.resource("DatabaseProxyRole"), "Properties")
	inline := get(role, "Policies")
	var connect string
	if inline != nil && len(inline.Content) == 1 {
		stmt := get(inline.Content[0], "PolicyDocument", "Statement")
		if len(stmt.Content) == 1 && get(stmt.Content[0], "Action").Value == "rds-db:connect" {
			connect = subText(get(stmt.Content[0], "Resource"))
		}
	}
	if ps := get(role, "ManagedPolicyArns"); ps == nil || len(ps.Content) != 1 || refTo(ps.Content[0]) != "DatabaseSecretReadPolicy" || !strings.HasSuffix(connect, ":dbuser:${Id}/tp_*") {
		t.Errorf("DatabaseProxyRole may do more than read the master secret and log in as the functions' users: %s", text(role))
	}

	// The migrations wait for the whole path of the configuration in use.
	fn, path := intrinsic(get(tpl.resource("ControlPlaneMigrations"), "Properties", "DatabasePath"))
	if fn != "If" || path.Content[0].Value != "UseProxy" {
		t.Fatalf("ControlPlaneMigrations.DatabasePath: want !If [UseProxy, …]")
	}
	for i, want := range [][]string{
		{"FunctionEgressToProxy", "ProxyIngressFromFunctions", "ProxyEgressToDatabase", "DatabaseIngressFromProxy", "DatabaseProxyTargetGroup"},
		{"FunctionEgressToDatabase", "DatabaseIngressFromFunctions"},
	} {
		var got []string
		if fn, join := intrinsic(path.Content[i+1]); fn == "Join" && len(join.Content) == 2 {
			for _, n := range join.Content[1].Content {
				got = append(got, refTo(n))
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("ControlPlaneMigrations.DatabasePath branch %d = %v, want %v", i+1, got, want)
		}
	}
}

// template.yaml stays a file a person reads: what is mechanical is generated from the
// catalogue or made by Fn::ForEach, and the whole stays within 2,000 lines (issue 20).
func TestTemplateStaysWithinTwoThousandLines(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(b, []byte("\n")) + 1; n > 2000 {
		t.Errorf("template.yaml is %d lines; generate or loop what repeats", n)
	}
}
