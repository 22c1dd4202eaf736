package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/healthstack/tenant-provisioning/internal/api"
	"github.com/healthstack/tenant-provisioning/internal/auditchain"
	"github.com/healthstack/tenant-provisioning/internal/config"
	"github.com/healthstack/tenant-provisioning/internal/database"
	"github.com/healthstack/tenant-provisioning/internal/email"
	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/pipeline"
	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/testkit/awstest"
	"github.com/healthstack/tenant-provisioning/internal/testkit/testdb"
	"github.com/healthstack/tenant-provisioning/internal/testkit/testlog"
	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

const (
	scope     = "tenants/admin"
	readScope = "tenants/read"
)

// The admin's personal data on every test tenant: distinctive, so that the leak checks can
// look for it in every response and log line.
const (
	adminEmail = "quinn.zz9.admin@clinic-example.org"
	adminFirst = "Quinnzz"
	adminLast  = "Medicinezz"
)

// starter stands in for Step Functions, the one seam the tests fake: it records what it was
// asked to start and can be told to fail, or to fail after the execution claimed the tenant
// (a start whose answer was lost).
type starter struct {
	fail  error
	claim *pipeline.Steps // with fail: run CreateTenantRecord first, as the execution would

	mu      sync.Mutex
	started []uuid.UUID
	names   []string
}

func executionArn(id uuid.UUID) string { return executionArnNamed(id.String()) }

func executionArnNamed(name string) string {
	return "arn:aws:states:us-east-1:000000000000:execution:tenant-provisioning:" + name
}

func (s *starter) Start(ctx context.Context, id uuid.UUID, name string) (api.Started, error) {
	if s.claim != nil {
		if _, err := s.claim.CreateTenantRecord(ctx, pipeline.CreateTenantRecordInput{TenantID: id.String(), ExecutionArn: executionArnNamed(name)}); err != nil {
			return api.Started{}, err
		}
	}
	if s.fail != nil {
		return api.Started{}, s.fail
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.started = append(s.started, id)
	s.names = append(s.names, name)
	return api.Started{ExecutionArn: executionArnNamed(name)}, nil
}

func (s *starter) has(id uuid.UUID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Contains(s.started, id)
}

func (s *starter) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.started)
}

// describer stands in for Step Functions' DescribeExecution.
type describer struct {
	status api.ExecutionStatus
	err    error
}

func (d describer) Describe(ctx context.Context, arn string) (api.ExecutionStatus, error) {
	return d.status, d.err
}

// upgradeRuns stands in for the upgrade state machine's executions, as starter does for
// provisioning: it records the runs it started, and can be told to fail or to report the
// executions ended.
type upgradeRuns struct {
	fail    error
	status  string // what UpgradeStatus answers; "" is RUNNING
	missing bool   // UpgradeStatus finds no execution of the run's name

	mu      sync.Mutex
	started []uuid.UUID
}

func (u *upgradeRuns) StartUpgrade(ctx context.Context, runID uuid.UUID) (api.Started, error) {
	if u.fail != nil {
		return api.Started{}, u.fail
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.started = append(u.started, runID)
	return api.Started{ExecutionArn: "arn:aws:states:us-east-1:000000000000:execution:tenant-provisioning-upgrade:" + runID.String()}, nil
}

func (u *upgradeRuns) UpgradeStatus(ctx context.Context, runID uuid.UUID) (string, error) {
	if u.missing {
		return "", nil
	}
	if u.status == "" {
		return "RUNNING", nil
	}
	return u.status, nil
}

// env is one test database with the handlers on it. Every exchange made through it is
// checked against the OpenAPI document as it happens, and for leaks when the test ends.
type env struct {
	t       *testing.T
	ctx     context.Context
	pool    *pgxpool.Pool
	store   *store.Store
	steps   *pipeline.Steps
	logs    *testlog.Buffer
	log     *slog.Logger
	starter *starter
	runs    *upgradeRuns
	audit   *auditchain.Verifier // the trail's verifier, over a signing key and bucket of the env's own
	h       *api.Handler
	names   atomic.Int64

	mu   sync.Mutex
	seen []exchange
}

type exchange struct {
	req  events.APIGatewayV2HTTPRequest
	resp events.APIGatewayV2HTTPResponse
}

// newEnv serves the handlers from a pool of one connection, as a route's Lambda has
// (DB_MAX_CONNS=1): a handler that needed a second connection at once would hang there.
// The tests' own reads and writes go through another pool.
func newEnv(t *testing.T) *env {
	t.Helper()
	pool, url := testdb.NewWithURL(t)
	one, err := database.Open(context.Background(), database.Config{DSN: url, MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(one.Close)
	return newEnvWith(t, pool, one)
}

func newEnvOn(t *testing.T, pool *pgxpool.Pool) *env {
	t.Helper()
	return newEnvWith(t, pool, pool)
}

// newEnvWith builds the env on pool, with the handlers (and the steps they call) on
// handlerPool.
func newEnvWith(t *testing.T, pool, handlerPool *pgxpool.Pool) *env {
	t.Helper()
	logs := &testlog.Buffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	// E-mail through SES in the emulator, from a sender of the test's own: activation links
	// are sent and then read back.
	ses := sesv2.NewFromConfig(awstest.Config(t))
	from := awstest.UniqueName("noreply") + "@provisioning.example"
	if _, err := ses.CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String(from)}); err != nil {
		t.Fatal(err)
	}
	steps := pipeline.New(handlerPool, log, pipeline.WithEmail(email.NewSender(ses, from, ""), config.Email{
		AppBaseURL: "https://app.health.example", TenantURLTemplate: "https://app.health.example/t/{tenantId}", ActivationTTL: time.Hour}))
	e := &env{t: t, ctx: ctx, pool: pool, store: store.New(handlerPool), steps: steps,
		logs: logs, log: log, starter: &starter{}, runs: &upgradeRuns{}}
	e.audit = wiring.AuditVerifier(awstest.Config(t), awstest.NewAuditChain(t), e.store)
	e.h = e.handler(nil)
	t.Cleanup(e.checkLeaks)
	return e
}

// handler builds handlers on the env's database and log; edit changes the config.
func (e *env) handler(edit func(*api.Config)) *api.Handler {
	e.t.Helper()
	cfg := api.Config{Store: e.store, Starter: e.starter, Archiver: e.steps, Activations: e.steps, Upgrades: e.runs,
		AuditVerifier: e.audit, Log: e.log, RequiredScope: scope, ReadScope: readScope}
	if edit != nil {
		edit(&cfg)
	}
	h, err := api.New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return h
}

// name returns a tenant name no other test in the env uses.
func (e *env) name(prefix string) string {
	return fmt.Sprintf("%s %d", prefix, e.names.Add(1))
}

// do sends req through h's router (the default handlers when h is nil).
func (e *env) do(t *testing.T, h *api.Handler, req events.APIGatewayV2HTTPRequest) response {
	t.Helper()
	if h == nil {
		h = e.h
	}
	return e.call(t, h.Route, req)
}

// call sends req to one handler, as its own Lambda receives it.
func (e *env) call(t *testing.T, fn api.LambdaHandler, req events.APIGatewayV2HTTPRequest) response {
	t.Helper()
	resp, err := fn(e.ctx, req)
	if err != nil {
		t.Errorf("%s %s: handler returned error %v; failures must be responses", req.RequestContext.HTTP.Method, req.RawPath, err)
	}
	e.mu.Lock()
	e.seen = append(e.seen, exchange{req, resp})
	e.mu.Unlock()
	checkCommonHeaders(t, req, resp)
	conform(t, req, resp)
	return response{t: t, APIGatewayV2HTTPResponse: resp, req: req}
}

func checkCommonHeaders(t *testing.T, req events.APIGatewayV2HTTPRequest, resp events.APIGatewayV2HTTPResponse) {
	t.Helper()
	if got := resp.Headers["X-Request-Id"]; got == "" || (req.RequestContext.RequestID != "" && got != req.RequestContext.RequestID) {
		t.Errorf("X-Request-Id = %q, want %q", got, req.RequestContext.RequestID)
	}
	if got := resp.Headers["Cache-Control"]; got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
	wantType := "application/json"
	if resp.StatusCode >= 400 {
		wantType = "application/problem+json"
	}
	if got := resp.Headers["Content-Type"]; got != wantType {
		t.Errorf("status %d: Content-Type = %q, want %q", resp.StatusCode, got, wantType)
	}
	if resp.StatusCode >= 400 {
		var p problemBody
		if err := json.Unmarshal([]byte(resp.Body), &p); err != nil {
			t.Errorf("problem body: %v", err)
			return
		}
		if mustDoc(t).template(pathOf(req)) != "" && resp.StatusCode != 405 && p.Instance == "" {
			t.Errorf("problem of a route has no instance: %s", resp.Body)
		}
		if p.Status != resp.StatusCode || p.RequestID != resp.Headers["X-Request-Id"] ||
			!strings.HasPrefix(p.Type, "https://tenant-provisioning.dev/problems/") || p.Title == "" || p.Detail == "" {
			t.Errorf("problem %+v does not describe the response (status %d)", p, resp.StatusCode)
		}
	}
}

// checkLeaks holds every response and log line of the test to the personal-data rules: the
// admin's e-mail and names appear only in GetTenant's successful body; problems carry no
// database or driver text and no submitted value.
func (e *env) checkLeaks() {
	e.t.Helper()
	pii := []string{adminEmail, adminFirst, adminLast}
	logs := strings.ToLower(e.logs.String())
	for _, s := range pii {
		if strings.Contains(logs, strings.ToLower(s)) {
			e.t.Errorf("log output contains personal data %q", s)
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, x := range e.seen {
		body := strings.ToLower(x.resp.Body)
		isGetTenant := mustDoc(e.t).template(pathOf(x.req)) == "/admin/tenants/{id}" && x.req.RequestContext.HTTP.Method == "GET" && x.resp.StatusCode == 200
		if !isGetTenant {
			for _, s := range pii {
				if strings.Contains(body, strings.ToLower(s)) {
					e.t.Errorf("%s %s → %d: body contains personal data %q", x.req.RequestContext.HTTP.Method, x.req.RawPath, x.resp.StatusCode, s)
				}
			}
		}
		if x.resp.StatusCode < 400 {
			continue
		}
		for _, s := range []string{"sqlstate", "pgx", "postgres", "select ", "insert ", "tenants_live_name_key", "relation"} {
			if strings.Contains(body, s) {
				e.t.Errorf("%s %s → %d: problem contains %q: %s", x.req.RequestContext.HTTP.Method, x.req.RawPath, x.resp.StatusCode, s, x.resp.Body)
			}
		}
		var sent map[string]any
		if json.Unmarshal([]byte(x.req.Body), &sent) == nil {
			for _, v := range sent {
				if s, ok := v.(string); ok && len(s) >= 4 && strings.Contains(body, strings.ToLower(s)) {
					e.t.Errorf("%s %s → %d: problem echoes submitted value %q", x.req.RequestContext.HTTP.Method, x.req.RawPath, x.resp.StatusCode, s)
				}
			}
		}
	}
}

// pathOf is the request's path as the router reads it.
func pathOf(req events.APIGatewayV2HTTPRequest) string {
	if req.RawPath != "" {
		return req.RawPath
	}
	return req.RequestContext.HTTP.Path
}

// request builds the event API Gateway would deliver for an authorized admin.
func request(method, path string) events.APIGatewayV2HTTPRequest {
	rawPath, rawQuery, _ := strings.Cut(path, "?")
	req := events.APIGatewayV2HTTPRequest{
		Version:        "2.0",
		RawPath:        rawPath,
		RawQueryString: rawQuery,
		Headers:        map[string]string{"accept": "application/json"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RequestID: "req-" + uuid.NewString(),
			Stage:     "$default",
			// A client of its own (in 198.18.0.0/15, for tests) per request: the activation
			// route's per-client limit counts one attempt of each; its own test sets one.
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: rawPath,
				SourceIP: fmt.Sprintf("198.%d.%d.%d", 18+rand.IntN(2), rand.IntN(256), rand.IntN(256))},
			Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
				JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{
					Claims: map[string]string{"iss": testIssuer, "sub": "admin-subject-1", "scope": "openid " + scope},
				},
			},
		},
	}
	if rawQuery != "" {
		req.QueryStringParameters = map[string]string{}
		for _, kv := range strings.Split(rawQuery, "&") {
			k, v, _ := strings.Cut(kv, "=")
			if old, ok := req.QueryStringParameters[k]; ok {
				v = old + "," + v // API Gateway joins repeated parameters
			}
			req.QueryStringParameters[k] = v
		}
	}
	return req
}

func withBody(req events.APIGatewayV2HTTPRequest, contentType, body string) events.APIGatewayV2HTTPRequest {
	if contentType != "" {
		req.Headers["content-type"] = contentType
	}
	req.Body = body
	return req
}

func createRequest(body string) events.APIGatewayV2HTTPRequest {
	return withBody(request("POST", "/admin/tenants"), "application/json", body)
}

func registrationJSON(name string) string {
	b, _ := json.Marshal(map[string]string{"name": name, "adminEmail": adminEmail, "adminFirstName": adminFirst, "adminLastName": adminLast})
	return string(b)
}

type response struct {
	events.APIGatewayV2HTTPResponse
	req events.APIGatewayV2HTTPRequest
	t   *testing.T
}

func (r response) status(want int) response {
	r.t.Helper()
	if r.StatusCode != want {
		r.t.Fatalf("status = %d, want %d; body %s", r.StatusCode, want, r.Body)
	}
	return r
}

func (r response) decode(v any) {
	r.t.Helper()
	dec := json.NewDecoder(strings.NewReader(r.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		r.t.Fatalf("decode %T from %s: %v", v, r.Body, err)
	}
}

type problemBody struct {
	Type      string             `json:"type"`
	Title     string             `json:"title"`
	Status    int                `json:"status"`
	Detail    string             `json:"detail"`
	Instance  string             `json:"instance"`
	RequestID string             `json:"requestId"`
	Errors    []fault.FieldError `json:"errors"`
}

// problem asserts the response is the problem of type typ (after the common prefix) and
// returns it.
func (r response) problem(status int, typ string) problemBody {
	r.t.Helper()
	r.status(status)
	var p problemBody
	r.decode(&p)
	if want := "https://tenant-provisioning.dev/problems/" + typ; p.Type != want {
		r.t.Fatalf("problem type = %q, want %q", p.Type, want)
	}
	return p
}

func (p problemBody) fields() []string {
	var f []string
	for _, e := range p.Errors {
		f = append(f, e.Field)
	}
	return f
}

type acceptedBody struct {
	TenantID     uuid.UUID `json:"tenantId"`
	ExecutionArn string    `json:"executionArn"`
	Status       string    `json:"status"`
	StatusURL    string    `json:"statusUrl"`
	Message      string    `json:"message"`
}

// create onboards a tenant through the API and returns its id; the starter does not
// advance it, so it stays PENDING.
func (e *env) create(t *testing.T, name string) uuid.UUID {
	t.Helper()
	var b acceptedBody
	e.do(t, nil, createRequest(registrationJSON(name))).status(202).decode(&b)
	return b.TenantID
}

// provisioning runs the execution's first real step: the tenant becomes PROVISIONING.
func (e *env) provisioning(t *testing.T, name string) uuid.UUID {
	t.Helper()
	id := e.create(t, name)
	if _, err := e.steps.CreateTenantRecord(e.ctx, pipeline.CreateTenantRecordInput{TenantID: id.String(), ExecutionArn: executionArn(id)}); err != nil {
		t.Fatal(err)
	}
	return id
}

// active runs the database steps and ActivateTenant (the contract step is stood in for by
// storing a contract id): a complete tenant, which activation insists on.
func (e *env) active(t *testing.T, name string) uuid.UUID {
	t.Helper()
	id := e.provisioning(t, name)
	e.run(t, id, step(e.steps.CreateSchema), step(e.steps.RunMigrations), step(e.steps.SeedRolesAndUser),
		func(ctx context.Context, in pipeline.TenantInput) error {
			_, err := e.steps.StoreContractAddress(ctx, pipeline.StoreContractAddressInput{TenantID: in.TenantID, ExecutionArn: in.ExecutionArn, ContractID: testContractID})
			return err
		},
		step(e.steps.ActivateTenant))
	return id
}

// run runs steps on the tenant in order, failing the test on an error.
func (e *env) run(t *testing.T, id uuid.UUID, steps ...func(context.Context, pipeline.TenantInput) error) {
	t.Helper()
	for _, st := range steps {
		if err := st(e.ctx, pipelineInput(id)); err != nil {
			t.Fatal(err)
		}
	}
}

// step is a pipeline step's handler without its output.
func step[Out any](fn func(context.Context, pipeline.TenantInput) (Out, error)) func(context.Context, pipeline.TenantInput) error {
	return func(ctx context.Context, in pipeline.TenantInput) error {
		_, err := fn(ctx, in)
		return err
	}
}

// testContractID is a well-formed Soroban contract address.
const testContractID = "CBAS2W53ANLWBTYUF6UP4MCOWMLIAURLZZQH73KQFZ2HVCLWWFDWZB73"

// failed onboards a tenant whose execution could not be started.
func (e *env) failed(t *testing.T, name string) uuid.UUID {
	t.Helper()
	h := e.handler(func(c *api.Config) { c.Starter = &starter{fail: errors.New("throttled")} })
	e.do(t, h, createRequest(registrationJSON(name))).problem(503, "provisioning-not-started")
	var id uuid.UUID
	if err := e.pool.QueryRow(e.ctx, `SELECT id FROM tenants WHERE name = $1`, name).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

// rolledBack is a tenant whose execution failed after RunMigrations recorded its schema
// version, and which its rollback then marked FAILED.
func (e *env) rolledBack(t *testing.T, name string) uuid.UUID {
	t.Helper()
	id := e.provisioning(t, name)
	e.run(t, id, step(e.steps.CreateSchema), step(e.steps.RunMigrations))
	in := pipelineInput(id)
	if _, err := e.steps.Rollback(e.ctx, pipeline.RollbackInput{TenantID: in.TenantID, ExecutionArn: in.ExecutionArn,
		Error: &pipeline.CaughtError{Error: "TransientError", Cause: "seeding failed"}}); err != nil {
		t.Fatal(err)
	}
	return id
}

func (e *env) archived(t *testing.T, name string) uuid.UUID {
	t.Helper()
	id := e.active(t, name)
	e.do(t, nil, request("DELETE", "/admin/tenants/"+id.String())).status(200)
	return id
}

func pipelineInput(id uuid.UUID) pipeline.TenantInput {
	return pipeline.TenantInput{TenantID: id.String(), ExecutionArn: executionArn(id)}
}

// failingArchiver fails with an error whose text must never reach a response.
type failingArchiver struct{ err error }

func (a failingArchiver) Archive(ctx context.Context, id uuid.UUID) (pipeline.ArchiveResult, error) {
	return pipeline.ArchiveResult{}, a.err
}
