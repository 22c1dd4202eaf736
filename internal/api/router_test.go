package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"github.com/healthstack/tenant-provisioning/internal/api"
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
			Claims: map[string]string{"sub": "local-reader", "scope": "tenants/read"},
		}, nil
	}
	return nil, errors.New("unknown token")
}

func TestToHTTP(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv := httptest.NewServer(api.ToHTTP(e.h.Route, bearer))
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
