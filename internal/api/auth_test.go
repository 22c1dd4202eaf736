package api_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"github.com/healthstack/tenant-provisioning/internal/api"
	"github.com/healthstack/tenant-provisioning/internal/catalog"
)

func TestAuthorize(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	jwt := func(claims map[string]string, scopes ...string) *events.APIGatewayV2HTTPRequestContextAuthorizerDescription {
		return &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: claims, Scopes: scopes},
		}
	}
	// The cases are on a route that changes something, which the admin scope alone grants,
	// unless they name a route.
	tests := []struct {
		name  string
		auth  *events.APIGatewayV2HTTPRequestContextAuthorizerDescription
		want  error
		route catalog.Function
	}{
		{"no authorizer", nil, api.ErrUnauthenticated, catalog.Function{}},
		{"IAM caller", &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{IAM: &events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription{UserARN: "arn:x"}}, api.ErrUnauthenticated, catalog.Function{}},
		{"Lambda authorizer", &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: map[string]any{"sub": "x"}}, api.ErrUnauthenticated, catalog.Function{}},
		{"no claims", jwt(nil, scope), api.ErrUnauthenticated, catalog.Function{}},
		{"no sub", jwt(map[string]string{"scope": scope}, scope), api.ErrUnauthenticated, catalog.Function{}},
		{"blank sub", jwt(map[string]string{"sub": "  ", "scope": scope}), api.ErrUnauthenticated, catalog.Function{}},
		{"authorizer scopes", jwt(map[string]string{"sub": "a"}, "openid", scope), nil, catalog.Function{}},
		{"scope claim", jwt(map[string]string{"sub": "a", "scope": "openid " + scope + " profile"}), nil, catalog.Function{}},
		{"scp claim", jwt(map[string]string{"sub": "a", "scp": scope}), nil, catalog.Function{}},
		{"scp claim from a JSON array", jwt(map[string]string{"sub": "a", "scp": "[openid " + scope + "]"}), nil, catalog.Function{}},
		{"no scope", jwt(map[string]string{"sub": "a"}), api.ErrForbidden, catalog.Function{}},
		{"other scopes", jwt(map[string]string{"sub": "a", "scope": "openid tenants/read"}, "tenants/read"), api.ErrForbidden, catalog.Function{}},
		{"scope as a prefix", jwt(map[string]string{"sub": "a", "scope": scope + "s"}), api.ErrForbidden, catalog.Function{}},
		{"scope inside another", jwt(map[string]string{"sub": "a", "scope": "x" + scope}), api.ErrForbidden, catalog.Function{}},
		{"comma-joined scopes", jwt(map[string]string{"sub": "a", "scope": "openid," + scope}), api.ErrForbidden, catalog.Function{}},
		{"scope in another claim", jwt(map[string]string{"sub": "a", "aud": scope, "cognito:groups": scope}), api.ErrForbidden, catalog.Function{}},
		{"read scope, a route that reads", jwt(map[string]string{"sub": "a", "scope": readScope}, readScope), nil, catalog.ListTenants},
		{"read scope claim, a route that reads", jwt(map[string]string{"sub": "a", "scp": readScope}), nil, catalog.GetUpgrade},
		{"admin scope, a route that reads", jwt(map[string]string{"sub": "a"}, scope), nil, catalog.GetTenant},
		{"no scope, a route that reads", jwt(map[string]string{"sub": "a"}), api.ErrForbidden, catalog.GetProvisioningStatus},
		{"read scope, a route that archives", jwt(map[string]string{"sub": "a", "scope": readScope}, readScope), api.ErrForbidden, catalog.ArchiveTenant},
		{"read scope, a route that upgrades", jwt(map[string]string{"sub": "a", "scope": readScope}, readScope), api.ErrForbidden, catalog.StartUpgrade},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			route := tt.route
			if route.LogicalID == "" {
				route = catalog.CreateTenant
			}
			req := request(strings.Fields(route.Route)[0], "/admin/tenants")
			req.RequestContext.Authorizer = tt.auth
			if err := e.h.Authorize(req, route); !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("Authorize = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestEveryRouteRequiresAuthorization: authorization comes first, before anything about the
// request is looked at, so an unauthenticated caller learns nothing from validation errors.
func TestEveryRouteRequiresAuthorization(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.create(t, "Auth Target")
	requests := map[string]events.APIGatewayV2HTTPRequest{
		"create":            createRequest(registrationJSON("Auth Created")),
		"create, bad body":  withBody(request("POST", "/admin/tenants"), "text/plain", "x"),
		"list":              request("GET", "/admin/tenants"),
		"list, bad limit":   request("GET", "/admin/tenants?limit=0"),
		"get":               request("GET", "/admin/tenants/"+id.String()),
		"get, bad id":       request("GET", "/admin/tenants/nope"),
		"status":            request("GET", "/admin/tenants/"+id.String()+"/provisioning-status"),
		"archive":           request("DELETE", "/admin/tenants/"+id.String()),
		"archive, unknown":  request("DELETE", "/admin/tenants/"+uuid.NewString()),
		"status, bad id":    request("GET", "/admin/tenants/nope/provisioning-status"),
		"create, too large": createRequest(string(make([]byte, 1<<20))),
	}
	for name, req := range requests {
		t.Run(name+" unauthenticated", func(t *testing.T) {
			t.Parallel()
			req := req
			req.RequestContext.Authorizer = nil
			resp := e.do(t, nil, req)
			resp.problem(401, "unauthenticated")
			if got := resp.Headers["WWW-Authenticate"]; got != "Bearer" {
				t.Errorf("WWW-Authenticate = %q", got)
			}
		})
		t.Run(name+" without scope", func(t *testing.T) {
			t.Parallel()
			req := request(req.RequestContext.HTTP.Method, req.RawPath)
			req.RequestContext.Authorizer.JWT.Claims["scope"] = "openid tenants/other"
			resp := e.do(t, nil, req)
			resp.problem(403, "insufficient-scope")
			// The challenge names the least scope that would do: the read scope for a GET.
			least := scope
			if req.RequestContext.HTTP.Method == "GET" {
				least = readScope
			}
			if got, want := resp.Headers["WWW-Authenticate"], `Bearer error="insufficient_scope", scope="`+least+`"`; got != want {
				t.Errorf("WWW-Authenticate = %q, want %q", got, want)
			}
		})
	}
	if got, _ := e.store.Get(e.ctx, id); got.Status != "PENDING" {
		t.Errorf("refused requests changed the tenant: %s", got.Status)
	}
	var n int
	if err := e.pool.QueryRow(e.ctx, `SELECT count(*) FROM tenants`).Scan(&n); err != nil || n != 1 {
		t.Errorf("%d tenants after refused requests, %v", n, err)
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for name, cfg := range map[string]api.Config{
		"no store": {RequiredScope: scope},
		"no scope": {Store: e.store},
	} {
		if h, err := api.New(cfg); err == nil || h != nil {
			t.Errorf("%s: New = %v, %v; want an error", name, h, err)
		}
	}
	if _, err := api.New(api.Config{Store: e.store, RequiredScope: scope}); err != nil {
		t.Errorf("a read-only handler (no Starter, Archiver, Describer or Log): %v", err)
	}
}
