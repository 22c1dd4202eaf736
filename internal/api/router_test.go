package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"github.com/healthstack/tenant-provisioning/internal/api"
	"github.com/healthstack/tenant-provisioning/internal/catalog"
	"github.com/healthstack/tenant-provisioning/internal/store"
)

func TestRoute(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.create(t, "Routed Clinic").String()

	notFound := []string{"/", "/admin", "/admin/tenant", "/admin/tenantsx", "/admin/tenants/", "/admin/tenants//provisioning-status",
		"/admin/tenants/" + id + "/", "/admin/tenants/" + id + "/status", "/admin/tenants/" + id + "/provisioning-status/x",
		"/prod/admin/tenants"}
	for _, path := range notFound {
		t.Run("404 "+path, func(t *testing.T) {
			t.Parallel()
			p := e.do(t, nil, request("GET", path)).problem(404, "not-found")
			if p.Instance != "" {
				t.Errorf("instance %q echoes an unknown path", p.Instance)
			}
		})
	}

	notAllowed := []struct{ method, path, allow string }{
		{"PUT", "/admin/tenants", "GET, POST"},
		{"DELETE", "/admin/tenants", "GET, POST"},
		{"HEAD", "/admin/tenants", "GET, POST"},
		{"POST", "/admin/tenants/" + id, "GET, DELETE"},
		{"PATCH", "/admin/tenants/" + id, "GET, DELETE"},
		{"DELETE", "/admin/tenants/" + id + "/provisioning-status", "GET"},
		{"OPTIONS", "/admin/tenants/" + id + "/provisioning-status", "GET"},
	}
	for _, tt := range notAllowed {
		t.Run("405 "+tt.method+" "+tt.path, func(t *testing.T) {
			t.Parallel()
			resp := e.do(t, nil, request(tt.method, tt.path))
			resp.problem(405, "method-not-allowed")
			if got := resp.Headers["Allow"]; got != tt.allow {
				t.Errorf("Allow = %q, want %q", got, tt.allow)
			}
		})
	}

	t.Run("path parameter is decoded", func(t *testing.T) {
		t.Parallel()
		var b tenantResponse
		e.do(t, nil, request("GET", "/admin/tenants/"+strings.Replace(id, "-", "%2D", 1))).status(200).decode(&b)
		if b.ID.String() != id {
			t.Errorf("id = %s", b.ID)
		}
	})

	t.Run("falls back to the context path", func(t *testing.T) {
		t.Parallel()
		req := request("GET", "/admin/tenants/"+id)
		req.RawPath = ""
		e.call(t, e.h.Route, req).status(200)
	})
}

// bearer is the local server's stand-in for the JWT authorizer: one fixed token.
func bearer(r *http.Request) (*events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription, error) {
	switch r.Header.Get("Authorization") {
	case "Bearer admin-token":
		return &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{
			Claims: map[string]string{"sub": "local-admin", "scope": scope},
		}, nil
	case "Bearer reader-token":
		return &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{
			Claims: map[string]string{"sub": "local-reader", "scope": "tenants/other"},
		}, nil
	}
	return nil, errors.New("unknown token")
}

func TestToHTTP(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv := httptest.NewServer(e.h.HTTP(bearer))
	t.Cleanup(srv.Close)

	send := func(t *testing.T, method, path, token, contentType string, body io.Reader) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(e.ctx, method, srv.URL+path, body)
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Header.Get("X-Request-Id") == "" || resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("headers = %v", resp.Header)
		}
		return resp, string(b)
	}

	t.Run("create then read", func(t *testing.T) {
		t.Parallel()
		resp, body := send(t, "POST", "/admin/tenants", "admin-token", "application/json; charset=utf-8", strings.NewReader(registrationJSON("Served Clinic")))
		if resp.StatusCode != 202 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		var b acceptedBody
		if err := json.Unmarshal([]byte(body), &b); err != nil {
			t.Fatal(err)
		}
		if resp.Header.Get("Location") != "/admin/tenants/"+b.TenantID.String() {
			t.Errorf("Location = %q", resp.Header.Get("Location"))
		}
		resp, body = send(t, "GET", b.StatusURL, "admin-token", "", nil)
		if resp.StatusCode != 200 || !strings.Contains(body, `"overallStatus":"PENDING"`) {
			t.Errorf("status %d: %s", resp.StatusCode, body)
		}
	})

	t.Run("repeated query parameters are joined as API Gateway does", func(t *testing.T) {
		t.Parallel()
		resp, body := send(t, "GET", "/admin/tenants?limit=1&limit=2", "admin-token", "", nil)
		if resp.StatusCode != 400 || !strings.Contains(body, `"field":"limit"`) {
			t.Errorf("status %d: %s", resp.StatusCode, body)
		}
		resp, body = send(t, "GET", "/admin/tenants?status=pending&limit=5", "admin-token", "", nil)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("status %d: %s", resp.StatusCode, body)
		}
	})

	t.Run("binary body arrives base64-encoded and is refused as JSON", func(t *testing.T) {
		t.Parallel()
		resp, body := send(t, "POST", "/admin/tenants", "admin-token", "application/json", strings.NewReader("{\"name\": \"\xff\xfe\"}"))
		if resp.StatusCode != 400 || !strings.Contains(body, "malformed-body") {
			t.Errorf("status %d: %s", resp.StatusCode, body)
		}
	})

	t.Run("no token, unknown token, token without scope", func(t *testing.T) {
		t.Parallel()
		for token, want := range map[string]int{"": 401, "forged": 401, "reader-token": 403} {
			resp, body := send(t, "GET", "/admin/tenants", token, "", nil)
			if resp.StatusCode != want || resp.Header.Get("Content-Type") != "application/problem+json" ||
				!strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("token %q: status %d, headers %v: %s", token, resp.StatusCode, resp.Header, body)
			}
		}
	})

	t.Run("method not allowed", func(t *testing.T) {
		t.Parallel()
		resp, _ := send(t, "PUT", "/admin/tenants/"+uuid.NewString(), "admin-token", "", nil)
		if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, DELETE" {
			t.Errorf("status %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
		}
	})

	t.Run("request ids differ", func(t *testing.T) {
		t.Parallel()
		a, _ := send(t, "GET", "/admin/tenants", "admin-token", "", nil)
		b, _ := send(t, "GET", "/admin/tenants", "admin-token", "", nil)
		if a.Header.Get("X-Request-Id") == b.Header.Get("X-Request-Id") {
			t.Error("two requests share a request id")
		}
	})

	t.Run("handler error becomes a problem", func(t *testing.T) {
		t.Parallel()
		failing := api.ToHTTP(func(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			return events.APIGatewayV2HTTPResponse{}, errors.New("SQLSTATE 42P01")
		}, nil)
		rec := httptest.NewRecorder()
		failing.ServeHTTP(rec, httptest.NewRequest("GET", "/admin/tenants", nil))
		if rec.Code != 500 || strings.Contains(rec.Body.String(), "SQLSTATE") || rec.Header().Get("Content-Type") != "application/problem+json" {
			t.Errorf("status %d: %s", rec.Code, rec.Body.String())
		}
	})
}

// routed is what a handler was given of the route API Gateway chose.
type routed struct {
	RouteKey        string            `json:"routeKey"`
	ContextRouteKey string            `json:"contextRouteKey"`
	PathParameters  map[string]string `json:"pathParameters"`
}

// echoRoute answers with the route key and path parameters it was given.
func echoRoute(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	b, err := json.Marshal(routed{req.RouteKey, req.RequestContext.RouteKey, req.PathParameters})
	return events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: string(b)}, err
}

// Mounted on a ServeMux pattern, ToHTTP passes the pattern on as the route key and each
// wildcard's value, decoded, as its path parameter, as API Gateway does.
func TestToHTTPRouteKeyAndPathParameters(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, pattern, path string
		want                map[string]string
	}{
		{"no wildcard", "GET /admin/tenants", "/admin/tenants", nil},
		{"one wildcard", "POST /admin/tenants/{id}/retry", "/admin/tenants/abc/retry", map[string]string{"id": "abc"}},
		{"decoded", "GET /admin/tenants/{id}", "/admin/tenants/0190%2Da%20b", map[string]string{"id": "0190-a b"}},
		{"encoded slash stays in its segment", "GET /admin/upgrades/{id}", "/admin/upgrades/a%2Fb", map[string]string{"id": "a/b"}},
		{"two wildcards", "DELETE /a/{x}/b/{y}", "/a/1/b/2", map[string]string{"x": "1", "y": "2"}},
		{"remainder", "GET /files/{path...}", "/files/a/b%20c", map[string]string{"path": "a/b c"}},
		{"end anchor is no parameter", "GET /{$}", "/", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mux := http.NewServeMux()
			mux.Handle(tt.pattern, api.ToHTTP(echoRoute, nil))
			method, _, _ := strings.Cut(tt.pattern, " ")
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest(method, tt.path, nil))
			var got routed
			if err := json.Unmarshal(rec.Body.Bytes(), &got); rec.Code != 200 || err != nil {
				t.Fatalf("status %d (%v): %s", rec.Code, err, rec.Body)
			}
			want := routed{tt.pattern, tt.pattern, tt.want}
			if got.RouteKey != want.RouteKey || got.ContextRouteKey != want.ContextRouteKey || !maps.Equal(got.PathParameters, want.PathParameters) {
				t.Errorf("got %+v, want %+v", got, want)
			}
		})
	}

	t.Run("without a pattern, the default route", func(t *testing.T) {
		t.Parallel()
		rec := httptest.NewRecorder()
		api.ToHTTP(echoRoute, nil).ServeHTTP(rec, httptest.NewRequest("GET", "/admin/tenants/x", nil))
		var got routed
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got.RouteKey != "$default" || got.ContextRouteKey != "$default" || got.PathParameters != nil {
			t.Errorf("got %+v (%v)", got, err)
		}
	})
}

// The router asks the mux which methods a path takes: 405 lists the catalogue's methods
// (not HEAD, which API Gateway does not route to a GET route) and anything the mux would
// redirect, a path it would clean, is 404. Neither reaches a handler, so no database.
func TestRouterNotRouted(t *testing.T) {
	t.Parallel()
	h, err := api.New(api.Config{Store: store.New(nil), RequiredScope: scope})
	if err != nil {
		t.Fatal(err)
	}
	id := uuid.NewString()
	type notRouted struct {
		method, path string
		status       int
		allow        string // exactly, or for listed, one of the methods
		listed       bool
	}
	tests := []notRouted{
		{method: "HEAD", path: "/admin/tenants", status: 405, allow: "GET, POST"},
		{method: "HEAD", path: "/admin/tenants/" + id, status: 405, allow: "GET, DELETE"},
		{method: "BREW", path: "/admin/tenants/" + id, status: 405, allow: "GET, DELETE"},
		{method: "TRACE", path: "/admin/tenants/" + id + "/retry", status: 405, allow: "POST"},
		{method: "GET", path: "/admin/tenants/" + id + "/activation-email", status: 405, allow: "POST"},
		{method: "GET", path: "/activation", status: 405, allow: "POST"},
		{method: "HEAD", path: "/admin/upgrades/" + id, status: 405, allow: "GET"},
		{method: "GET", path: "/admin/upgrades", status: 405, allow: "POST"},
		{method: "GET", path: "/admin/tenants//provisioning-status", status: 404},
		{method: "POST", path: "/admin/tenants/" + id + "/./retry", status: 404},
		{method: "GET", path: "/admin/tenants/" + id + "/..", status: 404},
		{method: "GET", path: "/admin/tenants/" + id + "/", status: 404},
		{method: "POST", path: "/admin/upgrades/", status: 404},
		{method: "GET", path: "/admin//upgrades/" + id, status: 404},
		{method: "POST", path: "//admin/tenants", status: 404},
		{method: "GET", path: "/activation/", status: 404},
	}
	for _, f := range catalog.Routes {
		method, path, _ := strings.Cut(f.Route, " ")
		tests = append(tests, notRouted{method: "PUT", path: strings.ReplaceAll(path, "{id}", id), status: 405, allow: method, listed: true})
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			t.Parallel()
			check := func(t *testing.T, resp events.APIGatewayV2HTTPResponse) {
				t.Helper()
				var p problemBody
				if err := json.Unmarshal([]byte(resp.Body), &p); err != nil || resp.StatusCode != tt.status || p.Status != tt.status ||
					resp.Headers["Content-Type"] != "application/problem+json" || p.RequestID == "" {
					t.Fatalf("status %d, headers %v (%v): %s", resp.StatusCode, resp.Headers, err, resp.Body)
				}
				if tt.status == 404 && (p.Type != api.ProblemNotFound || p.Instance != "") {
					t.Errorf("problem %+v, want not-found without an instance", p)
				}
				allow := resp.Headers["Allow"]
				listed := allow == tt.allow || tt.listed && slices.Contains(strings.Split(allow, ", "), tt.allow)
				if tt.status == 405 && (p.Type != api.ProblemMethodNotAllowed || !listed ||
					strings.Contains(allow, "HEAD") || !strings.HasPrefix(p.Instance, "/")) {
					t.Errorf("Allow %q, problem %+v; want method-not-allowed, Allow %q", allow, p, tt.allow)
				}
				if tt.status == 404 && allow != "" {
					t.Errorf("404 with Allow %q", allow)
				}
			}
			t.Run("event", func(t *testing.T) {
				t.Parallel()
				resp, err := h.Route(context.Background(), request(tt.method, tt.path))
				if err != nil {
					t.Fatal(err)
				}
				check(t, resp)
			})
			t.Run("http", func(t *testing.T) {
				t.Parallel()
				rec := httptest.NewRecorder()
				h.HTTP(nil).ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
				resp := events.APIGatewayV2HTTPResponse{StatusCode: rec.Code, Body: rec.Body.String(), Headers: map[string]string{}}
				for k := range rec.Header() {
					resp.Headers[k] = rec.Header().Get(k)
				}
				check(t, resp)
			})
		})
	}
}
