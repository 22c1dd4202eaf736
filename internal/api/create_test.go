package api_test

import (
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/healthstack/tenant-provisioning/internal/api"
	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/tenant"
)

func TestCreateTenant(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	t.Run("accepted", func(t *testing.T) {
		t.Parallel()
		req := createRequest(`{"name": "  Clínica   Sa\u0303o José ", "adminEmail": "` + adminEmail + `", "adminFirstName": "` + adminFirst + `", "adminLastName": "` + adminLast + `"}`)
		resp := e.do(t, nil, req).status(202)
		var b acceptedBody
		resp.decode(&b)
		self := "/admin/tenants/" + b.TenantID.String()
		if b.Status != "queued" || b.ExecutionArn != executionArn(b.TenantID) || b.StatusURL != self+"/provisioning-status" || b.Message == "" {
			t.Errorf("body = %+v", b)
		}
		if got := resp.Headers["Location"]; got != self {
			t.Errorf("Location = %q, want %q", got, self)
		}
		if got := resp.Headers["X-Request-Id"]; got != req.RequestContext.RequestID {
			t.Errorf("X-Request-Id = %q", got)
		}
		got, err := e.store.Get(e.ctx, b.TenantID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != tenant.StatusPending || got.Name != "Clínica São José" || got.AdminEmail != adminEmail {
			t.Errorf("stored tenant: status %s, name %q", got.Status, got.Name)
		}
		if !e.starter.has(b.TenantID) {
			t.Errorf("no execution started for %s", b.TenantID)
		}
	})

	accepted := []struct {
		name string
		edit func(name string) (contentType, body string, base64Encoded bool)
	}{
		{"charset parameter", func(n string) (string, string, bool) {
			return "application/json; charset=UTF-8", registrationJSON(n), false
		}},
		{"base64 body", func(n string) (string, string, bool) {
			return "application/json", base64.StdEncoding.EncodeToString([]byte(registrationJSON(n))), true
		}},
		{"exactly 16 KiB", func(n string) (string, string, bool) {
			b := registrationJSON(n)
			return "application/json", b + strings.Repeat(" ", 16<<10-len(b)), false
		}},
		{"exactly 16 KiB base64", func(n string) (string, string, bool) {
			b := registrationJSON(n)
			return "application/json", base64.StdEncoding.EncodeToString([]byte(b + strings.Repeat("\n", 16<<10-len(b)))), true
		}},
		{"keys in any order", func(n string) (string, string, bool) {
			return "application/json", `{"adminLastName":"` + adminLast + `","adminFirstName":"` + adminFirst + `","adminEmail":"` + adminEmail + `","name":"` + n + `"}`, false
		}},
	}
	for _, tt := range accepted {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ct, body, b64 := tt.edit(e.name("Accepted"))
			req := withBody(request("POST", "/admin/tenants"), ct, body)
			req.IsBase64Encoded = b64
			e.do(t, nil, req).status(202)
		})
	}

	t.Run("stage prefix", func(t *testing.T) {
		t.Parallel()
		req := createRequest(registrationJSON(e.name("Staged")))
		req.RawPath, req.RouteKey = "/prod/admin/tenants", "POST /admin/tenants"
		var b acceptedBody
		resp := e.call(t, e.h.CreateTenant, req).status(202)
		resp.decode(&b)
		if want := "/prod/admin/tenants/" + b.TenantID.String(); resp.Headers["Location"] != want || b.StatusURL != want+"/provisioning-status" {
			t.Errorf("Location %q, statusUrl %q; want under %s", resp.Headers["Location"], b.StatusURL, want)
		}
	})

	t.Run("odd prefix is not echoed", func(t *testing.T) {
		t.Parallel()
		req := createRequest(registrationJSON(e.name("Odd")))
		req.RawPath, req.RouteKey = "/x%0d%0aSet-Cookie:a=b/admin/tenants", "POST /admin/tenants"
		resp := e.call(t, e.h.CreateTenant, req).status(202)
		if loc := resp.Headers["Location"]; !strings.HasPrefix(loc, "/admin/tenants/") {
			t.Errorf("Location = %q", loc)
		}
	})

	const badBody = "malformed-body"
	malformed := []struct{ name, body string }{
		{"empty", ``},
		{"not JSON", `name=Acme`},
		{"array", `[` + registrationJSON("Acme Array") + `]`},
		{"string", `"Acme"`},
		{"unknown field", `{"name": "Acme Unknown", "adminEmail": "` + adminEmail + `", "adminFirstName": "A", "adminLastName": "B", "role": "owner"}`},
		{"key in another case", `{"Name": "Acme Case", "adminEmail": "` + adminEmail + `", "adminFirstName": "A", "adminLastName": "B"}`},
		{"repeated key", `{"name": "Acme One", "name": "Acme Two", "adminEmail": "` + adminEmail + `", "adminFirstName": "A", "adminLastName": "B"}`},
		{"trailing object", registrationJSON("Acme Trailing") + `{}`},
		{"trailing garbage", registrationJSON("Acme Garbage") + ` x`},
		{"truncated", strings.TrimSuffix(registrationJSON("Acme Truncated"), "}")},
		{"invalid UTF-8", `{"name": "Acme ` + "\xff" + `", "adminEmail": "` + adminEmail + `", "adminFirstName": "A", "adminLastName": "B"}`},
	}
	for _, tt := range malformed {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := e.do(t, nil, createRequest(tt.body)).problem(400, badBody)
			if p.Errors != nil || p.Instance != "/admin/tenants" {
				t.Errorf("problem = %+v", p)
			}
		})
	}

	t.Run("bad base64", func(t *testing.T) {
		t.Parallel()
		req := createRequest("not base64!")
		req.IsBase64Encoded = true
		e.do(t, nil, req).problem(400, badBody)
	})

	invalid := []struct {
		name, body string
		fields     []string
	}{
		{"every field", `{"name": "x", "adminEmail": "Zz <zz@example.org>", "adminFirstName": "", "adminLastName": "\u202eZz"}`,
			[]string{"name", "adminEmail", "adminFirstName", "adminLastName"}},
		{"missing fields", `{"name": "Acme Missing"}`, []string{"adminEmail", "adminFirstName", "adminLastName"}},
		{"null name", `{"name": null, "adminEmail": "` + adminEmail + `", "adminFirstName": "A", "adminLastName": "B"}`, []string{"name"}},
		{"number and bad e-mail", `{"name": 42, "adminEmail": "nobody", "adminFirstName": "A", "adminLastName": "B"}`, []string{"name", "adminEmail"}},
		{"object value", `{"name": {"first": "Acme"}, "adminEmail": "` + adminEmail + `", "adminFirstName": "A", "adminLastName": "B"}`, []string{"name"}},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := e.do(t, nil, createRequest(tt.body)).problem(400, "validation")
			if got := p.fields(); !slices.Equal(got, tt.fields) {
				t.Errorf("fields = %q, want %q", got, tt.fields)
			}
			for _, f := range p.Errors {
				if f.Message == "" {
					t.Errorf("field %s has no message", f.Field)
				}
			}
		})
	}

	tooLarge := []struct {
		name   string
		body   string
		base64 bool
	}{
		{"one byte over", registrationJSON("Acme Large") + strings.Repeat(" ", 16<<10), false},
		{"one byte over, base64", base64.StdEncoding.EncodeToString([]byte(strings.Repeat(" ", 16<<10+1))), true},
		{"huge base64", strings.Repeat("A", 1<<20), true},
	}
	for _, tt := range tooLarge {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := createRequest(tt.body)
			req.IsBase64Encoded = tt.base64
			e.do(t, nil, req).problem(413, "payload-too-large")
		})
	}

	for _, ct := range []string{"", "text/plain", "application/json; charset=latin1", "application/json; version=2",
		"application/jsonx", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/problem+json"} {
		t.Run("content type "+ct, func(t *testing.T) {
			t.Parallel()
			req := request("POST", "/admin/tenants")
			req.Body = registrationJSON(e.name("Typed"))
			if ct != "" {
				req.Headers["content-type"] = ct
			}
			e.do(t, nil, req).problem(415, "unsupported-media-type")
		})
	}

	t.Run("header name case", func(t *testing.T) {
		t.Parallel()
		req := request("POST", "/admin/tenants")
		req.Headers["Content-Type"] = "application/json"
		req.Body = registrationJSON(e.name("Header"))
		e.do(t, nil, req).status(202)
	})

	t.Run("duplicate name", func(t *testing.T) {
		t.Parallel()
		name := e.name("Duplicate")
		e.create(t, name)
		for _, again := range []string{name, strings.ToUpper(name), "  " + strings.ReplaceAll(name, " ", "   ") + " "} {
			p := e.do(t, nil, createRequest(registrationJSON(again))).problem(409, "name-taken")
			if p.Instance != "/admin/tenants" {
				t.Errorf("instance = %q", p.Instance)
			}
		}
	})

	t.Run("no starter configured", func(t *testing.T) {
		t.Parallel()
		h := e.handler(func(c *api.Config) { c.Starter = nil })
		e.do(t, h, createRequest(registrationJSON(e.name("Unwired")))).problem(500, "internal")
	})
}

// TestCreateTenantStartFails: when the execution cannot be started, the reservation must
// not stay PENDING holding the name; the caller gets 503 with Retry-After and can retry.
func TestCreateTenantStartFails(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	failures := []struct {
		name string
		err  error
	}{
		{"throttled", &fault.TransientError{Op: "start provisioning execution", Msg: "throttled"}},
		{"state machine missing", &fault.ConfigError{Op: "start provisioning execution", Msg: "state machine does not exist"}},
		{"unclassified", errors.New("boom")},
	}
	for _, tt := range failures {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			name := e.name("Unstarted")
			h := e.handler(func(c *api.Config) { c.Starter = &starter{fail: tt.err} })
			resp := e.do(t, h, createRequest(registrationJSON(name)))
			resp.problem(503, "provisioning-not-started")
			if resp.Headers["Retry-After"] == "" {
				t.Error("no Retry-After")
			}
			var status, reason string
			if err := e.pool.QueryRow(e.ctx, `SELECT status, provisioning_error FROM tenants WHERE name = $1`, name).Scan(&status, &reason); err != nil {
				t.Fatal(err)
			}
			if status != "FAILED" || reason != "could not start provisioning" {
				t.Errorf("reservation = %s %q, want FAILED with the reason", status, reason)
			}
			// The name is free: the same registration goes through once Step Functions answers.
			var b acceptedBody
			e.do(t, nil, createRequest(registrationJSON(name))).status(202).decode(&b)
			if got, _ := e.store.Get(e.ctx, b.TenantID); got.Status != tenant.StatusPending {
				t.Errorf("retried tenant is %s", got.Status)
			}
			if !strings.Contains(e.logs.String(), `"errorClass":"`+fault.Name(tt.err)+`"`) {
				t.Errorf("log does not name the error class %s", fault.Name(tt.err))
			}
		})
	}

	t.Run("answer lost after the execution claimed the tenant", func(t *testing.T) {
		t.Parallel()
		h := e.handler(func(c *api.Config) {
			c.Starter = &starter{claim: e.steps, fail: &fault.TransientError{Op: "start provisioning execution", Msg: "timed out"}}
		})
		var b acceptedBody
		e.do(t, h, createRequest(registrationJSON(e.name("Lost Answer")))).status(202).decode(&b)
		if b.ExecutionArn != executionArn(b.TenantID) {
			t.Errorf("executionArn = %q", b.ExecutionArn)
		}
		if got, _ := e.store.Get(e.ctx, b.TenantID); got.Status != tenant.StatusProvisioning {
			t.Errorf("tenant is %s, want PROVISIONING untouched", got.Status)
		}
	})
}

// TestCreateTenantSameNameConcurrently: the unique index, not a check-then-insert, decides.
func TestCreateTenantSameNameConcurrently(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const n = 50
	var wg sync.WaitGroup
	resps := make([]response, n)
	start := make(chan struct{})
	for i := range n {
		name := "Concurrent Health"
		if i%2 == 1 {
			name = "CONCURRENT health"
		}
		wg.Go(func() {
			<-start
			resps[i] = e.do(t, nil, createRequest(registrationJSON(name)))
		})
	}
	close(start)
	wg.Wait()
	accepted := 0
	for _, r := range resps {
		if r.StatusCode == 202 {
			accepted++
			continue
		}
		r.problem(409, "name-taken")
	}
	if accepted != 1 {
		t.Fatalf("%d requests accepted, want exactly 1", accepted)
	}
	var live int
	if err := e.pool.QueryRow(e.ctx, `SELECT count(*) FROM tenants WHERE lower(name) = 'concurrent health'`).Scan(&live); err != nil || live != 1 {
		t.Errorf("%d rows for the name, %v; want 1", live, err)
	}
	if got := e.starter.count(); got != 1 {
		t.Errorf("%d executions started, want 1", got)
	}
}
