package api_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"github.com/healthstack/tenant-provisioning/internal/api"
	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/tenant"
	"github.com/healthstack/tenant-provisioning/internal/tenantdb"
)

// upgradeBody is the UpgradeRun schema, decoded strictly.
type upgradeBody struct {
	RunID         uuid.UUID  `json:"runId"`
	Status        string     `json:"status"`
	DryRun        bool       `json:"dryRun"`
	Statuses      []string   `json:"statuses"`
	TargetVersion int32      `json:"targetVersion"`
	Total         int        `json:"total"`
	Upgraded      int        `json:"upgraded"`
	Current       int        `json:"current"`
	Planned       int        `json:"planned"`
	Failed        int        `json:"failed"`
	NotReached    int        `json:"notReached"`
	MoreFailures  bool       `json:"moreFailures"`
	Error         string     `json:"error"`
	ExecutionArn  string     `json:"executionArn"`
	CreatedAt     time.Time  `json:"createdAt"`
	FinishedAt    *time.Time `json:"finishedAt"`
	Message       string     `json:"message"`
	Failures      []struct {
		TenantID  uuid.UUID `json:"tenantId"`
		ErrorType string    `json:"errorType"`
		Error     string    `json:"error"`
		At        time.Time `json:"at"`
	} `json:"failures"`
}

func upgradeRequest(body string) events.APIGatewayV2HTTPRequest {
	req := request("POST", "/admin/upgrades")
	if body == "" {
		return req
	}
	return withBody(req, "application/json", body)
}

// runs lists the upgrade runs by status.
func (e *env) runCounts(t *testing.T) map[string]int {
	t.Helper()
	out := map[string]int{}
	rows, err := e.pool.Query(e.ctx, `SELECT status, count(*) FROM upgrade_runs GROUP BY status`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			t.Fatal(err)
		}
		out[s] = n
	}
	return out
}

// POST /admin/upgrades records a run with the options asked for and starts its execution
// named after it; bad options are a 400 that records nothing; a second start while one
// runs is 409 unless that run's execution has ended, which closes it.
func TestStartUpgrade(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	for _, c := range []struct {
		name, body string
		fields     []string
	}{
		{"unknown status", `{"statuses": ["PENDING"]}`, []string{"statuses"}},
		{"no status", `{"statuses": []}`, []string{"statuses"}},
		{"statuses not strings", `{"statuses": [1]}`, []string{"statuses"}},
		{"dryRun not a boolean", `{"dryRun": "yes"}`, []string{"dryRun"}},
	} {
		p := e.do(t, nil, upgradeRequest(c.body)).problem(http.StatusBadRequest, "validation")
		if !slices.Equal(p.fields(), c.fields) {
			t.Errorf("%s: fields %v, want %v", c.name, p.fields(), c.fields)
		}
	}
	e.do(t, nil, upgradeRequest(`{"dryRun": true, "extra": 1}`)).problem(http.StatusBadRequest, "malformed-body")
	e.do(t, nil, upgradeRequest(`{"dryRun": true}{}`)).problem(http.StatusBadRequest, "malformed-body")
	if got := e.runCounts(t); len(got) != 0 || len(e.runs.started) != 0 {
		t.Fatalf("refused requests left runs %v, started %v", got, e.runs.started)
	}

	var run upgradeBody
	resp := e.do(t, nil, upgradeRequest(`{"statuses": ["ARCHIVED", "ACTIVE", "ACTIVE"], "dryRun": true}`)).status(http.StatusAccepted)
	resp.decode(&run)
	if run.Status != store.RunRunning || !run.DryRun || !slices.Equal(run.Statuses, []string{"ARCHIVED", "ACTIVE"}) ||
		run.TargetVersion != tenantdb.LatestVersion() || !strings.HasSuffix(run.ExecutionArn, ":"+run.RunID.String()) {
		t.Errorf("202 body %+v", run)
	}
	if loc := resp.Headers["Location"]; loc != "/admin/upgrades/"+run.RunID.String() {
		t.Errorf("Location %q", loc)
	}
	if !slices.Equal(e.runs.started, []uuid.UUID{run.RunID}) {
		t.Errorf("executions started %v, want the run's", e.runs.started)
	}
	stored, err := e.store.UpgradeRun(e.ctx, run.RunID)
	if err != nil || stored.ExecutionArn != run.ExecutionArn || !slices.Equal(stored.Statuses, []tenant.Status{tenant.StatusArchived, tenant.StatusActive}) {
		t.Errorf("stored run %+v, %v", stored, err)
	}

	// One at a time while its execution runs.
	e.do(t, nil, upgradeRequest("")).problem(http.StatusConflict, "upgrade-running")

	// Its execution ended without summarising (stopped): the next start closes it FAILED.
	h := e.handler(func(c *api.Config) { c.Upgrades = &upgradeRuns{status: "ABORTED"} })
	var next upgradeBody
	e.do(t, h, upgradeRequest("")).status(http.StatusAccepted).decode(&next)
	if next.DryRun || !slices.Equal(next.Statuses, []string{"ACTIVE"}) {
		t.Errorf("default run %+v, want ACTIVE, not a dry run", next)
	}
	closed, err := e.store.UpgradeRun(e.ctx, run.RunID)
	if err != nil || closed.Status != store.RunFailed || closed.Error == "" || closed.FinishedAt == nil {
		t.Errorf("the abandoned run is %+v, %v; want FAILED with a reason", closed, err)
	}
}

// A run recorded by a request that died before starting its execution does not block the
// next start for long: once the start's time is up, it is closed FAILED.
func TestStartUpgradeClosesARunNeverStarted(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	h := e.handler(func(c *api.Config) { c.Upgrades = &upgradeRuns{missing: true} })
	orphan, err := e.store.CreateUpgradeRun(e.ctx, []tenant.Status{tenant.StatusActive}, false, tenantdb.LatestVersion())
	if err != nil {
		t.Fatal(err)
	}
	e.do(t, h, upgradeRequest("")).problem(http.StatusConflict, "upgrade-running") // it may still be starting
	if _, err := e.pool.Exec(e.ctx, `UPDATE upgrade_runs SET created_at = now() - interval '1 minute' WHERE id = $1`, orphan.ID); err != nil {
		t.Fatal(err)
	}
	e.do(t, h, upgradeRequest("")).status(http.StatusAccepted)
	if closed, err := e.store.UpgradeRun(e.ctx, orphan.ID); err != nil || closed.Status != store.RunFailed {
		t.Errorf("the orphan run is %+v, %v; want it FAILED", closed, err)
	}
}

// A start Step Functions refuses is a 503 that leaves no run RUNNING to block the next.
func TestStartUpgradeNotStarted(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	h := e.handler(func(c *api.Config) {
		c.Upgrades = &upgradeRuns{fail: &fault.TransientError{Op: "start", Msg: "throttled"}}
	})
	e.do(t, h, upgradeRequest("")).problem(http.StatusServiceUnavailable, "upgrade-not-started")
	if got := e.runCounts(t); got[store.RunRunning] != 0 || got[store.RunFailed] != 1 {
		t.Errorf("runs %v; want the one FAILED", got)
	}
	e.do(t, nil, upgradeRequest("")).status(http.StatusAccepted)
}

// GET /admin/upgrades/{id} shows the run's counts and its failed tenants by id, with
// sanitised errors only; an unknown run is 404.
func TestGetUpgrade(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	run, err := e.store.CreateUpgradeRun(e.ctx, []tenant.Status{tenant.StatusActive}, false, tenantdb.LatestVersion())
	if err != nil {
		t.Fatal(err)
	}
	ids := []uuid.UUID{e.active(t, e.name("Upgrade Get")), e.active(t, e.name("Upgrade Get")), e.active(t, e.name("Upgrade Get"))}
	results := store.New(e.pool)
	for i, o := range []string{store.OutcomeUpgraded, store.OutcomeFailed, store.OutcomePending} {
		r := store.UpgradeResult{RunID: run.ID, TenantID: ids[i], Outcome: o, From: 2, To: 3}
		if o == store.OutcomeFailed {
			r.To, r.ErrorType, r.Error = -1, "TransientError", "upgrade tenant: database busy"
		}
		if err := results.RecordUpgradeResult(e.ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	var got upgradeBody
	e.do(t, nil, request("GET", "/admin/upgrades/"+run.ID.String())).status(http.StatusOK).decode(&got)
	if got.Status != store.RunRunning || got.Total != 3 || got.Upgraded != 1 || got.Failed != 1 || got.NotReached != 1 ||
		len(got.Failures) != 1 || got.Failures[0].TenantID != ids[1] || got.Failures[0].ErrorType != "TransientError" {
		t.Errorf("run %+v", got)
	}
	e.do(t, nil, request("GET", "/admin/upgrades/"+uuid.NewString())).problem(http.StatusNotFound, "not-found")
	e.do(t, nil, request("GET", "/admin/upgrades/"+strings.ToUpper(run.ID.String()[:8])+"x")).problem(http.StatusBadRequest, "validation")
}
