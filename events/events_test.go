// Package events_test runs every function's sample event (events/<LogicalId>/event.json,
// what `sam local invoke -e` sends it) through the function's real handler, in the order
// an onboarding runs them, so that the events cannot rot: an event a handler rejects, an
// event for a function that no longer exists, or a function without an event fails here.
// The handlers run on a throw-away PostgreSQL database, the local SES v2 outbox, the Stellar
// RPC double and Step Functions in the AWS API emulator (AWS_ENDPOINT_URL; `make test`
// starts moto_server).
package events_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"gopkg.in/yaml.v3"

	"github.com/healthstack/tenant-provisioning/internal/api"
	"github.com/healthstack/tenant-provisioning/internal/auditchain"
	"github.com/healthstack/tenant-provisioning/internal/catalog"
	"github.com/healthstack/tenant-provisioning/internal/local/handlers"
	"github.com/healthstack/tenant-provisioning/internal/outbox"
	"github.com/healthstack/tenant-provisioning/internal/pipeline"
	"github.com/healthstack/tenant-provisioning/internal/reconcile"
	"github.com/healthstack/tenant-provisioning/internal/soroban"
	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/tenant"
	"github.com/healthstack/tenant-provisioning/internal/tenantdb"
	"github.com/healthstack/tenant-provisioning/internal/testkit/bustest"
	"github.com/healthstack/tenant-provisioning/internal/testkit/testdb"
	"github.com/healthstack/tenant-provisioning/internal/upgrade"
	"github.com/healthstack/tenant-provisioning/internal/workflow"
	"github.com/healthstack/tenant-provisioning/statemachine"
)

// The tenants the events are about; seed.sql reserves them with these ids.
const (
	exampleTenantID  = "01936f2e-6d7a-7c3b-9a4e-2b8f0c1d2e3f" // every step, and get/status/archive
	rollbackTenantID = "01936f2e-9b1c-7d2e-8f3a-4b5c6d7e8f90" // RollbackFunction's
	exampleName      = "Example Community Clinic"
	exampleAdmin     = "clinic-admin@example.org"
	rollbackAdmin    = "lakeside-admin@example.org"
	// createdName and createdAdmin are in CreateTenantFunction's body: another tenant, so
	// the create does not collide with the seeded ones.
	createdName  = "Example Riverside Clinic"
	createdAdmin = "riverside-admin@example.org"
	// upgradeRunID is the upgrade run the upgrade steps' events and GetUpgradeFunction's are
	// about; seed.sql records it RUNNING.
	upgradeRunID = "01936f64-3b20-7b4e-9d1f-5a6b7c8d9e0f"
)

// migrateFunction is the logical id of the function behind the control plane's
// Custom::Migrations resource; the pipeline catalogues do not include it.
var migrateFunction = catalog.MigrateControlPlane.LogicalID

// The routes of the admin API functions, as in internal/api/openapi.json (checked below).
var apiOperations = map[string]string{
	catalog.CreateTenant.LogicalID:          "createTenant",
	catalog.ListTenants.LogicalID:           "listTenants",
	catalog.GetTenant.LogicalID:             "getTenant",
	catalog.GetProvisioningStatus.LogicalID: "getProvisioningStatus",
	catalog.ArchiveTenant.LogicalID:         "archiveTenant",
	catalog.RetryTenant.LogicalID:           "retryTenant",
	catalog.ResendActivationEmail.LogicalID: "resendActivationEmail",
	catalog.Activate.LogicalID:              "activateAdmin",
	catalog.StartUpgrade.LogicalID:          "startUpgrade",
	catalog.GetUpgrade.LogicalID:            "getUpgrade",
	catalog.ListAudit.LogicalID:             "listAudit",
	catalog.VerifyAuditTrail.LogicalID:      "verifyAuditTrail",
}

func TestEveryEventRunsOnItsFunction(t *testing.T) {
	if testing.Short() {
		t.Skip("needs PostgreSQL and an AWS API emulator")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	evs := loadEvents(t)

	var claim pipeline.CreateTenantRecordInput
	if err := decodeStrict(evs[catalog.CreateTenantRecord.LogicalID].raw, &claim); err != nil {
		t.Fatalf("%s: %v", catalog.CreateTenantRecord.LogicalID, err)
	}
	eventsStateMachine, ok := stateMachineOf(claim.ExecutionArn)
	if !ok {
		t.Fatalf("%s: executionArn %q is not a Step Functions execution ARN", catalog.CreateTenantRecord.LogicalID, claim.ExecutionArn)
	}
	f := newFixture(ctx, t, eventsStateMachine)

	// Exactly one event per function.
	want := append(handlers.Names(f.catalog), migrateFunction)
	got := slices.Sorted(maps.Keys(evs))
	for _, name := range want {
		if _, ok := evs[name]; !ok {
			t.Errorf("function %s has no event: add events/%s/event.json", name, name)
		}
	}
	for _, name := range got {
		if !slices.Contains(want, name) {
			t.Errorf("events/%s/event.json is for no function (the functions are %v)", name, want)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	checkShapes(t, evs)
	checkStateInputs(t, evs)
	checkUpgradeInputs(t, evs)
	checkAPIEvents(t, evs)
	if t.Failed() {
		t.FailNow()
	}

	r := &run{t: t, ctx: ctx, f: f, evs: evs, used: map[string]bool{}}
	f.runSQL(ctx, t, "seed.sql")
	r.checkSeed()
	r.rollback()
	r.onboard(claim)
	r.upgrade()
	r.adminAPI(claim)
	r.reconcile()
	r.audit()
	r.publish()
	r.migrate()

	for _, name := range got {
		if !r.used[name] {
			t.Errorf("events/%s/event.json was never run", name)
		}
	}
	for _, addr := range []string{exampleAdmin, rollbackAdmin, createdAdmin} {
		if strings.Contains(f.logs.String(), addr) {
			t.Errorf("an admin's e-mail address is in the functions' logs")
		}
	}

	// reset.sql undoes all of it, and seed.sql starts over.
	f.runSQL(ctx, t, "reset.sql")
	var left int
	if err := f.pool.QueryRow(ctx, `SELECT count(*) FROM tenants`).Scan(&left); err != nil || left != 0 {
		t.Errorf("after reset.sql: %d tenants left (%v), want none", left, err)
	}
	for _, id := range []string{exampleTenantID, rollbackTenantID} {
		name := r.schemaName(id)
		if schema, role := testdb.Exists(ctx, t, f.pool, name); schema || role {
			t.Errorf("after reset.sql: schema %s exists %v, role exists %v", name, schema, role)
		}
	}
	var runs, results int
	if err := f.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM upgrade_runs), (SELECT count(*) FROM upgrade_results)`).Scan(&runs, &results); err != nil || runs+results != 0 {
		t.Errorf("after reset.sql: %d upgrade runs and %d results left (%v), want none", runs, results, err)
	}
	f.runSQL(ctx, t, "seed.sql")
	f.runSQL(ctx, t, "seed.sql")
	if err := f.pool.QueryRow(ctx, `SELECT count(*) FROM tenants WHERE status = 'PENDING'`).Scan(&left); err != nil || left != 2 {
		t.Errorf("seed.sql after reset.sql, twice: %d PENDING tenants (%v), want 2", left, err)
	}
	var running []string
	rows, err := f.pool.Query(ctx, `SELECT id::text FROM upgrade_runs WHERE status = 'RUNNING'`)
	if err == nil {
		running, err = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	if err != nil || !slices.Equal(running, []string{upgradeRunID}) {
		t.Errorf("seed.sql after reset.sql, twice: RUNNING upgrade runs %v (%v), want %s alone", running, err, upgradeRunID)
	}
}

// stateMachineOf returns the state machine an execution ARN belongs to.
func stateMachineOf(executionArn string) (string, bool) {
	parts := strings.Split(executionArn, ":")
	if len(parts) != 8 || parts[0] != "arn" || parts[2] != "states" || parts[5] != "execution" {
		return "", false
	}
	parts[5] = "stateMachine"
	return strings.Join(parts[:7], ":"), true
}

// cfnRequest is the custom resource request CloudFormation sends a Lambda: cfn.Event plus
// the ServiceToken it repeats at the top level (which cfn.Event does not keep).
type cfnRequest struct {
	cfn.Event
	ServiceToken string `json:"ServiceToken"`
}

// checkShapes decodes each event strictly into what its handler takes.
func checkShapes(t *testing.T, evs map[string]event) {
	t.Helper()
	// What each function takes that is not a route's event or a step's TenantInput.
	inputs := map[string]func() any{
		catalog.CreateTenantRecord.LogicalID:   func() any { return new(pipeline.CreateTenantRecordInput) },
		catalog.StoreContractAddress.LogicalID: func() any { return new(pipeline.StoreContractAddressInput) },
		catalog.Rollback.LogicalID:             func() any { return new(pipeline.RollbackInput) },
		catalog.ListTenantsToUpgrade.LogicalID: func() any { return new(upgrade.Page) },
		catalog.MigrateTenantBatch.LogicalID:   func() any { return new(upgrade.Batch) },
		catalog.SummarizeUpgrade.LogicalID:     func() any { return new(upgrade.Finish) },
		migrateFunction:                        func() any { return new(cfnRequest) },
	}
	for name, ev := range evs {
		var v any = new(pipeline.TenantInput)
		if _, isAPI := apiOperations[name]; isAPI {
			v = new(events.APIGatewayV2HTTPRequest)
		}
		if in, ok := inputs[name]; ok {
			v = in()
		}
		if err := decodeStrict(ev.raw, v); err != nil {
			t.Errorf("%s does not decode as %T: %v", ev.path, v, err)
		}
	}
}

// checkStateInputs holds each pipeline event to what the state machine passes its Task:
// the keys of the state's Parameters, the tenant id of the example tenant (the rollback's
// own tenant for Rollback), and a Catch's {Error, Cause} for the rollback's error.
func checkStateInputs(t *testing.T, evs map[string]event) {
	t.Helper()
	var def struct {
		States map[string]struct {
			Type       string         `json:"Type"`
			Resource   string         `json:"Resource"`
			Parameters map[string]any `json:"Parameters"`
		} `json:"States"`
	}
	if err := json.Unmarshal(statemachine.Provisioning, &def); err != nil {
		t.Fatal(err)
	}
	tasks := 0
	for state, s := range def.States {
		if s.Type != "Task" {
			continue
		}
		tasks++
		fn := strings.TrimSuffix(strings.TrimPrefix(s.Resource, "${"), "Arn}")
		ev, ok := evs[fn]
		if !ok {
			t.Errorf("state %s runs %s, which has no event", state, fn)
			continue
		}
		in, ok := ev.fields(t)
		if !ok {
			continue
		}
		var params []string
		for k := range s.Parameters {
			params = append(params, strings.TrimSuffix(k, ".$"))
		}
		slices.Sort(params)
		if keys := slices.Sorted(maps.Keys(in)); !slices.Equal(keys, params) {
			t.Errorf("%s has the fields %v; state %s passes %v", ev.path, keys, state, params)
		}
		var id string
		_ = json.Unmarshal(in["tenantId"], &id)
		wantID := exampleTenantID
		if fn == catalog.Rollback.LogicalID {
			wantID = rollbackTenantID
		}
		if id != wantID {
			t.Errorf("%s: tenantId %q, want %s", ev.path, id, wantID)
		}
	}
	if tasks != len(handlers.Names(handlers.Pipeline(nil))) {
		t.Errorf("the state machine has %d Tasks, the catalogue %d functions", tasks, len(handlers.Names(handlers.Pipeline(nil))))
	}
}

// aslMachine and aslState are what the upgrade check reads of a definition.
type aslMachine struct {
	StartAt string              `json:"StartAt"`
	States  map[string]aslState `json:"States"`
}

type aslState struct {
	Type         string         `json:"Type"`
	Resource     string         `json:"Resource"`
	Parameters   map[string]any `json:"Parameters"`
	ItemSelector map[string]any `json:"ItemSelector"`
	ItemBatcher  *struct {
		BatchInput map[string]any `json:"BatchInput"`
	} `json:"ItemBatcher"`
	ItemProcessor *aslMachine `json:"ItemProcessor"`
}

// fieldNames are the field names a Parameters-like template produces.
func fieldNames(template map[string]any) []string {
	var names []string
	for k := range template {
		names = append(names, strings.TrimSuffix(k, ".$"))
	}
	slices.Sort(names)
	return names
}

// checkUpgradeInputs holds each upgrade step's event to what statemachine/upgrade.asl.json
// passes the function's state (catalog.Function.State): the execution's input for the first
// state, what the Distributed Map's ItemBatcher makes of its ItemSelector and BatchInput for
// the Map's item processor, the keys of Parameters otherwise; all for the seeded run, the
// batch for the example tenant.
func checkUpgradeInputs(t *testing.T, evs map[string]event) {
	t.Helper()
	var def aslMachine
	if err := json.Unmarshal(statemachine.Upgrade, &def); err != nil {
		t.Fatal(err)
	}
	states := map[string]aslState{}
	mapOf := map[string]aslState{} // an item processor's first state → its Map
	var collect func(m aslMachine)
	collect = func(m aslMachine) {
		for name, s := range m.States {
			states[name] = s
			if s.ItemProcessor != nil {
				mapOf[s.ItemProcessor.StartAt] = s
				collect(*s.ItemProcessor)
			}
		}
	}
	collect(def)
	isStep := func(fn string) bool {
		return slices.ContainsFunc(catalog.Upgrade, func(f catalog.Function) bool { return f.LogicalID == fn })
	}
	ran := map[string]bool{}
	for name, s := range states {
		if s.Type == "Task" {
			fn := strings.TrimSuffix(strings.TrimPrefix(s.Resource, "${"), "Arn}")
			if !isStep(fn) {
				t.Errorf("upgrade state %s runs %s, which is not one of catalog.Upgrade", name, fn)
			}
			ran[fn] = true
		}
	}
	if len(ran) != len(catalog.Upgrade) || len(ran) != len(handlers.Upgrade(nil)) {
		t.Errorf("the upgrade state machine runs %d functions, catalog.Upgrade has %d, handlers.Upgrade %d",
			len(ran), len(catalog.Upgrade), len(handlers.Upgrade(nil)))
	}
	text := func(raw json.RawMessage) string {
		var s string
		_ = json.Unmarshal(raw, &s)
		return s
	}
	for _, f := range catalog.Upgrade {
		ev := evs[f.LogicalID]
		s, ok := states[f.State]
		if !ok || s.Type != "Task" || s.Resource != "${"+f.Substitution()+"}" {
			t.Errorf("upgrade.asl.json has no Task %s running ${%s}", f.State, f.Substitution())
			continue
		}
		in, ok := ev.fields(t)
		if !ok {
			continue
		}
		var want []string
		runID := in["runId"]
		switch m, isItem := mapOf[f.State]; {
		case s.Parameters != nil:
			want = fieldNames(s.Parameters)
		case f.State == def.StartAt:
			// The execution's input, as workflow.Client.StartUpgrade starts it (the test
			// compares it with the execution StartUpgradeFunction's event starts).
			want = []string{"runId"}
		case isItem && m.ItemBatcher != nil && m.ItemSelector != nil:
			want = []string{"BatchInput", "Items"}
			var batch struct {
				Items      []map[string]json.RawMessage `json:"Items"`
				BatchInput map[string]json.RawMessage   `json:"BatchInput"`
			}
			if err := json.Unmarshal(ev.raw, &batch); err != nil || len(batch.Items) == 0 {
				t.Errorf("%s: a batch has Items (%v)", ev.path, err)
				continue
			}
			for i, it := range batch.Items {
				if keys := slices.Sorted(maps.Keys(it)); !slices.Equal(keys, fieldNames(m.ItemSelector)) {
					t.Errorf("%s: Items[%d] has the fields %v; the Map's ItemSelector makes %v", ev.path, i, keys, fieldNames(m.ItemSelector))
				}
				if id := text(it["tenantId"]); id != exampleTenantID {
					t.Errorf("%s: Items[%d].tenantId %q, want %s", ev.path, i, id, exampleTenantID)
				}
			}
			if keys := slices.Sorted(maps.Keys(batch.BatchInput)); !slices.Equal(keys, fieldNames(m.ItemBatcher.BatchInput)) {
				t.Errorf("%s: BatchInput has the fields %v; the Map's ItemBatcher passes %v", ev.path, keys, fieldNames(m.ItemBatcher.BatchInput))
			}
			runID = batch.BatchInput["runId"]
		default:
			t.Errorf("upgrade state %s: the check cannot tell what the state passes %s", f.State, f.LogicalID)
			continue
		}
		if keys := slices.Sorted(maps.Keys(in)); !slices.Equal(keys, want) {
			t.Errorf("%s has the fields %v; state %s passes %v", ev.path, keys, f.State, want)
		}
		if id := text(runID); id != upgradeRunID {
			t.Errorf("%s: runId %q, want the seeded run %s", ev.path, id, upgradeRunID)
		}
	}
}

// checkAPIEvents holds each API event to its route in openapi.json and to what API
// Gateway's HTTP API (payload format 2.0, JWT authorizer) sends.
func checkAPIEvents(t *testing.T, evs map[string]event) {
	t.Helper()
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(api.OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	routes := map[string]string{} // operationId → route key
	for path, ops := range doc.Paths {
		for method, raw := range ops {
			var op struct {
				OperationID string `json:"operationId"`
			}
			if json.Unmarshal(raw, &op) == nil && op.OperationID != "" {
				routes[op.OperationID] = strings.ToUpper(method) + " " + path
			}
		}
	}
	for fn, opID := range apiOperations {
		ev := evs[fn]
		var req events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(ev.raw, &req); err != nil {
			t.Errorf("%s: %v", ev.path, err)
			continue
		}
		rc := req.RequestContext
		routeKey, ok := routes[opID]
		if !ok {
			t.Errorf("openapi.json has no operation %s", opID)
			continue
		}
		method, template, _ := strings.Cut(routeKey, " ")
		id := exampleTenantID
		switch fn {
		case catalog.RetryTenant.LogicalID:
			id = rollbackTenantID // the one that is FAILED once rolled back
		case catalog.GetUpgrade.LogicalID:
			id = upgradeRunID
		}
		wantPath := strings.Replace(template, "{id}", id, 1)
		check := func(what string, got, want any) {
			if got != want {
				t.Errorf("%s: %s is %v, want %v", ev.path, what, got, want)
			}
		}
		check("version", req.Version, "2.0")
		check("routeKey", req.RouteKey, routeKey)
		check("requestContext.routeKey", rc.RouteKey, routeKey)
		check("rawPath", req.RawPath, wantPath)
		check("requestContext.http.path", rc.HTTP.Path, wantPath)
		check("requestContext.http.method", rc.HTTP.Method, method)
		check("requestContext.stage", rc.Stage, "$default")
		check("requestContext.domainName", rc.DomainName, rc.APIID+".execute-api.us-east-1.amazonaws.com")
		check("requestContext.domainPrefix", rc.DomainPrefix, rc.APIID)
		check("headers.host", req.Headers["host"], rc.DomainName)
		check("headers.user-agent", req.Headers["user-agent"], rc.HTTP.UserAgent)
		check("headers.x-forwarded-for", req.Headers["x-forwarded-for"], rc.HTTP.SourceIP)
		check("headers.content-type", req.Headers["content-type"], "application/json")
		if f, _ := catalog.ByLogicalID(fn); f.Public {
			// The public route: API Gateway passes no authorizer, and the body carries the
			// activation token (a made-up one here, never a real one).
			if rc.Authorizer != nil || req.Headers["authorization"] != "" {
				t.Errorf("%s: the public route's event has an authorizer or an Authorization header", ev.path)
			}
			check("rawPath", req.RawPath, wantPath)
			check("requestContext.http.method", rc.HTTP.Method, method)
			check("headers.content-length", req.Headers["content-length"], strconv.Itoa(len(req.Body)))
			continue
		}
		// Never a real token in the repository: the authorizer has verified it, the
		// handlers read its claims from requestContext.
		check("headers.authorization", req.Headers["authorization"], "Bearer <redacted>")
		check("isBase64Encoded", req.IsBase64Encoded, false)
		if ts, err := time.Parse("02/Jan/2006:15:04:05 -0700", rc.Time); err != nil || ts.Unix() != rc.TimeEpoch/1000 {
			t.Errorf("%s: requestContext.time %q does not match timeEpoch %d", ev.path, rc.Time, rc.TimeEpoch)
		}
		for k := range req.Headers {
			if k != strings.ToLower(k) {
				t.Errorf("%s: header %q: HTTP APIs pass header names in lower case", ev.path, k)
			}
		}
		if strings.Contains(template, "{id}") {
			check("pathParameters.id", req.PathParameters["id"], id)
		} else if req.PathParameters != nil {
			t.Errorf("%s: pathParameters on a route without parameters", ev.path)
		}
		q, err := url.ParseQuery(req.RawQueryString)
		if err != nil {
			t.Errorf("%s: rawQueryString: %v", ev.path, err)
		}
		for k := range q {
			check("queryStringParameters."+k, req.QueryStringParameters[k], q.Get(k))
		}
		check("number of queryStringParameters", len(req.QueryStringParameters), len(q))
		if rc.Authorizer == nil || rc.Authorizer.JWT == nil {
			t.Errorf("%s: no requestContext.authorizer.jwt", ev.path)
			continue
		}
		claims := rc.Authorizer.JWT.Claims
		for _, c := range []string{"sub", "iss", "aud", "scope", "exp", "iat"} {
			if claims[c] == "" {
				t.Errorf("%s: JWT claim %s is missing", ev.path, c)
			}
		}
		check("scope claim", claims["scope"], adminScope)
		// The authorizer refuses a token outside its lifetime.
		iat, _ := strconv.ParseInt(claims["iat"], 10, 64)
		exp, _ := strconv.ParseInt(claims["exp"], 10, 64)
		if at := rc.TimeEpoch / 1000; at < iat || at >= exp {
			t.Errorf("%s: the request's time %s is outside the token's lifetime (iat %s, exp %s)", ev.path, rc.Time, claims["iat"], claims["exp"])
		}
		check("authorizer scopes", strings.Join(rc.Authorizer.JWT.Scopes, " "), adminScope)
		if method == http.MethodPost {
			check("headers.content-length", req.Headers["content-length"], strconv.Itoa(len(req.Body)))
		} else if req.Body != "" {
			t.Errorf("%s: a %s request with a body", ev.path, method)
		}
	}
}

// run drives the functions with their events, checking each outcome.
type run struct {
	t    *testing.T
	ctx  context.Context
	f    *fixture
	evs  map[string]event
	used map[string]bool
}

// invoke runs the function's handler on its event as the Lambda runtime does, and
// decodes the output into out. The handler failing means the event rotted.
func (r *run) invoke(fn string, out any) {
	r.t.Helper()
	r.used[fn] = true
	raw, err := r.f.catalog[fn].Invoke(r.ctx, r.evs[fn].raw)
	if err != nil {
		r.t.Fatalf("%s on %s: %T: %v", fn, r.evs[fn].path, err, err)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		r.t.Fatalf("%s: output %s: %v", fn, raw, err)
	}
}

// call invokes an API function and checks its status; it returns the decoded body and
// the response.
func (r *run) call(fn string, wantStatus int, body any) events.APIGatewayV2HTTPResponse {
	r.t.Helper()
	var resp events.APIGatewayV2HTTPResponse
	r.invoke(fn, &resp)
	if resp.StatusCode != wantStatus {
		r.t.Fatalf("%s answered %d, want %d: %s", fn, resp.StatusCode, wantStatus, resp.Body)
	}
	if ct := resp.Headers["Content-Type"]; ct != "application/json" {
		r.t.Errorf("%s: Content-Type %q", fn, ct)
	}
	if err := decodeStrict([]byte(resp.Body), body); err != nil {
		r.t.Fatalf("%s: body %s: %v", fn, resp.Body, err)
	}
	return resp
}

func (r *run) tenant(id string) tenant.Tenant {
	r.t.Helper()
	tn, err := r.f.store.Get(r.ctx, uuid.MustParse(id))
	if err != nil {
		r.t.Fatalf("tenant %s: %v", id, err)
	}
	return tn
}

// contractID is the contract id StoreContractAddressFunction's event stores.
func (r *run) contractID() string {
	var in pipeline.StoreContractAddressInput
	_ = json.Unmarshal(r.evs[catalog.StoreContractAddress.LogicalID].raw, &in)
	return in.ContractID
}

func (r *run) schemaName(id string) string {
	r.t.Helper()
	var name string
	switch id {
	case exampleTenantID:
		name = exampleName
	case rollbackTenantID:
		name = "Example Lakeside Clinic"
	}
	return tenant.SchemaName(name, uuid.MustParse(id))
}

// checkSeed holds seed.sql to what the API's reservation would have written.
func (r *run) checkSeed() {
	r.t.Helper()
	for _, id := range []string{exampleTenantID, rollbackTenantID} {
		tn := r.tenant(id)
		reg, err := tenant.Registration{Name: tn.Name, AdminEmail: tn.AdminEmail,
			AdminFirstName: tn.AdminFirstName, AdminLastName: tn.AdminLastName}.Normalize()
		switch {
		case err != nil:
			r.t.Errorf("seed.sql: tenant %s is not a valid registration: %v", id, err)
		case reg.Name != tn.Name || reg.AdminEmail != tn.AdminEmail || reg.AdminFirstName != tn.AdminFirstName || reg.AdminLastName != tn.AdminLastName:
			r.t.Errorf("seed.sql: tenant %s is not stored normalized: %+v", id, reg)
		case tn.Slug != tenant.Slug(tn.Name):
			r.t.Errorf("seed.sql: tenant %s has slug %q, want %q", id, tn.Slug, tenant.Slug(tn.Name))
		case tn.Status != tenant.StatusPending:
			r.t.Errorf("seed.sql: tenant %s is %s, want PENDING", id, tn.Status)
		case uuid.MustParse(id).Version() != 7:
			r.t.Errorf("tenant id %s is not a UUIDv7 like the ones tenant.NewID makes", id)
		}
	}
	if r.tenant(exampleTenantID).Name != exampleName {
		r.t.Errorf("seed.sql names the example tenant %q, the test %q", r.tenant(exampleTenantID).Name, exampleName)
	}

	// The upgrade run, as POST /admin/upgrades without a body records it.
	run, err := r.f.store.UpgradeRun(r.ctx, uuid.MustParse(upgradeRunID))
	_, isExecution := stateMachineOf(run.ExecutionArn)
	switch {
	case err != nil:
		r.t.Errorf("seed.sql: upgrade run %s: %v", upgradeRunID, err)
	case run.Status != store.RunRunning || run.DryRun || !slices.Equal(run.Statuses, upgrade.DefaultStatuses):
		r.t.Errorf("seed.sql: upgrade run %s is %s over %v (dry run %v), want RUNNING over %v", upgradeRunID, run.Status,
			run.Statuses, run.DryRun, upgrade.DefaultStatuses)
	case run.TargetVersion != tenantdb.LatestVersion():
		r.t.Errorf("seed.sql: the upgrade run's target_version is %d, the newest tenant migration %d: update seed.sql",
			run.TargetVersion, tenantdb.LatestVersion())
	case !isExecution || !strings.HasSuffix(run.ExecutionArn, ":"+upgradeRunID):
		r.t.Errorf("seed.sql: the upgrade run's execution %q is not one named after the run", run.ExecutionArn)
	case uuid.MustParse(upgradeRunID).Version() != 7:
		r.t.Errorf("upgrade run id %s is not a UUIDv7 like the ones CreateUpgradeRun makes", upgradeRunID)
	}
}

// rollback takes the rollback's tenant as far as its contract deployment, where its event
// says it failed, and runs RollbackFunction's event.
func (r *run) rollback() {
	r.t.Helper()
	s, ctx := r.f.steps, r.ctx
	arn := "arn:aws:states:us-east-1:123456789012:execution:tenant-provisioning:" + rollbackTenantID
	if _, err := s.CreateTenantRecord(ctx, pipeline.CreateTenantRecordInput{TenantID: rollbackTenantID, ExecutionArn: arn}); err != nil {
		r.t.Fatal(err)
	}
	in := pipeline.TenantInput{TenantID: rollbackTenantID, ExecutionArn: arn}
	if _, err := s.CreateSchema(ctx, in); err != nil {
		r.t.Fatal(err)
	}
	if _, err := s.RunMigrations(ctx, in); err != nil {
		r.t.Fatal(err)
	}
	if _, err := s.SeedRolesAndUser(ctx, in); err != nil {
		r.t.Fatal(err)
	}

	var out pipeline.RollbackOutput
	r.invoke(catalog.Rollback.LogicalID, &out)
	name := r.schemaName(rollbackTenantID)
	wantUndone := []string{"schema dropped", "role dropped"}
	if out.Status != string(tenant.StatusFailed) || out.Outcome != "clean" || !slices.Equal(out.Undone, wantUndone) || !out.AdminNotified {
		r.t.Errorf("Rollback: %+v, want FAILED, clean, %v undone, admin notified", out, wantUndone)
	}
	var failure pipeline.RollbackInput
	_ = json.Unmarshal(r.evs[catalog.Rollback.LogicalID].raw, &failure)
	tn := r.tenant(rollbackTenantID)
	if want := pipeline.SanitizeError(failure.Error); tn.Status != tenant.StatusFailed || tn.ProvisioningError != want {
		r.t.Errorf("after Rollback the tenant is %s with error %q, want FAILED with %q", tn.Status, tn.ProvisioningError, want)
	}
	if schema, role := testdb.Exists(ctx, r.t, r.f.pool, name); schema || role {
		r.t.Errorf("after Rollback: schema exists %v, role exists %v", schema, role)
	}
	if sent := r.f.sentTo(rollbackAdmin); len(sent) != 1 {
		r.t.Errorf("after Rollback the admin was sent %q, want one failure notice", sent)
	}
}

// onboard runs the example tenant through the pipeline, each step on its own event, after
// starting its execution as the create route does (named after the tenant).
func (r *run) onboard(claim pipeline.CreateTenantRecordInput) {
	r.t.Helper()
	ctx := r.ctx
	started, err := r.f.workflow.Start(ctx, uuid.MustParse(exampleTenantID))
	if err != nil {
		r.t.Fatalf("start the example tenant's execution: %v", err)
	}
	lastField := func(arn string) string { return arn[strings.LastIndexByte(arn, ':')+1:] }
	if lastField(started.Arn) != lastField(claim.ExecutionArn) {
		r.t.Errorf("Step Functions names the execution %s, the event %s", started.Arn, claim.ExecutionArn)
	}

	var claimed pipeline.CreateTenantRecordOutput
	r.invoke(catalog.CreateTenantRecord.LogicalID, &claimed)
	if claimed.TenantID != exampleTenantID || claimed.Status != string(tenant.StatusProvisioning) {
		r.t.Errorf("CreateTenantRecord: %+v", claimed)
	}
	if got := r.tenant(exampleTenantID).ExecutionArn; got != claim.ExecutionArn {
		r.t.Errorf("the tenant records execution %q, want the event's", got)
	}

	var created pipeline.CreateSchemaOutput
	r.invoke(catalog.CreateSchema.LogicalID, &created)
	if !created.Created {
		r.t.Errorf("CreateSchema: %+v", created)
	}
	var migrated pipeline.RunMigrationsOutput
	r.invoke(catalog.RunMigrations.LogicalID, &migrated)
	if migrated.FromVersion != 0 || migrated.ToVersion < 1 {
		r.t.Errorf("RunMigrations: %+v", migrated)
	}
	var seeded tenantdb.SeedResult
	r.invoke(catalog.SeedRolesAndUser.LogicalID, &seeded)
	if !seeded.AdminCreated || seeded.RolesCreated == 0 {
		r.t.Errorf("SeedRolesAndUser: %+v", seeded)
	}

	var deployed soroban.Result
	r.invoke(catalog.DeploySorobanContract.LogicalID, &deployed)
	contract := r.contractID()
	if !deployed.Created || deployed.ContractID != contract {
		r.t.Errorf("DeploySorobanContract deployed %s (created %v); StoreContractAddressFunction's event stores %s",
			deployed.ContractID, deployed.Created, contract)
	}
	var stored pipeline.StoreContractAddressOutput
	r.invoke(catalog.StoreContractAddress.LogicalID, &stored)
	if got := r.tenant(exampleTenantID).ContractID; got != contract || stored.ContractID != contract {
		r.t.Errorf("the tenant's contract is %q (output %q), want %s", got, stored.ContractID, contract)
	}

	var activated pipeline.ActivateTenantOutput
	r.invoke(catalog.ActivateTenant.LogicalID, &activated)
	if activated.Status != string(tenant.StatusActive) || r.tenant(exampleTenantID).Status != tenant.StatusActive {
		r.t.Errorf("ActivateTenant: %+v", activated)
	}
	var sent pipeline.SendWelcomeEmailOutput
	r.invoke(catalog.SendWelcomeEmail.LogicalID, &sent)
	if mail := r.f.sentTo(exampleAdmin); sent.MessageID == "" || len(mail) != 1 {
		r.t.Errorf("SendWelcomeEmail: %+v; the outbox has %q for the admin", sent, mail)
	}
}

// upgradeSummary is an upgrade run as the upgrade's last step and the upgrade routes
// report it.
type upgradeSummary struct {
	RunID         string            `json:"runId"`
	Status        string            `json:"status"`
	DryRun        bool              `json:"dryRun"`
	Statuses      []string          `json:"statuses"`
	TargetVersion int32             `json:"targetVersion"`
	Total         int               `json:"total"`
	Upgraded      int               `json:"upgraded"`
	Current       int               `json:"current"`
	Planned       int               `json:"planned"`
	Failed        int               `json:"failed"`
	NotReached    int               `json:"notReached"`
	Failures      []json.RawMessage `json:"failures"`
	MoreFailures  bool              `json:"moreFailures"`
	Error         string            `json:"error"`
	ExecutionArn  string            `json:"executionArn"`
	CreatedAt     string            `json:"createdAt"`
	FinishedAt    *string           `json:"finishedAt"`
	Message       string            `json:"message"`
}

// upgrade takes the example tenant back to before the newest tenant migration and runs the
// seeded upgrade run on the upgrade steps' events (list, migrate the batch, summarize),
// reads the run back through the API, then starts another run through the API.
func (r *run) upgrade() {
	r.t.Helper()
	ctx, latest := r.ctx, tenantdb.LatestVersion()
	runID, tenantID := uuid.MustParse(upgradeRunID), uuid.MustParse(exampleTenantID)
	seeded, err := r.f.store.UpgradeRun(ctx, runID)
	if err != nil {
		r.t.Fatal(err)
	}
	schema := r.schemaName(exampleTenantID)
	onboarded := r.schemaShape(schema)
	r.setBehind(schema)

	var listed upgrade.Listed
	r.invoke(catalog.ListTenantsToUpgrade.LogicalID, &listed)
	if !slices.Equal(listed.TenantIDs, []uuid.UUID{tenantID}) || listed.Cursor == nil || *listed.Cursor != tenantID || listed.More {
		r.t.Errorf("ListTenantsToUpgrade: %+v, want the example tenant alone, on the last page", listed)
	}
	if got := r.upgradeResult(runID, tenantID); got != store.OutcomePending+" <nil> <nil>" {
		r.t.Errorf("after ListTenantsToUpgrade the example tenant's result is %s, want PENDING", got)
	}

	var counts upgrade.Counts
	r.invoke(catalog.MigrateTenantBatch.LogicalID, &counts)
	if want := (upgrade.Counts{ToVersion: latest, Upgraded: 1}); counts != want {
		r.t.Errorf("MigrateTenantBatch: %+v, want %+v", counts, want)
	}
	v, err := tenantdb.Version(ctx, r.f.pool, tenantdb.Names{TenantID: tenantID, Schema: schema})
	if rec := r.tenant(exampleTenantID).SchemaVersion; err != nil || v != latest || rec == nil || *rec != latest {
		r.t.Errorf("after MigrateTenantBatch the schema is at version %d (%v), the control plane records %v; want %d", v, err, rec, latest)
	}
	if got, want := r.upgradeResult(runID, tenantID), fmt.Sprintf("%s %d %d", store.OutcomeUpgraded, latest-1, latest); got != want {
		r.t.Errorf("after MigrateTenantBatch the example tenant's result is %s, want %s", got, want)
	}
	if got := r.schemaShape(schema); !slices.Equal(got, onboarded) {
		r.t.Errorf("after MigrateTenantBatch the schema has %v; onboarding made %v", got, onboarded)
	}

	checkRun := func(who string, s upgradeSummary) {
		r.t.Helper()
		if s.RunID != upgradeRunID || s.Status != store.RunSucceeded || s.DryRun || !slices.Equal(s.Statuses, []string{"ACTIVE"}) ||
			s.TargetVersion != latest || s.Total != 1 || s.Upgraded != 1 || s.Current+s.Planned+s.Failed+s.NotReached != 0 ||
			len(s.Failures) != 0 || s.MoreFailures || s.Error != "" || s.ExecutionArn != seeded.ExecutionArn || s.FinishedAt == nil {
			r.t.Errorf("%s: %+v, want the seeded run SUCCEEDED, the example tenant upgraded", who, s)
		}
	}
	var summary upgradeSummary
	r.invoke(catalog.SummarizeUpgrade.LogicalID, &summary)
	checkRun("SummarizeUpgrade", summary)
	if run, err := r.f.store.UpgradeRun(ctx, runID); err != nil || run.Status != store.RunSucceeded || run.FinishedAt == nil {
		r.t.Errorf("after SummarizeUpgrade the run is %s (%v), want SUCCEEDED", run.Status, err)
	}
	var got upgradeSummary
	r.call(catalog.GetUpgrade.LogicalID, http.StatusOK, &got)
	checkRun("GetUpgrade", got)
	if got.CreatedAt != summary.CreatedAt || got.FinishedAt == nil || summary.FinishedAt == nil || *got.FinishedAt != *summary.FinishedAt {
		r.t.Errorf("GetUpgrade: created %s, finished %v; the summary says %s, %v", got.CreatedAt, got.FinishedAt, summary.CreatedAt, summary.FinishedAt)
	}

	// The seeded run has ended, so another may start: the event's dry run over the ACTIVE
	// and ARCHIVED tenants, whose execution starts on the test's upgrade state machine.
	var started upgradeSummary
	resp := r.call(catalog.StartUpgrade.LogicalID, http.StatusAccepted, &started)
	newID, err := uuid.Parse(started.RunID)
	if err != nil || newID.Version() != 7 || newID == runID || resp.Headers["Location"] != "/admin/upgrades/"+started.RunID {
		r.t.Fatalf("StartUpgrade: run %q, Location %q; want a new run's UUIDv7 and its URL", started.RunID, resp.Headers["Location"])
	}
	wantArn, _ := workflow.ExecutionArn(r.f.upgradeStateMachineArn, started.RunID)
	if started.Status != store.RunRunning || !started.DryRun || !slices.Equal(started.Statuses, []string{"ACTIVE", "ARCHIVED"}) ||
		started.TargetVersion != latest || started.Total != 0 || started.ExecutionArn != wantArn || started.FinishedAt != nil || started.Message == "" {
		r.t.Errorf("StartUpgrade: %+v, want a RUNNING dry run over ACTIVE and ARCHIVED, execution %s", started, wantArn)
	}
	run, err := r.f.store.UpgradeRun(ctx, newID)
	if err != nil || run.Status != store.RunRunning || !run.DryRun || run.TargetVersion != latest || run.ExecutionArn != wantArn ||
		!slices.Equal(run.Statuses, []tenant.Status{tenant.StatusActive, tenant.StatusArchived}) {
		r.t.Errorf("StartUpgrade recorded %+v (%v)", run, err)
	}
	// Its execution has the run id alone as its input: what ListTenantsToUpgradeFunction's
	// event stands for.
	exec, err := r.f.sfn.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(wantArn)})
	if err != nil {
		r.t.Fatalf("StartUpgrade's execution %s: %v", wantArn, err)
	}
	var input, event map[string]string
	if err := json.Unmarshal([]byte(aws.ToString(exec.Input)), &input); err != nil {
		r.t.Errorf("StartUpgrade's execution input %s: %v", aws.ToString(exec.Input), err)
	}
	_ = json.Unmarshal(r.evs[catalog.ListTenantsToUpgrade.LogicalID].raw, &event)
	if exec.Status != "RUNNING" || input["runId"] != started.RunID || !slices.Equal(slices.Sorted(maps.Keys(input)), slices.Sorted(maps.Keys(event))) {
		r.t.Errorf("StartUpgrade's execution is %s with input %v; want RUNNING, with the fields of %s for the new run",
			exec.Status, input, r.evs[catalog.ListTenantsToUpgrade.LogicalID].path)
	}
}

// setBehind makes the example tenant look onboarded before the newest tenant migration:
// the migration's own down part undoes it, and the schema and the control plane record
// the version before it, as RunMigrations would have left them then.
func (r *run) setBehind(schema string) {
	r.t.Helper()
	files, err := filepath.Glob("../internal/tenantdb/migrations/*.sql")
	if err != nil || len(files) != int(tenantdb.LatestVersion()) {
		r.t.Fatalf("tenant migrations: %d files (%v), tenantdb has %d", len(files), err, tenantdb.LatestVersion())
	}
	slices.Sort(files)
	raw, err := os.ReadFile(files[len(files)-1])
	if err != nil {
		r.t.Fatal(err)
	}
	_, down, _ := strings.Cut(string(raw), "---- create above / drop below ----")
	ident := pgx.Identifier{schema}.Sanitize()
	down = strings.NewReplacer("{{.schema}}", ident, "{{.role}}", ident).Replace(down)
	if strings.TrimSpace(down) == "" || strings.Contains(down, "{{") {
		r.t.Fatalf("%s has no down part the test can undo it with", files[len(files)-1])
	}
	err = pgx.BeginFunc(r.ctx, r.f.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(r.ctx, down); err != nil {
			return err
		}
		if _, err := tx.Exec(r.ctx, `UPDATE `+pgx.Identifier{schema, tenantdb.VersionTableName}.Sanitize()+` SET version = version - 1`); err != nil {
			return err
		}
		_, err := tx.Exec(r.ctx, `UPDATE tenants SET schema_version = schema_version - 1 WHERE id = $1`, exampleTenantID)
		return err
	})
	if err != nil {
		r.t.Fatalf("undo %s: %v", files[len(files)-1], err)
	}
}

// schemaShape lists the schema's columns and indexes.
func (r *run) schemaShape(schema string) []string {
	r.t.Helper()
	rows, err := r.f.pool.Query(r.ctx, `
		SELECT format('column %s.%s %s', table_name, column_name, data_type) FROM information_schema.columns WHERE table_schema = $1
		UNION ALL
		SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = $1
		ORDER BY 1`, schema)
	if err != nil {
		r.t.Fatal(err)
	}
	shape, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(shape) == 0 {
		r.t.Fatalf("schema %s: %d columns and indexes (%v)", schema, len(shape), err)
	}
	return shape
}

// upgradeResult is the run's result row for the tenant: "OUTCOME from to".
func (r *run) upgradeResult(runID, tenantID uuid.UUID) string {
	r.t.Helper()
	var outcome string
	var from, to *int32
	err := r.f.pool.QueryRow(r.ctx, `SELECT outcome, from_version, to_version FROM upgrade_results WHERE run_id = $1 AND tenant_id = $2`,
		runID, tenantID).Scan(&outcome, &from, &to)
	if err != nil {
		return "none (" + err.Error() + ")"
	}
	show := func(v *int32) string {
		if v == nil {
			return "<nil>"
		}
		return strconv.Itoa(int(*v))
	}
	return outcome + " " + show(from) + " " + show(to)
}

// adminAPI runs the API functions' events: create another tenant, then list, read, follow
// and archive the example tenant.
func (r *run) adminAPI(claim pipeline.CreateTenantRecordInput) {
	r.t.Helper()
	var created struct {
		TenantID     uuid.UUID `json:"tenantId"`
		ExecutionArn string    `json:"executionArn"`
		Status       string    `json:"status"`
		StatusURL    string    `json:"statusUrl"`
		Message      string    `json:"message"`
	}
	resp := r.call(catalog.CreateTenant.LogicalID, http.StatusAccepted, &created)
	if created.Status != "queued" || created.TenantID.Version() != 7 || resp.Headers["Location"] != "/admin/tenants/"+created.TenantID.String() {
		r.t.Errorf("CreateTenant: %+v, Location %q", created, resp.Headers["Location"])
	}
	if want, _ := r.f.workflowArn(created.TenantID.String()); created.ExecutionArn != want {
		r.t.Errorf("CreateTenant started %s, want %s", created.ExecutionArn, want)
	}
	if tn := r.tenant(created.TenantID.String()); tn.Name != createdName || tn.AdminEmail != createdAdmin || tn.Status != tenant.StatusPending {
		r.t.Errorf("CreateTenant reserved %q <%s>, %s", tn.Name, tn.AdminEmail, tn.Status)
	}

	var list struct {
		Total           int64 `json:"total"`
		TotalIsEstimate bool  `json:"totalIsEstimate"`
		Tenants         []struct {
			ID            string  `json:"id"`
			Name          string  `json:"name"`
			Status        string  `json:"status"`
			SchemaName    *string `json:"schemaName"`
			SchemaVersion *int32  `json:"schemaVersion"`
			SchemaCurrent bool    `json:"schemaCurrent"`
			CreatedAt     string  `json:"createdAt"`
			UpdatedAt     string  `json:"updatedAt"`
		} `json:"tenants"`
		NextCursor *string `json:"nextCursor"`
	}
	r.call(catalog.ListTenants.LogicalID, http.StatusOK, &list)
	if list.Total != 1 || len(list.Tenants) != 1 || list.Tenants[0].ID != exampleTenantID || list.Tenants[0].Status != "ACTIVE" {
		r.t.Errorf("ListTenants (status=ACTIVE): %+v, want the example tenant alone", list)
	}

	var got map[string]any
	r.call(catalog.GetTenant.LogicalID, http.StatusOK, &got)
	if got["id"] != exampleTenantID || got["status"] != "ACTIVE" || got["adminEmail"] != exampleAdmin ||
		got["sorobanContractId"] != r.contractID() || got["executionArn"] != claim.ExecutionArn {
		r.t.Errorf("GetTenant: %v", got)
	}

	var status struct {
		TenantID      string `json:"tenantId"`
		TenantName    string `json:"tenantName"`
		OverallStatus string `json:"overallStatus"`
		Logs          []struct {
			Step         string          `json:"step"`
			Status       string          `json:"status"`
			Attempt      int             `json:"attempt"`
			ExecutionArn *string         `json:"executionArn"`
			DurationMS   *int            `json:"durationMs"`
			Error        *string         `json:"error"`
			CreatedAt    string          `json:"createdAt"`
			Rollback     json.RawMessage `json:"rollback"`
		} `json:"logs"`
		ExecutionArn         *string         `json:"executionArn"`
		CreatedAt            string          `json:"createdAt"`
		UpdatedAt            string          `json:"updatedAt"`
		CompletedAt          *string         `json:"completedAt"`
		ProvisioningError    *string         `json:"provisioningError"`
		Execution            json.RawMessage `json:"execution"`
		ExecutionStatusError string          `json:"executionStatusError"`
	}
	r.call(catalog.GetProvisioningStatus.LogicalID, http.StatusOK, &status)
	var steps []string
	for _, l := range status.Logs {
		if l.Status != "COMPLETED" {
			r.t.Errorf("GetProvisioningStatus: step %s is %s", l.Step, l.Status)
		}
		steps = append(steps, l.Step)
	}
	if status.OverallStatus != "ACTIVE" || len(steps) != 8 || status.Execution == nil || status.ExecutionStatusError != "" {
		r.t.Errorf("GetProvisioningStatus: %s with steps %v, execution %s %s", status.OverallStatus, steps, status.Execution, status.ExecutionStatusError)
	}

	r.activation()

	var archived struct {
		TenantID        string `json:"tenantId"`
		Status          string `json:"status"`
		ArchivedAt      string `json:"archivedAt"`
		AlreadyArchived bool   `json:"alreadyArchived"`
	}
	r.call(catalog.ArchiveTenant.LogicalID, http.StatusOK, &archived)
	if archived.Status != "archived" || archived.AlreadyArchived || r.tenant(exampleTenantID).Status != tenant.StatusArchived {
		r.t.Errorf("ArchiveTenant: %+v", archived)
	}

	// The example tenant's trail, newest first: its archiving last, its reservation first.
	var trail struct {
		Records []struct {
			ID           int64           `json:"id"`
			At           string          `json:"at"`
			Actor        string          `json:"actor"`
			Action       string          `json:"action"`
			Outcome      string          `json:"outcome"`
			Problem      *string         `json:"problem"`
			TenantID     *string         `json:"tenantId"`
			RunID        *string         `json:"runId"`
			RequestID    *string         `json:"requestId"`
			SourceIP     *string         `json:"sourceIp"`
			UserAgent    *string         `json:"userAgent"`
			ExecutionArn *string         `json:"executionArn"`
			Details      json.RawMessage `json:"details"`
		} `json:"records"`
		NextCursor *string `json:"nextCursor"`
	}
	r.call(catalog.ListAudit.LogicalID, http.StatusOK, &trail)
	if n := len(trail.Records); n < 2 || trail.Records[0].Action != "tenant.archive" || trail.Records[n-1].Action != "tenant.reserved" {
		r.t.Errorf("ListAudit: %+v, want the example tenant's trail from tenant.reserved to tenant.archive", trail)
	}
	for _, rec := range trail.Records {
		if rec.TenantID == nil || *rec.TenantID != exampleTenantID {
			r.t.Errorf("ListAudit: a record of another tenant: %+v", rec)
		}
	}

	// The rolled-back tenant is retried: reserved again, under its first retry's execution.
	var retried struct {
		TenantID     uuid.UUID `json:"tenantId"`
		ExecutionArn string    `json:"executionArn"`
		Status       string    `json:"status"`
		StatusURL    string    `json:"statusUrl"`
		Message      string    `json:"message"`
	}
	r.call(catalog.RetryTenant.LogicalID, http.StatusAccepted, &retried)
	want, _ := r.f.workflowArn(rollbackTenantID + "-r1")
	if tn := r.tenant(rollbackTenantID); retried.ExecutionArn != want || tn.Status != tenant.StatusPending || tn.Retries != 1 {
		r.t.Errorf("RetryTenant: %+v (want execution %s); tenant %s after %d retries", retried, want, tn.Status, tn.Retries)
	}
}

// activation sends the example tenant's admin a new link (the welcome's stops working),
// then runs the activation event: its made-up token is refused; with the e-mailed link's
// real token in its place, the same request activates the account.
func (r *run) activation() {
	r.t.Helper()
	var resent struct {
		TenantID  string `json:"tenantId"`
		Status    string `json:"status"`
		ExpiresAt string `json:"expiresAt"`
	}
	link := regexp.MustCompile(`activate#tenant=` + exampleTenantID + `&token=([A-Za-z0-9_-]{43})`)
	tokens := func() map[string]bool {
		out := map[string]bool{}
		for _, m := range r.f.outbox.SentTo(exampleAdmin) {
			if l := link.FindStringSubmatch(m.Text); l != nil {
				out[l[1]] = true
			}
		}
		return out
	}
	welcome := tokens()
	r.call(catalog.ResendActivationEmail.LogicalID, http.StatusOK, &resent)
	if resent.TenantID != exampleTenantID || resent.Status != "sent" {
		r.t.Errorf("ResendActivationEmail: %+v", resent)
	}
	var token string
	for tok := range tokens() {
		if !welcome[tok] {
			token = tok
		}
	}
	if len(welcome) != 1 || token == "" {
		r.t.Fatalf("activation links: %d in the welcome, a new one in the resent e-mail: %v", len(welcome), token != "")
	}
	var refused events.APIGatewayV2HTTPResponse
	r.invoke(catalog.Activate.LogicalID, &refused)
	if refused.StatusCode != http.StatusBadRequest || !strings.Contains(refused.Body, "invalid-activation") {
		r.t.Errorf("ActivateAdminFunction with the event's made-up token: %d %s", refused.StatusCode, refused.Body)
	}
	var req events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(r.evs[catalog.Activate.LogicalID].raw, &req); err != nil {
		r.t.Fatal(err)
	}
	var body map[string]string
	if err := json.Unmarshal([]byte(req.Body), &body); err != nil {
		r.t.Fatal(err)
	}
	body["token"] = token
	b, _ := json.Marshal(body)
	req.Body = string(b)
	req.Headers["content-length"] = strconv.Itoa(len(req.Body))
	payload, _ := json.Marshal(req)
	raw, err := r.f.catalog[catalog.Activate.LogicalID].Invoke(r.ctx, payload)
	var ok events.APIGatewayV2HTTPResponse
	if err == nil {
		err = json.Unmarshal(raw, &ok)
	}
	if err != nil || ok.StatusCode != http.StatusOK || !strings.Contains(ok.Body, `"activated"`) {
		r.t.Errorf("ActivateAdminFunction with the link's token: %v %d %s", err, ok.StatusCode, ok.Body)
	}
}

// reconcile runs the schedule's event once the tenants look stale: the created tenant and
// the retried one have their executions running in the emulator, so both are left alone.
func (r *run) reconcile() {
	r.t.Helper()
	if _, err := r.f.pool.Exec(r.ctx, `UPDATE tenants SET updated_at = now() - interval '1 hour' WHERE status IN ('PENDING', 'PROVISIONING')`); err != nil {
		r.t.Fatal(err)
	}
	var rep reconcile.Report
	r.invoke(catalog.Reconcile.LogicalID, &rep)
	if rep.Checked != 2 || rep.StillRunning != 2 || len(rep.RolledBack)+len(rep.ReservationsFailed)+len(rep.NeedsOperator)+len(rep.Errors) != 0 {
		r.t.Errorf("ReconcileFunction: %+v, want both pending tenants left to their running executions", rep)
	}
}

// audit seals and signs what the run recorded, then verifies it with the read scope's
// request: the trail holds.
func (r *run) audit() {
	r.t.Helper()
	var sealed auditchain.Result
	r.invoke(catalog.SealAudit.LogicalID, &sealed)
	var rep auditchain.Report
	r.call(catalog.VerifyAuditTrail.LogicalID, http.StatusOK, &rep)
	if !rep.Verified || rep.Head != sealed.Head || rep.Fault != nil {
		r.t.Errorf("VerifyAuditTrail after a seal to %d: %+v", sealed.Head, rep)
	}
}

// publish runs the schedule's event on the publisher: every lifecycle event the run made
// reaches the bus, each valid against its type's schema and without an admin's address.
func (r *run) publish() {
	r.t.Helper()
	var rep outbox.Report
	r.invoke(catalog.PublishLifecycleEvents.LogicalID, &rep)
	if rep.Published == 0 || rep.Refused != 0 || rep.More {
		r.t.Errorf("PublishEventsFunction: %+v, want every event published", rep)
	}
	types := map[string]bool{}
	for _, ev := range r.f.bus.Receive(r.t, rep.Published) {
		bustest.Valid(r.t, ev)
		types[ev.Event.Type] = true
		for _, addr := range []string{exampleAdmin, rollbackAdmin, createdAdmin} {
			if strings.Contains(string(ev.Detail), addr) {
				r.t.Errorf("event %s holds an admin's e-mail address", ev.Event.ID)
			}
		}
	}
	for _, typ := range []string{outbox.TenantReserved, outbox.TenantProvisioningStarted, outbox.TenantActivated,
		outbox.TenantFailed, outbox.TenantArchived, outbox.TenantRetried, outbox.AdminActivated, outbox.UpgradeRunFinished} {
		if !types[typ] {
			r.t.Errorf("the events' run published no %s", typ)
		}
	}
}

// migrate checks MigrateControlPlaneFunction's event as the cfn package reads it, and against the
// custom resource template.yaml declares. The handler is not run: it would post its result
// to the event's (made-up) ResponseURL.
func (r *run) migrate() {
	r.t.Helper()
	r.used[migrateFunction] = true
	ev := r.evs[migrateFunction]
	var req cfnRequest
	if err := decodeStrict(ev.raw, &req); err != nil {
		r.t.Fatalf("%s: %v", ev.path, err)
	}
	u, err := url.Parse(req.ResponseURL)
	switch {
	case req.RequestType != cfn.RequestCreate:
		r.t.Errorf("%s: RequestType %q, want Create", ev.path, req.RequestType)
	case err != nil || u.Scheme != "https" || !strings.HasSuffix(u.Host, ".amazonaws.com") || u.Query().Get("X-Amz-Signature") == "":
		r.t.Errorf("%s: ResponseURL is not a presigned S3 URL", ev.path)
	case !strings.HasPrefix(req.StackID, "arn:aws:cloudformation:us-east-1:123456789012:stack/"):
		r.t.Errorf("%s: StackId %q", ev.path, req.StackID)
	case req.RequestID == "" || req.PhysicalResourceID != "":
		r.t.Errorf("%s: a Create has a RequestId, and no PhysicalResourceId yet", ev.path)
	case !strings.HasPrefix(req.ServiceToken, "arn:aws:lambda:us-east-1:123456789012:function:") ||
		req.ResourceProperties["ServiceToken"] != req.ServiceToken:
		r.t.Errorf("%s: ServiceToken %q must be the function's ARN, also in ResourceProperties", ev.path, req.ServiceToken)
	}
	for k, v := range req.ResourceProperties {
		if _, ok := v.(string); !ok {
			r.t.Errorf("%s: ResourceProperties.%s is %T; CloudFormation passes every property as a string", ev.path, k, v)
		}
	}

	// The resource whose ServiceToken is MigrateControlPlaneFunction's ARN.
	b, err := os.ReadFile("../template.yaml")
	if os.IsNotExist(err) {
		r.t.Log("no template.yaml: not checking the migrate event against the custom resource")
		return
	}
	if err != nil {
		r.t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		r.t.Fatalf("template.yaml: %v", err)
	}
	resources := yamlGet(doc.Content[0], "Resources")
	var id string
	for _, rid := range yamlKeys(resources) {
		tok := yamlGet(resources, rid, "Properties", "ServiceToken")
		if tok != nil && (tok.Value == migrateFunction+".Arn" || slices.ContainsFunc(tok.Content, func(n *yaml.Node) bool {
			return n.Value == migrateFunction+".Arn" || n.Value == migrateFunction
		})) {
			id = rid
		}
	}
	if id == "" {
		r.t.Errorf("template.yaml has no custom resource served by %s", migrateFunction)
		return
	}
	props := yamlGet(resources, id, "Properties")
	want := yamlKeys(props)
	slices.Sort(want)
	if got := slices.Sorted(maps.Keys(req.ResourceProperties)); !slices.Equal(got, want) {
		r.t.Errorf("%s: ResourceProperties %v; template.yaml's %s has %v", ev.path, got, id, want)
	}
	if typ := yamlGet(resources, id, "Type").Value; req.ResourceType != typ || req.LogicalResourceID != id {
		r.t.Errorf("%s: %s %s; template.yaml declares %s %s", ev.path, req.ResourceType, req.LogicalResourceID, typ, id)
	}
	if st := yamlGet(props, "ServiceTimeout"); st != nil && req.ResourceProperties["ServiceTimeout"] != st.Value {
		r.t.Errorf("%s: ServiceTimeout %v; template.yaml: %s", ev.path, req.ResourceProperties["ServiceTimeout"], st.Value)
	}
}
