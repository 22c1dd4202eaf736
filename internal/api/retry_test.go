package api_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/healthstack/tenant-provisioning/internal/api"
	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/pipeline"
	"github.com/healthstack/tenant-provisioning/internal/tenant"
)

// A FAILED tenant is retried: reserved again (PENDING, one more retry) under the execution
// <id>-r1, which alone may claim it; the earlier attempts stay in its log. Any other
// status is 409 and changes nothing.
func TestRetryTenant(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	t.Run("failed", func(t *testing.T) {
		t.Parallel()
		id := e.failed(t, e.name("Retry Failed"))
		before, err := e.store.Get(e.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		var b acceptedBody
		resp := e.do(t, nil, request("POST", "/admin/tenants/"+id.String()+"/retry")).status(202)
		resp.decode(&b)
		if b.TenantID != id || b.Status != "queued" || b.ExecutionArn != executionArnNamed(id.String()+"-r1") ||
			b.StatusURL != "/admin/tenants/"+id.String()+"/provisioning-status" || resp.Headers["Location"] != "/admin/tenants/"+id.String() {
			t.Errorf("body %+v, Location %q", b, resp.Headers["Location"])
		}
		after, err := e.store.Get(e.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if after.Status != tenant.StatusPending || after.Retries != 1 || after.ExecutionName() != id.String()+"-r1" ||
			after.ProvisioningError != "" || after.CompletedAt != nil || after.AdminEmail != before.AdminEmail {
			t.Errorf("after the retry: %s, %d retries, error %q", after.Status, after.Retries, after.ProvisioningError)
		}
		// The retry's execution may claim it; the first attempt's may not any more.
		if _, err := e.steps.CreateTenantRecord(e.ctx, pipeline.CreateTenantRecordInput{TenantID: id.String(), ExecutionArn: executionArn(id)}); err == nil {
			t.Error("the first execution claimed the retried tenant")
		}
		if _, err := e.steps.CreateTenantRecord(e.ctx, pipeline.CreateTenantRecordInput{TenantID: id.String(), ExecutionArn: b.ExecutionArn}); err != nil {
			t.Errorf("the retry's execution could not claim the tenant: %v", err)
		}
		// In flight now: a second retry is refused.
		p := e.do(t, nil, request("POST", "/admin/tenants/"+id.String()+"/retry")).problem(409, "not-retryable")
		if !strings.Contains(p.Detail, "Only a FAILED tenant") {
			t.Errorf("detail %q", p.Detail)
		}
	})

	t.Run("not failed", func(t *testing.T) {
		t.Parallel()
		for name, id := range map[string]func() string{
			"active":       func() string { return e.active(t, e.name("Retry Active")).String() },
			"pending":      func() string { return e.create(t, e.name("Retry Pending")).String() },
			"provisioning": func() string { return e.provisioning(t, e.name("Retry Provisioning")).String() },
			"archived":     func() string { return e.archived(t, e.name("Retry Archived")).String() },
		} {
			tid := id()
			before := e.tenantRow(t, tid)
			e.do(t, nil, request("POST", "/admin/tenants/"+tid+"/retry")).problem(409, "not-retryable")
			if after := e.tenantRow(t, tid); after.Status != before.Status || after.Retries != 0 || !after.UpdatedAt.Equal(before.UpdatedAt) {
				t.Errorf("%s: a refused retry changed the tenant: %s → %s", name, before.Status, after.Status)
			}
		}
	})

	t.Run("name taken meanwhile", func(t *testing.T) {
		t.Parallel()
		name := e.name("Retry Renamed")
		id := e.failed(t, name)
		e.create(t, name) // the FAILED tenant freed its name; another live tenant takes it
		p := e.do(t, nil, request("POST", "/admin/tenants/"+id.String()+"/retry")).problem(409, "not-retryable")
		if !strings.Contains(p.Detail, "taken this tenant's name") || e.tenantRow(t, id.String()).Status != tenant.StatusFailed {
			t.Errorf("detail %q", p.Detail)
		}
	})

	t.Run("start fails", func(t *testing.T) {
		t.Parallel()
		id := e.failed(t, e.name("Retry Unstarted"))
		h := e.handler(func(c *api.Config) { c.Starter = &starter{fail: errTransient} })
		e.do(t, h, request("POST", "/admin/tenants/"+id.String()+"/retry")).problem(503, "provisioning-not-started")
		if got := e.tenantRow(t, id.String()); got.Status != tenant.StatusFailed || got.Retries != 1 {
			t.Errorf("after a failed start: %s, %d retries; want FAILED again", got.Status, got.Retries)
		}
	})
}

var errTransient = &fault.TransientError{Op: "start", Msg: "throttled"}

func (e *env) tenantRow(t *testing.T, id string) tenant.Tenant {
	t.Helper()
	got, err := e.store.Get(e.ctx, uuid.MustParse(id))
	if err != nil {
		t.Fatal(err)
	}
	return got
}
