package api_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/healthstack/tenant-provisioning/internal/api"
	"github.com/healthstack/tenant-provisioning/internal/testkit/testdb"
)

// logLines returns the log records with the given message.
func logLines(t *testing.T, e *env, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(e.logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

// TestBackingServiceFailures: a database that is down is worth retrying (503 with
// Retry-After); one that answers with an unexpected error is a bug (500). Either way the
// body is generic, and the log line names the error class and the request.
func TestBackingServiceFailures(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	down, broken := unreachableHandler(t, e), brokenHandler(t, e)
	id := uuid.NewString()
	send := func(t *testing.T, h *api.Handler, route string) response {
		switch route {
		case "create":
			return e.do(t, h, createRequest(registrationJSON("Failure Clinic")))
		case "list":
			return e.do(t, h, request("GET", "/admin/tenants"))
		case "get":
			return e.do(t, h, request("GET", "/admin/tenants/"+id))
		case "status":
			return e.do(t, h, request("GET", "/admin/tenants/"+id+"/provisioning-status"))
		default:
			return e.do(t, h, request("DELETE", "/admin/tenants/"+id))
		}
	}
	for _, route := range []string{"create", "list", "get", "status", "archive"} {
		t.Run(route+" database down", func(t *testing.T) {
			t.Parallel()
			resp := send(t, down, route)
			resp.problem(503, "unavailable")
			if got := resp.Headers["Retry-After"]; got != "5" {
				t.Errorf("Retry-After = %q", got)
			}
		})
		t.Run(route+" tables missing", func(t *testing.T) {
			t.Parallel()
			resp := send(t, broken, route)
			p := resp.problem(500, "internal")
			if strings.Contains(p.Detail, "SQLSTATE") || strings.Contains(p.Detail, "tenants") {
				t.Errorf("detail = %q", p.Detail)
			}
			var rec map[string]any
			for _, r := range logLines(t, e, "admin request") {
				if r["requestId"] == p.RequestID {
					rec = r
				}
			}
			if rec == nil || rec["level"] != "ERROR" || rec["status"] != float64(500) || rec["errorClass"] != "InvariantError" ||
				!strings.Contains(rec["error"].(string), "SQLSTATE 42P01") {
				t.Errorf("log record = %v", rec)
			}
		})
	}
}

// TestCreateTenantCannotReleaseReservation: if even marking the reservation FAILED fails,
// the caller still gets 503 and operators get a log line naming the stuck tenant.
func TestCreateTenantCannotReleaseReservation(t *testing.T) {
	t.Parallel()
	e := newEnvOn(t, testdb.New(t))
	h := e.handler(func(c *api.Config) { c.Starter = poolClosingStarter{e} })
	e.do(t, h, createRequest(registrationJSON("Stuck Clinic"))).problem(503, "provisioning-not-started")
	recs := logLines(t, e, "reservation left PENDING after a failed start")
	if len(recs) != 1 || recs[0]["tenantId"] == nil || recs[0]["errorClass"] != "TransientError" || recs[0]["requestId"] == nil {
		t.Errorf("log records = %v", recs)
	}
}

// poolClosingStarter fails the start and takes the database away with it.
type poolClosingStarter struct{ e *env }

func (s poolClosingStarter) Start(ctx context.Context, id uuid.UUID, name string) (api.Started, error) {
	s.e.pool.Close()
	return api.Started{}, context.DeadlineExceeded
}
