package api_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/healthstack/tenant-provisioning/internal/api"
	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/pipeline"
	"github.com/healthstack/tenant-provisioning/internal/tenantdb"
)

type tenantResponse struct {
	ID                uuid.UUID  `json:"id"`
	Name              string     `json:"name"`
	SchemaName        *string    `json:"schemaName"`
	SchemaVersion     *int32     `json:"schemaVersion"`
	SchemaCurrent     bool       `json:"schemaCurrent"`
	Status            string     `json:"status"`
	AdminEmail        string     `json:"adminEmail"`
	AdminFirstName    string     `json:"adminFirstName"`
	AdminLastName     string     `json:"adminLastName"`
	SorobanContractID *string    `json:"sorobanContractId"`
	ExecutionArn      *string    `json:"executionArn"`
	CreatedAt         time.Time  `json:"createdAt"`
	UpdatedAt         time.Time  `json:"updatedAt"`
	CompletedAt       *time.Time `json:"completedAt"`
	ArchivedAt        *time.Time `json:"archivedAt"`
	ProvisioningError *string    `json:"provisioningError"`
	CreatedBy         *actorAt   `json:"createdBy"`
	ArchivedBy        *actorAt   `json:"archivedBy"`
}

type actorAt struct {
	Actor string    `json:"actor"`
	At    time.Time `json:"at"`
}

// badIDs are path ids that are not a tenant id in canonical form.
var badIDs = []string{"not-a-uuid", "123", "0190a1b2c3d47e5f8a9b0c1d2e3f4a5b", "urn:uuid:0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
	"{0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b}", "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5bb", "' OR 1=1 --", adminEmail}

func TestGetTenant(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pending := e.create(t, "Get Pending")
	active := e.active(t, "Get Active")
	failed := e.failed(t, "Get Failed")
	rolledBack := e.rolledBack(t, "Get Rolled Back")

	get := func(t *testing.T, id uuid.UUID) tenantResponse {
		var b tenantResponse
		e.do(t, nil, request("GET", "/admin/tenants/"+id.String())).status(200).decode(&b)
		return b
	}

	t.Run("pending", func(t *testing.T) {
		t.Parallel()
		b := get(t, pending)
		if b.ID != pending || b.Name != "Get Pending" || b.Status != "PENDING" || b.SchemaName != nil || b.SchemaVersion != nil || b.SchemaCurrent ||
			b.ExecutionArn != nil || b.CompletedAt != nil || b.ArchivedAt != nil || b.ProvisioningError != nil ||
			b.SorobanContractID != nil || b.CreatedAt.IsZero() {
			t.Errorf("body = %+v", b)
		}
		// The one response with the admin's contact: the tenant's own record.
		if b.AdminEmail != adminEmail || b.AdminFirstName != adminFirst || b.AdminLastName != adminLast {
			t.Errorf("admin = %q %q %q", b.AdminEmail, b.AdminFirstName, b.AdminLastName)
		}
	})

	t.Run("active", func(t *testing.T) {
		t.Parallel()
		b := get(t, active)
		if b.Status != "ACTIVE" || b.SchemaName == nil || !strings.HasPrefix(*b.SchemaName, "t_get_active_") ||
			b.ExecutionArn == nil || *b.ExecutionArn != executionArn(active) || b.CompletedAt == nil || b.ProvisioningError != nil {
			t.Errorf("body = %+v", b)
		}
		// Its schema's migration version, as RunMigrations recorded it: the newest.
		if b.SchemaVersion == nil || *b.SchemaVersion != tenantdb.LatestVersion() || !b.SchemaCurrent {
			t.Errorf("schema version %v, current %v; want %d, true", b.SchemaVersion, b.SchemaCurrent, tenantdb.LatestVersion())
		}
	})

	t.Run("failed shows its error", func(t *testing.T) {
		t.Parallel()
		b := get(t, failed)
		if b.Status != "FAILED" || b.ProvisioningError == nil || *b.ProvisioningError != "could not start provisioning" {
			t.Errorf("body = %+v", b)
		}
	})

	t.Run("rolled back after its migrations claims no schema", func(t *testing.T) {
		t.Parallel()
		b := get(t, rolledBack)
		if b.Status != "FAILED" || b.SchemaVersion != nil || b.SchemaCurrent {
			t.Errorf("status %s, a schema version shown: %v, current %v; want FAILED with no version: the schema was dropped",
				b.Status, b.SchemaVersion != nil, b.SchemaCurrent)
		}
	})

	for _, bad := range badIDs {
		t.Run("bad id "+bad, func(t *testing.T) {
			t.Parallel()
			req := request("GET", "/admin/tenants/x")
			req.PathParameters = map[string]string{"id": bad}
			req.RouteKey = "GET /admin/tenants/{id}"
			p := e.call(t, e.h.GetTenant, req).problem(400, "validation")
			if len(p.Errors) != 1 || p.Errors[0].Field != "id" || p.Instance != "/admin/tenants/{id}" {
				t.Errorf("problem = %+v", p)
			}
		})
	}

	for _, id := range []uuid.UUID{uuid.New(), uuid.Nil, uuid.Max} {
		t.Run("unknown "+id.String(), func(t *testing.T) {
			t.Parallel()
			p := e.do(t, nil, request("GET", "/admin/tenants/"+id.String())).problem(404, "not-found")
			if p.Instance != "/admin/tenants/"+id.String() {
				t.Errorf("instance = %q", p.Instance)
			}
		})
	}

	t.Run("upper-case id", func(t *testing.T) {
		t.Parallel()
		b := tenantResponse{}
		e.do(t, nil, request("GET", "/admin/tenants/"+strings.ToUpper(pending.String()))).status(200).decode(&b)
		if b.ID != pending {
			t.Errorf("id = %s", b.ID)
		}
	})
}

type statusResponse struct {
	TenantID      uuid.UUID  `json:"tenantId"`
	TenantName    string     `json:"tenantName"`
	OverallStatus string     `json:"overallStatus"`
	ExecutionArn  *string    `json:"executionArn"`
	CreatedAt     time.Time  `json:"createdAt"`
	UpdatedAt     time.Time  `json:"updatedAt"`
	CompletedAt   *time.Time `json:"completedAt"`
	// ProvisioningError is set only for FAILED tenants.
	ProvisioningError *string `json:"provisioningError"`
	Logs              []struct {
		Step         string    `json:"step"`
		Status       string    `json:"status"`
		Attempt      int       `json:"attempt"`
		ExecutionArn *string   `json:"executionArn"`
		DurationMS   *int      `json:"durationMs"`
		Error        *string   `json:"error"`
		CreatedAt    time.Time `json:"createdAt"`
		Rollback     *struct {
			Outcome   string   `json:"outcome"`
			Remaining []string `json:"remaining"`
		} `json:"rollback"`
	} `json:"logs"`
	Execution *struct {
		Status    string     `json:"status"`
		StartedAt time.Time  `json:"startedAt"`
		StoppedAt *time.Time `json:"stoppedAt"`
		Error     *string    `json:"error"`
		Cause     *string    `json:"cause"`
	} `json:"execution"`
	ExecutionStatusError string `json:"executionStatusError"`
}

func TestGetProvisioningStatus(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pending := e.create(t, "Status Pending")
	running := e.provisioning(t, "Status Running")
	started := time.Date(2025, 1, 2, 3, 4, 5, 0, time.FixedZone("CET", 3600))
	describing := e.handler(func(c *api.Config) {
		c.Describer = describer{status: api.ExecutionStatus{Status: "RUNNING", StartedAt: started}}
	})
	unavailable := e.handler(func(c *api.Config) {
		c.Describer = describer{err: &fault.TransientError{Op: "describe provisioning execution", Msg: "throttled"}}
	})
	foreign := e.handler(func(c *api.Config) {
		c.Describer = describer{err: &fault.ValidationError{Op: "describe", Fields: []fault.FieldError{{Field: "executionArn", Message: "is not ours"}}}}
	})
	status := func(t *testing.T, h *api.Handler, id uuid.UUID) statusResponse {
		var b statusResponse
		e.do(t, h, request("GET", "/admin/tenants/"+id.String()+"/provisioning-status")).status(200).decode(&b)
		return b
	}

	t.Run("pending", func(t *testing.T) {
		t.Parallel()
		b := status(t, describing, pending) // no execution yet: nothing to describe
		if b.TenantID != pending || b.TenantName != "Status Pending" || b.OverallStatus != "PENDING" || len(b.Logs) != 0 ||
			b.ExecutionArn != nil || b.Execution != nil || b.ExecutionStatusError != "" || b.ProvisioningError != nil {
			t.Errorf("body = %+v", b)
		}
	})

	t.Run("running without a describer", func(t *testing.T) {
		t.Parallel()
		b := status(t, nil, running)
		if b.OverallStatus != "PROVISIONING" || b.ExecutionArn == nil || *b.ExecutionArn != executionArn(running) ||
			b.Execution != nil || b.ExecutionStatusError != "" {
			t.Errorf("body = %+v", b)
		}
		if len(b.Logs) != 1 || b.Logs[0].Step != "CREATE_TENANT_RECORD" || b.Logs[0].Status != "COMPLETED" ||
			b.Logs[0].Attempt != 1 || b.Logs[0].DurationMS == nil || b.Logs[0].Error != nil {
			t.Errorf("logs = %+v", b.Logs)
		}
	})

	t.Run("running with its execution", func(t *testing.T) {
		t.Parallel()
		resp := e.do(t, describing, request("GET", "/admin/tenants/"+running.String()+"/provisioning-status")).status(200)
		var b statusResponse
		resp.decode(&b)
		if b.Execution == nil || b.Execution.Status != "RUNNING" || !b.Execution.StartedAt.Equal(started) ||
			b.Execution.StoppedAt != nil || b.Execution.Error != nil || b.ExecutionStatusError != "" {
			t.Errorf("execution = %+v, error %q", b.Execution, b.ExecutionStatusError)
		}
		if !strings.Contains(resp.Body, `"startedAt":"2025-01-02T02:04:05Z"`) {
			t.Errorf("startedAt not rendered in UTC: %s", resp.Body)
		}
	})

	for name, h := range map[string]*api.Handler{"describe fails": unavailable, "describe refuses the ARN": foreign} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := status(t, h, running)
			if b.Execution != nil || b.ExecutionStatusError != "unavailable" || len(b.Logs) != 1 {
				t.Errorf("body = %+v", b)
			}
		})
	}

	t.Run("failed steps keep their sanitised error", func(t *testing.T) {
		t.Parallel()
		id := e.create(t, "Status Failing")
		if _, err := e.steps.CreateSchema(e.ctx, pipelineInput(id)); err == nil { // PENDING: refused, and logged
			t.Fatal("CreateSchema on a PENDING tenant succeeded")
		}
		b := status(t, nil, id)
		if len(b.Logs) != 1 || b.Logs[0].Status != "FAILED" || b.Logs[0].Error == nil || *b.Logs[0].Error == "" {
			t.Errorf("logs = %+v", b.Logs)
		}
	})

	// A finished rollback shows whether it left anything behind: clean, or dirty with what
	// stays (a contract, which no one can remove from the ledger).
	for _, c := range []struct {
		name         string
		withContract bool
		want         string
	}{{"rolled back clean", false, "clean"}, {"rolled back dirty", true, "dirty"}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			id := e.provisioning(t, "Status "+c.name)
			in := pipelineInput(id)
			if c.withContract {
				if _, err := e.steps.StoreContractAddress(e.ctx, pipeline.StoreContractAddressInput{
					TenantID: in.TenantID, ExecutionArn: in.ExecutionArn, ContractID: testContractID}); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := e.steps.Rollback(e.ctx, pipeline.RollbackInput{TenantID: in.TenantID, ExecutionArn: in.ExecutionArn,
				Error: &pipeline.CaughtError{Error: "InvariantError"}}); err != nil {
				t.Fatal(err)
			}
			b := status(t, nil, id)
			last := b.Logs[len(b.Logs)-1]
			if last.Step != "ROLLBACK" || last.Status != "ROLLED_BACK" || last.Rollback == nil || last.Rollback.Outcome != c.want ||
				(len(last.Rollback.Remaining) > 0) != c.withContract || last.ExecutionArn == nil || *last.ExecutionArn != executionArn(id) {
				t.Errorf("rollback log = %+v, rollback %+v; want outcome %s", last, last.Rollback, c.want)
			}
			for _, l := range b.Logs[:len(b.Logs)-1] {
				if l.Rollback != nil {
					t.Errorf("%s carries a rollback outcome", l.Step)
				}
			}
		})
	}

	t.Run("failed shows its cause", func(t *testing.T) {
		t.Parallel()
		b := status(t, nil, e.failed(t, "Status Unstarted"))
		if b.OverallStatus != "FAILED" || b.ProvisioningError == nil || *b.ProvisioningError != "could not start provisioning" || b.CompletedAt == nil {
			t.Errorf("body = %+v", b)
		}
	})

	t.Run("unknown", func(t *testing.T) {
		t.Parallel()
		e.do(t, nil, request("GET", "/admin/tenants/"+uuid.NewString()+"/provisioning-status")).problem(404, "not-found")
	})

	t.Run("bad id", func(t *testing.T) {
		t.Parallel()
		p := e.do(t, nil, request("GET", "/admin/tenants/nope/provisioning-status")).problem(400, "validation")
		if p.Instance != "/admin/tenants/{id}/provisioning-status" {
			t.Errorf("instance = %q", p.Instance)
		}
	})

	t.Run("describe failure is logged by class", func(t *testing.T) {
		t.Parallel()
		status(t, unavailable, running)
		if !strings.Contains(e.logs.String(), `"msg":"execution status unavailable"`) ||
			!strings.Contains(e.logs.String(), `"errorClass":"TransientError"`) {
			t.Errorf("log lacks the describe failure: %s", e.logs.String())
		}
	})
}

type archiveResponse struct {
	TenantID        uuid.UUID `json:"tenantId"`
	Status          string    `json:"status"`
	ArchivedAt      time.Time `json:"archivedAt"`
	AlreadyArchived bool      `json:"alreadyArchived"`
}

func TestArchiveTenant(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	archive := func(t *testing.T, id uuid.UUID) response {
		return e.do(t, nil, request("DELETE", "/admin/tenants/"+id.String()))
	}

	for _, state := range []string{"active", "failed"} {
		t.Run(state+" twice", func(t *testing.T) {
			t.Parallel()
			var id uuid.UUID
			if state == "active" {
				id = e.active(t, "Archive Active")
			} else {
				id = e.failed(t, "Archive Failed")
			}
			var first, second archiveResponse
			archive(t, id).status(200).decode(&first)
			archive(t, id).status(200).decode(&second)
			if first.TenantID != id || first.Status != "archived" || first.AlreadyArchived || first.ArchivedAt.IsZero() {
				t.Errorf("first = %+v", first)
			}
			if !second.AlreadyArchived || !second.ArchivedAt.Equal(first.ArchivedAt) {
				t.Errorf("second = %+v, first archived at %v", second, first.ArchivedAt)
			}
			var b tenantResponse
			e.do(t, nil, request("GET", "/admin/tenants/"+id.String())).status(200).decode(&b)
			if b.Status != "ARCHIVED" || b.ArchivedAt == nil || !b.ArchivedAt.Equal(first.ArchivedAt) || b.ProvisioningError != nil {
				t.Errorf("archived tenant = %+v", b)
			}
		})
	}

	t.Run("archived name is free again", func(t *testing.T) {
		t.Parallel()
		archive(t, e.active(t, "Archive Reuse")).status(200)
		e.create(t, "Archive Reuse")
	})

	for _, state := range []string{"pending", "provisioning"} {
		t.Run(state, func(t *testing.T) {
			t.Parallel()
			var id uuid.UUID
			if state == "pending" {
				id = e.create(t, e.name("Archive Pending"))
			} else {
				id = e.provisioning(t, e.name("Archive Provisioning"))
			}
			archive(t, id).problem(409, "still-provisioning")
			if got, _ := e.store.Get(e.ctx, id); strings.ToLower(string(got.Status)) != state {
				t.Errorf("tenant is now %s", got.Status)
			}
		})
	}

	t.Run("unknown", func(t *testing.T) {
		t.Parallel()
		archive(t, uuid.New()).problem(404, "not-found")
	})

	t.Run("bad id", func(t *testing.T) {
		t.Parallel()
		e.do(t, nil, request("DELETE", "/admin/tenants/%20")).problem(400, "validation")
	})

	t.Run("no archiver configured", func(t *testing.T) {
		t.Parallel()
		h := e.handler(func(c *api.Config) { c.Archiver = nil })
		e.do(t, h, request("DELETE", "/admin/tenants/"+uuid.NewString())).problem(500, "internal")
	})

	t.Run("archiver failing unexpectedly", func(t *testing.T) {
		t.Parallel()
		h := e.handler(func(c *api.Config) {
			c.Archiver = failingArchiver{errors.New("pq: relation \"tenants\" does not exist")}
		})
		p := e.do(t, h, request("DELETE", "/admin/tenants/"+uuid.NewString())).problem(500, "internal")
		if strings.Contains(p.Detail, "relation") {
			t.Errorf("detail leaks the error: %q", p.Detail)
		}
	})
}
