package api_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/healthstack/tenant-provisioning/internal/api"
	"github.com/healthstack/tenant-provisioning/internal/database"
	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/pipeline"
	"github.com/healthstack/tenant-provisioning/internal/testkit/testdb"
)

var openAPI = sync.OnceValues(func() (*document, error) { return parseDocument(api.OpenAPI) })

func mustDoc(t *testing.T) *document {
	t.Helper()
	d, err := openAPI()
	if err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	return d
}

var methods = []string{"get", "put", "post", "delete", "patch", "head", "options", "trace"}

// template returns the document's path template that rawPath matches, or "". A path the
// mux would clean first (a redirect) matches none: API Gateway does not clean paths.
func (d *document) template(rawPath string) string {
	path, err := url.PathUnescape(rawPath)
	if err != nil {
		return ""
	}
	h, _ := d.paths.Handler(&http.Request{Method: http.MethodGet, URL: &url.URL{Path: path, RawPath: rawPath}})
	tmpl, _ := h.(pathItem)
	return string(tmpl)
}

func (d *document) operation(tmpl, method string) map[string]any {
	item, _ := d.root["paths"].(map[string]any)[tmpl].(map[string]any)
	op, _ := item[strings.ToLower(method)].(map[string]any)
	return op
}

// declared lists every (method, path, status) the document declares.
func (d *document) declared() []string {
	var out []string
	for tmpl, item := range d.root["paths"].(map[string]any) {
		for _, m := range methods {
			op, ok := item.(map[string]any)[m].(map[string]any)
			if !ok {
				continue
			}
			for status := range op["responses"].(map[string]any) {
				out = append(out, strings.ToUpper(m)+" "+tmpl+" "+status)
			}
		}
	}
	sort.Strings(out)
	return out
}

// conform checks one exchange against the document: the operation and status are declared,
// the content type is the declared one, the body validates against its schema and every
// required header is there with a valid value. Responses to paths or methods the document
// has no operation for must be the local router's own 404 and 405 problems.
func conform(t *testing.T, req events.APIGatewayV2HTTPRequest, resp events.APIGatewayV2HTTPResponse) {
	t.Helper()
	d := mustDoc(t)
	method, tmpl := req.RequestContext.HTTP.Method, d.template(pathOf(req))
	if m, p, ok := strings.Cut(req.RouteKey, " "); ok { // a direct call, perhaps through a stage
		method, tmpl = m, p
	}
	op := d.operation(tmpl, method)
	if op == nil {
		if resp.StatusCode != 404 && resp.StatusCode != 405 {
			t.Errorf("%s %s: %d for a path or method the document does not declare", method, req.RawPath, resp.StatusCode)
		}
		checkBody(t, d, map[string]any{"$ref": "#/components/schemas/Problem"}, resp, "router "+method+" "+req.RawPath)
		return
	}
	where := fmt.Sprintf("%s %s %d", method, tmpl, resp.StatusCode)
	r, ok := op["responses"].(map[string]any)[strconv.Itoa(resp.StatusCode)].(map[string]any)
	if !ok {
		t.Errorf("%s: status not declared in openapi.json; body %s", where, resp.Body)
		return
	}
	r = d.resolve(r)
	content := r["content"].(map[string]any)
	if len(content) != 1 {
		t.Errorf("%s: declare exactly one media type", where)
		return
	}
	for mediaType, m := range content {
		if got := resp.Headers["Content-Type"]; got != mediaType {
			t.Errorf("%s: Content-Type %q, document says %q", where, got, mediaType)
		}
		checkBody(t, d, m.(map[string]any)["schema"].(map[string]any), resp, where)
	}
	headers, _ := r["headers"].(map[string]any)
	for name, h := range headers {
		h := d.resolve(h.(map[string]any))
		v, present := resp.Headers[name]
		if !present {
			if h["required"] == true {
				t.Errorf("%s: missing header %s", where, name)
			}
			continue
		}
		var value any = v
		if h["schema"].(map[string]any)["type"] == "integer" {
			value = json.Number(v)
		}
		for _, e := range d.validate(h["schema"].(map[string]any), value, name) {
			t.Errorf("%s: header %s", where, e)
		}
	}
}

func checkBody(t *testing.T, d *document, schema map[string]any, resp events.APIGatewayV2HTTPResponse, where string) {
	t.Helper()
	body, err := decodeJSON(resp.Body)
	if err != nil {
		t.Errorf("%s: body is not JSON: %v", where, err)
		return
	}
	for _, e := range d.validate(schema, body, "$") {
		t.Errorf("%s: %s\nbody: %s", where, e, resp.Body)
	}
}

// TestOpenAPIDocument checks the document's own shape: the version, resolvable references,
// schemas within the validated subset, parameters for every path template, a media type
// and schema for every response, and the bearer scheme with the required scope.
func TestOpenAPIDocument(t *testing.T) {
	t.Parallel()
	d := mustDoc(t)
	if d.root["openapi"] != "3.1.0" {
		t.Errorf("openapi = %v, want 3.1.0", d.root["openapi"])
	}
	var walk func(at string, node any)
	walk = func(at string, node any) {
		switch x := node.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				if _, err := d.pointer(ref); err != nil {
					t.Errorf("%s: %v", at, err)
				}
			}
			for k, v := range x {
				walk(at+"/"+k, v)
			}
		case []any:
			for i, v := range x {
				walk(fmt.Sprintf("%s/%d", at, i), v)
			}
		}
	}
	walk("#", d.root)

	for name, s := range d.root["components"].(map[string]any)["schemas"].(map[string]any) {
		checkSubset(t, "#/components/schemas/"+name, s.(map[string]any))
	}
	var schemas func(at string, node any)
	schemas = func(at string, node any) {
		switch x := node.(type) {
		case map[string]any:
			for k, v := range x {
				if k == "schema" {
					checkSubset(t, at+"/schema", v.(map[string]any))
					continue
				}
				schemas(at+"/"+k, v)
			}
		case []any:
			for i, v := range x {
				schemas(fmt.Sprintf("%s/%d", at, i), v)
			}
		}
	}
	schemas("#", d.root)

	for tmpl, item := range d.root["paths"].(map[string]any) {
		item := item.(map[string]any)
		var params []string
		for _, p := range asList(item["parameters"]) {
			p := d.resolve(p.(map[string]any))
			if p["in"] == "path" {
				params = append(params, "{"+p["name"].(string)+"}")
			}
		}
		for _, seg := range strings.Split(tmpl, "/") {
			if strings.HasPrefix(seg, "{") && !slices.Contains(params, seg) {
				t.Errorf("%s: path parameter %s not declared", tmpl, seg)
			}
		}
		for _, m := range methods {
			op, ok := item[m].(map[string]any)
			if !ok {
				continue
			}
			for status, r := range op["responses"].(map[string]any) {
				r := d.resolve(r.(map[string]any))
				content, _ := r["content"].(map[string]any)
				wantType := "application/json"
				if status >= "400" {
					wantType = "application/problem+json"
				}
				if _, ok := content[wantType].(map[string]any)["schema"]; !ok || len(content) != 1 {
					t.Errorf("%s %s %s: want one %s schema", m, tmpl, status, wantType)
				}
				if _, ok := r["headers"].(map[string]any)["X-Request-Id"]; !ok {
					t.Errorf("%s %s %s: X-Request-Id not declared", m, tmpl, status)
				}
			}
		}
	}

	bearer, _ := d.root["components"].(map[string]any)["securitySchemes"].(map[string]any)["bearerJwt"].(map[string]any)
	if bearer["type"] != "http" || bearer["scheme"] != "bearer" || bearer["bearerFormat"] != "JWT" {
		t.Errorf("bearerJwt = %v", bearer)
	}
	want := []any{map[string]any{"bearerJwt": []any{scope}}}
	if got := d.root["security"]; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("security = %v, want %v", got, want)
	}
}

// checkSubset refuses keywords the validator does not implement, and formats it does not
// check, so that the document cannot promise what no test holds the handlers to.
func checkSubset(t *testing.T, at string, s map[string]any) {
	t.Helper()
	for k, v := range s {
		switch {
		case slices.Contains(annotationKeywords, k):
		case !slices.Contains(validatedKeywords, k):
			t.Errorf("%s: keyword %q is outside the validated subset", at, k)
		case k == "format" && !slices.Contains(validatedFormats, v.(string)):
			t.Errorf("%s: format %q is not validated", at, v)
		case k == "additionalProperties" && v != false:
			t.Errorf("%s: additionalProperties may only be false", at)
		case k == "properties":
			for name, p := range v.(map[string]any) {
				checkSubset(t, at+"/properties/"+name, p.(map[string]any))
			}
		case k == "items":
			checkSubset(t, at+"/items", v.(map[string]any))
		}
	}
}

// TestOpenAPIRequestBody holds the documented request schema to what CreateTenant accepts.
func TestOpenAPIRequestBody(t *testing.T) {
	t.Parallel()
	d := mustDoc(t)
	schema := d.operation("/admin/tenants", "post")["requestBody"].(map[string]any)["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any)
	good, _ := decodeJSON(registrationJSON("Acme Health"))
	if errs := d.validate(schema, good, "$"); len(errs) > 0 {
		t.Errorf("a registration the API accepts does not validate: %v", errs)
	}
	for _, bad := range []string{`{"name": "Acme Health"}`, `{"name": "Acme Health", "adminEmail": "a@b.org", "adminFirstName": "A", "adminLastName": "B", "x": 1}`} {
		v, _ := decodeJSON(bad)
		if len(d.validate(schema, v, "$")) == 0 {
			t.Errorf("%s validates, but the API refuses it", bad)
		}
	}
}

// coverageCase produces one response; TestOpenAPICoverage needs every declared (method,
// path, status) produced by at least one of them.
type coverageCase struct {
	name string
	want int
	run  func(t *testing.T, e *env, fx *fixtures) response
}

// fixtures are the tenants and handlers the coverage cases share.
type fixtures struct {
	pending, provisioning, active, failed uuid.UUID
	down, broken                          *api.Handler // an unreachable database; one without its tables
	describing                            *api.Handler
}

func TestOpenAPICoverage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	fx := &fixtures{
		pending:      e.create(t, "Coverage Pending"),
		provisioning: e.provisioning(t, "Coverage Provisioning"),
		active:       e.active(t, "Coverage Active"),
		failed:       e.failed(t, "Coverage Failed"),
		down:         unreachableHandler(t, e),
		broken:       brokenHandler(t, e),
		describing: e.handler(func(c *api.Config) {
			stopped := time.Date(2025, 1, 2, 3, 4, 6, 0, time.FixedZone("CET", 3600))
			c.Describer = describer{status: api.ExecutionStatus{Status: "FAILED", StartedAt: stopped.Add(-time.Minute),
				StoppedAt: &stopped, Error: "ConflictError", Cause: "CREATE_TENANT_RECORD: tenant is FAILED, not PENDING"}}
		}),
	}
	id := func(u uuid.UUID) string { return "/admin/tenants/" + u.String() }
	routes := []struct{ method, path string }{
		{"POST", "/admin/tenants"}, {"GET", "/admin/tenants"},
		{"GET", "/admin/tenants/{id}"}, {"DELETE", "/admin/tenants/{id}"}, {"GET", "/admin/tenants/{id}/provisioning-status"},
		{"POST", "/admin/tenants/{id}/retry"}, {"POST", "/admin/tenants/{id}/activation-email"},
		{"POST", "/admin/upgrades"}, {"GET", "/admin/upgrades/{id}"}, {"GET", "/admin/audit"}, {"GET", "/admin/audit/verification"},
	}
	concrete := func(p string, u uuid.UUID) string { return strings.Replace(p, "{id}", u.String(), 1) }
	var cases []coverageCase
	for _, r := range routes {
		send := func(t *testing.T, h *api.Handler, edit func(*events.APIGatewayV2HTTPRequest)) response {
			req := request(r.method, concrete(r.path, fx.active))
			if r.method == "POST" && r.path == "/admin/tenants" {
				req = createRequest(registrationJSON(e.name("Coverage")))
			}
			if edit != nil {
				edit(&req)
			}
			return e.do(t, h, req)
		}
		cases = append(cases,
			coverageCase{r.method + " " + r.path + " unauthenticated", 401, func(t *testing.T, e *env, fx *fixtures) response {
				return send(t, nil, func(r *events.APIGatewayV2HTTPRequest) { r.RequestContext.Authorizer = nil })
			}},
			coverageCase{r.method + " " + r.path + " without scope", 403, func(t *testing.T, e *env, fx *fixtures) response {
				return send(t, nil, func(r *events.APIGatewayV2HTTPRequest) { r.RequestContext.Authorizer.JWT.Claims["scope"] = "openid" })
			}},
			coverageCase{r.method + " " + r.path + " database down", 503, func(t *testing.T, e *env, fx *fixtures) response {
				return send(t, fx.down, nil)
			}},
			coverageCase{r.method + " " + r.path + " tables missing", 500, func(t *testing.T, e *env, fx *fixtures) response {
				return send(t, fx.broken, nil)
			}},
		)
		if strings.Contains(r.path, "{id}") {
			cases = append(cases,
				coverageCase{r.method + " " + r.path + " bad id", 400, func(t *testing.T, e *env, fx *fixtures) response {
					return e.do(t, nil, request(r.method, strings.Replace(r.path, "{id}", "not-a-uuid", 1)))
				}},
				coverageCase{r.method + " " + r.path + " unknown id", 404, func(t *testing.T, e *env, fx *fixtures) response {
					return e.do(t, nil, request(r.method, concrete(r.path, uuid.New())))
				}},
			)
		}
	}
	cases = append(cases,
		coverageCase{"create", 202, func(t *testing.T, e *env, fx *fixtures) response {
			return e.do(t, nil, createRequest(registrationJSON(e.name("Coverage"))))
		}},
		coverageCase{"create invalid", 400, func(t *testing.T, e *env, fx *fixtures) response {
			return e.do(t, nil, createRequest(`{"name": "x", "adminEmail": "no", "adminFirstName": "", "adminLastName": ""}`))
		}},
		coverageCase{"create taken name", 409, func(t *testing.T, e *env, fx *fixtures) response {
			return e.do(t, nil, createRequest(registrationJSON("coverage ACTIVE")))
		}},
		coverageCase{"create too large", 413, func(t *testing.T, e *env, fx *fixtures) response {
			return e.do(t, nil, createRequest(strings.Repeat(" ", 16<<10+1)))
		}},
		coverageCase{"create not JSON", 415, func(t *testing.T, e *env, fx *fixtures) response {
			return e.do(t, nil, withBody(request("POST", "/admin/tenants"), "text/plain", registrationJSON("Coverage Text")))
		}},
		coverageCase{"create start fails", 503, func(t *testing.T, e *env, fx *fixtures) response {
			h := e.handler(func(c *api.Config) { c.Starter = &starter{fail: &fault.TransientError{Op: "start", Msg: "throttled"}} })
			return e.do(t, h, createRequest(registrationJSON(e.name("Coverage"))))
		}},
		coverageCase{"list", 200, func(t *testing.T, e *env, fx *fixtures) response {
			return e.do(t, nil, request("GET", "/admin/tenants?limit=2&status=pending"))
		}},
		coverageCase{"list bad limit", 400, func(t *testing.T, e *env, fx *fixtures) response {
			return e.do(t, nil, request("GET", "/admin/tenants?limit=0"))
		}},
		coverageCase{"audit list", 200, func(t *testing.T, e *env, fx *fixtures) response {
			return e.do(t, nil, request("GET", "/admin/audit?limit=2&tenantId="+fx.active.String()))
		}},
		coverageCase{"audit list bad time", 400, func(t *testing.T, e *env, fx *fixtures) response {
			return e.do(t, nil, request("GET", "/admin/audit?from=yesterday"))
		}},
		coverageCase{"get failed", 200, func(t *testing.T, e *env, fx *fixtures) response {
			return e.do(t, nil, request("GET", id(fx.failed)))
		}},
		coverageCase{"get provisioning", 200, func(t *testing.T, e *env, fx *fixtures) response {
			return e.do(t, nil, request("GET", id(fx.provisioning)))
		}},
		coverageCase{"status with execution", 200, func(t *testing.T, e *env, fx *fixtures) response {
			return e.do(t, fx.describing, request("GET", id(fx.provisioning)+"/provisioning-status"))
		}},
		coverageCase{"status describe fails", 200, func(t *testing.T, e *env, fx *fixtures) response {
			h := e.handler(func(c *api.Config) { c.Describer = describer{err: errors.New("throttled")} })
			return e.do(t, h, request("GET", id(fx.provisioning)+"/provisioning-status"))
		}},
		coverageCase{"status pending", 200, func(t *testing.T, e *env, fx *fixtures) response {
			return e.do(t, fx.describing, request("GET", id(fx.pending)+"/provisioning-status"))
		}},
		coverageCase{"archive", 200, func(t *testing.T, e *env, fx *fixtures) response {
			return e.do(t, nil, request("DELETE", id(fx.failed)))
		}},
		coverageCase{"archive provisioning", 409, func(t *testing.T, e *env, fx *fixtures) response {
			return e.do(t, nil, request("DELETE", id(fx.provisioning)))
		}},
		coverageCase{"retry", 202, func(t *testing.T, e *env, fx *fixtures) response {
			return e.do(t, nil, request("POST", id(e.failed(t, e.name("Coverage Retry")))+"/retry"))
		}},
		coverageCase{"retry active", 409, func(t *testing.T, e *env, fx *fixtures) response {
			return e.do(t, nil, request("POST", id(fx.active)+"/retry"))
		}},
		coverageCase{"resend activation", 200, func(t *testing.T, e *env, fx *fixtures) response {
			return e.do(t, nil, request("POST", id(e.active(t, e.name("Coverage Resend")))+"/activation-email"))
		}},
		coverageCase{"resend activation, not active", 409, func(t *testing.T, e *env, fx *fixtures) response {
			return e.do(t, nil, request("POST", id(fx.provisioning)+"/activation-email"))
		}},
		coverageCase{"activate", 200, func(t *testing.T, e *env, fx *fixtures) response {
			tid := e.activeWelcomed(t, e.name("Coverage Activate"))
			return e.do(t, nil, activationRequest(tid.String(), e.linkToken(t, tid), goodPassword))
		}},
		coverageCase{"activate forged", 400, func(t *testing.T, e *env, fx *fixtures) response {
			return e.do(t, nil, activationRequest(fx.active.String(), forgedToken(), goodPassword))
		}},
		coverageCase{"activate too large", 413, func(t *testing.T, e *env, fx *fixtures) response {
			req := withBody(request("POST", "/activation"), "application/json", strings.Repeat(" ", 16<<10+1))
			req.RequestContext.Authorizer = nil
			return e.do(t, nil, req)
		}},
		coverageCase{"activate not JSON", 415, func(t *testing.T, e *env, fx *fixtures) response {
			req := withBody(request("POST", "/activation"), "text/plain", "token")
			req.RequestContext.Authorizer = nil
			return e.do(t, nil, req)
		}},
		coverageCase{"activate too many", 429, func(t *testing.T, e *env, fx *fixtures) response {
			var r response
			for i := 0; i < 2*pipeline.ActivationClientLimit+1 && r.StatusCode != 429; i++ {
				req := activationRequest(fx.active.String(), forgedToken(), goodPassword)
				req.RequestContext.HTTP.SourceIP = "203.0.113.250"
				r = e.do(t, nil, req)
			}
			return r
		}},
		coverageCase{"activate database down", 503, func(t *testing.T, e *env, fx *fixtures) response {
			return e.do(t, fx.down, activationRequest(fx.active.String(), forgedToken(), goodPassword))
		}},
		coverageCase{"activate tables missing", 500, func(t *testing.T, e *env, fx *fixtures) response {
			return e.do(t, fx.broken, activationRequest(fx.active.String(), forgedToken(), goodPassword))
		}},
		// Each upgrade case that records runs has a database of its own: one run at a time.
		coverageCase{"start upgrade", 202, func(t *testing.T, e *env, fx *fixtures) response {
			return newEnv(t).do(t, nil, upgradeRequest(`{"dryRun": true}`))
		}},
		coverageCase{"start upgrade, bad status", 400, func(t *testing.T, e *env, fx *fixtures) response {
			return e.do(t, nil, upgradeRequest(`{"statuses": ["FAILED"]}`))
		}},
		coverageCase{"start upgrade while one runs", 409, func(t *testing.T, e *env, fx *fixtures) response {
			ue := newEnv(t)
			ue.do(t, nil, upgradeRequest("")).status(202)
			return ue.do(t, nil, upgradeRequest(""))
		}},
		coverageCase{"start upgrade too large", 413, func(t *testing.T, e *env, fx *fixtures) response {
			return e.do(t, nil, upgradeRequest(strings.Repeat(" ", 16<<10+1)))
		}},
		coverageCase{"start upgrade not JSON", 415, func(t *testing.T, e *env, fx *fixtures) response {
			return e.do(t, nil, withBody(request("POST", "/admin/upgrades"), "text/plain", "{}"))
		}},
		coverageCase{"start upgrade fails", 503, func(t *testing.T, e *env, fx *fixtures) response {
			ue := newEnv(t)
			h := ue.handler(func(c *api.Config) {
				c.Upgrades = &upgradeRuns{fail: &fault.TransientError{Op: "start", Msg: "throttled"}}
			})
			return ue.do(t, h, upgradeRequest(""))
		}},
		coverageCase{"get upgrade", 200, func(t *testing.T, e *env, fx *fixtures) response {
			ue := newEnv(t)
			var run upgradeBody
			ue.do(t, nil, upgradeRequest("")).status(202).decode(&run)
			return ue.do(t, nil, request("GET", "/admin/upgrades/"+run.RunID.String()))
		}},
		coverageCase{"verify the audit trail", 200, func(t *testing.T, e *env, fx *fixtures) response {
			return e.do(t, nil, request("GET", "/admin/audit/verification?digests=10"))
		}},
		coverageCase{"verify the audit trail, bad digests", 400, func(t *testing.T, e *env, fx *fixtures) response {
			return e.do(t, nil, request("GET", "/admin/audit/verification?digests=0"))
		}},
		coverageCase{"retry start fails", 503, func(t *testing.T, e *env, fx *fixtures) response {
			h := e.handler(func(c *api.Config) { c.Starter = &starter{fail: &fault.TransientError{Op: "start", Msg: "throttled"}} })
			return e.do(t, h, request("POST", id(e.failed(t, e.name("Coverage Retry")))+"/retry"))
		}},
	)

	var mu sync.Mutex
	produced := map[string]bool{}
	t.Run("cases", func(t *testing.T) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				resp := c.run(t, e, fx).status(c.want)
				key := resp.req.RequestContext.HTTP.Method + " " + mustDoc(t).template(resp.req.RawPath) + " " + strconv.Itoa(resp.StatusCode)
				mu.Lock()
				produced[key] = true
				mu.Unlock()
			})
		}
	})
	for _, want := range mustDoc(t).declared() {
		if !produced[want] {
			t.Errorf("declared but produced by no case: %s", want)
		}
	}
	if extra := slices.DeleteFunc(slices.Sorted(maps.Keys(produced)), func(k string) bool {
		return slices.Contains(mustDoc(t).declared(), k)
	}); len(extra) > 0 {
		t.Errorf("produced but not declared: %v", extra)
	}
}

// unreachableHandler serves from a database nothing listens for: every route meets a
// connection failure, which must read as 503.
func unreachableHandler(t *testing.T, e *env) *api.Handler {
	t.Helper()
	pool, err := database.Open(e.ctx, database.Config{DSN: "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=2"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return handlerOn(t, e, pool)
}

// brokenHandler serves from a database whose control-plane tables are gone: every query
// fails with an unexpected SQLSTATE, which must read as a 500 that does not show it.
func brokenHandler(t *testing.T, e *env) *api.Handler {
	t.Helper()
	pool := testdb.New(t)
	if _, err := pool.Exec(e.ctx, `ALTER TABLE provisioning_logs RENAME TO gone_logs; ALTER TABLE tenants RENAME TO gone_tenants;
		ALTER TABLE upgrade_results RENAME TO gone_results; ALTER TABLE upgrade_runs RENAME TO gone_runs;
		ALTER TABLE audit_records RENAME TO gone_audit_records; ALTER TABLE audit_chain RENAME TO gone_chain`); err != nil {
		t.Fatal(err)
	}
	return handlerOn(t, e, pool)
}

func handlerOn(t *testing.T, e *env, pool *pgxpool.Pool) *api.Handler {
	t.Helper()
	other := newEnvOn(t, pool)
	return other.handler(func(c *api.Config) { c.Log = e.log })
}
