package reconcile_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/healthstack/tenant-provisioning/internal/audit"
	"github.com/healthstack/tenant-provisioning/internal/catalog"
	"github.com/healthstack/tenant-provisioning/internal/pipeline"
	"github.com/healthstack/tenant-provisioning/internal/reconcile"
	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/tenant"
	"github.com/healthstack/tenant-provisioning/internal/testkit/awstest"
	"github.com/healthstack/tenant-provisioning/internal/testkit/testdb"
	"github.com/healthstack/tenant-provisioning/internal/workflow"
)

// A definition moto accepts; moto does not run it, so executions stay RUNNING until
// stopped, as a long step would keep them.
const definition = `{"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 3600, "End": true}}}`

type world struct {
	t     *testing.T
	ctx   context.Context
	pool  *pgxpool.Pool
	store *store.Store
	steps *pipeline.Steps
	sfn   *sfn.Client
	wf    *workflow.Client
	r     *reconcile.Reconciler
}

func newWorld(t *testing.T) *world {
	t.Helper()
	pool, url := testdb.NewWithURL(t)
	api, arn := awstest.StateMachine(t, definition)
	wf, err := workflow.New(api, arn)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	steps := pipeline.New(pool, log)
	st := store.New(pool)
	// The reconciler runs as its database user, as deployed.
	own := testdb.As(t, url, string(catalog.ReconcilerUser))
	return &world{t: t, ctx: context.Background(), pool: pool, store: st, steps: steps, sfn: api, wf: wf,
		r: &reconcile.Reconciler{Store: store.New(own), Rollback: pipeline.New(own, log), Executions: wf, Log: log}}
}

func (w *world) reserve(name string) tenant.Tenant {
	w.t.Helper()
	reg, err := tenant.Registration{Name: name, AdminEmail: "admin@clinic.example", AdminFirstName: "A", AdminLastName: "B"}.Normalize()
	if err != nil {
		w.t.Fatal(err)
	}
	tn, err := w.store.Reserve(w.ctx, reg)
	if err != nil {
		w.t.Fatal(err)
	}
	return tn
}

// start starts the tenant's own execution in the emulator.
func (w *world) start(tn tenant.Tenant) string {
	w.t.Helper()
	e, err := w.wf.StartNamed(w.ctx, tn.ID, tn.ExecutionName())
	if err != nil {
		w.t.Fatal(err)
	}
	return e.Arn
}

// provisioning claims the tenant for arn and creates its schema and role.
func (w *world) provisioning(tn tenant.Tenant, arn string) tenant.Tenant {
	w.t.Helper()
	if _, err := w.steps.CreateTenantRecord(w.ctx, pipeline.CreateTenantRecordInput{TenantID: tn.ID.String(), ExecutionArn: arn}); err != nil {
		w.t.Fatal(err)
	}
	if _, err := w.steps.CreateSchema(w.ctx, pipeline.TenantInput{TenantID: tn.ID.String(), ExecutionArn: arn}); err != nil {
		w.t.Fatal(err)
	}
	return w.get(tn.ID)
}

func (w *world) get(id uuid.UUID) tenant.Tenant {
	w.t.Helper()
	tn, err := w.store.Get(w.ctx, id)
	if err != nil {
		w.t.Fatal(err)
	}
	return tn
}

// age makes the tenant look untouched for ten minutes.
func (w *world) age(ids ...uuid.UUID) {
	w.t.Helper()
	if _, err := w.pool.Exec(w.ctx, `UPDATE tenants SET updated_at = now() - interval '10 minutes' WHERE id = ANY($1)`, ids); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) schemaAndRole(name string) (schema, role bool) {
	w.t.Helper()
	return testdb.Exists(w.ctx, w.t, w.pool, name)
}

// Stale PENDING with no execution becomes FAILED; PROVISIONING whose execution was aborted
// is rolled back (schema and role dropped); a running execution's tenants and fresh ones
// are untouched. A second run changes nothing more.
func TestReconcile(t *testing.T) {
	t.Parallel()
	w := newWorld(t)

	neverStarted := w.reserve("Never Started Clinic")
	waiting := w.reserve("Waiting Clinic") // its execution runs, not yet claimed
	w.start(waiting)
	aborted := w.reserve("Aborted Clinic")
	abortedArn := w.start(aborted)
	aborted = w.provisioning(aborted, abortedArn)
	if _, err := w.sfn.StopExecution(w.ctx, &sfn.StopExecutionInput{ExecutionArn: aws.String(abortedArn)}); err != nil {
		t.Fatal(err)
	}
	running := w.reserve("Running Clinic")
	running = w.provisioning(running, w.start(running))
	fresh := w.reserve("Fresh Clinic") // reserved just now, no execution yet: the API is starting it
	w.age(neverStarted.ID, waiting.ID, aborted.ID, running.ID)

	// As its Lambda runs it: the reconciler's transitions are recorded as its own.
	run := audit.As(catalog.Reconcile.LogicalID, w.r.Run)
	rep, err := run(w.ctx, reconcile.Input{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Checked != 4 || !slices.Equal(rep.ReservationsFailed, []string{neverStarted.ID.String()}) ||
		!slices.Equal(rep.RolledBack, []string{aborted.ID.String()}) || rep.StillRunning != 2 || len(rep.Errors) != 0 {
		b, _ := json.Marshal(rep)
		t.Errorf("report %s", b)
	}
	if got := w.get(neverStarted.ID); got.Status != tenant.StatusFailed || got.ProvisioningError != "provisioning was never started" {
		t.Errorf("never started: %s %q", got.Status, got.ProvisioningError)
	}
	if got := w.get(aborted.ID); got.Status != tenant.StatusFailed || got.ProvisioningError == "" {
		t.Errorf("aborted: %s %q", got.Status, got.ProvisioningError)
	}
	if schema, role := w.schemaAndRole(aborted.SchemaName); schema || role {
		t.Errorf("aborted: schema %v role %v left behind", schema, role)
	}
	logs, err := w.store.Logs(w.ctx, aborted.ID)
	if err != nil {
		t.Fatal(err)
	}
	if last := logs[len(logs)-1]; last.Step != "ROLLBACK" || last.Status != store.LogRolledBack || last.ExecutionArn != abortedArn {
		t.Errorf("aborted: last log %+v, want its execution's ROLLED_BACK", last)
	}
	for _, c := range []struct {
		name string
		tn   tenant.Tenant
	}{{"waiting", waiting}, {"running", running}, {"fresh", fresh}} {
		if got := w.get(c.tn.ID); got.Status != c.tn.Status || got.ProvisioningError != "" {
			t.Errorf("%s: %s → %s (%q)", c.name, c.tn.Status, got.Status, got.ProvisioningError)
		}
	}
	if schema, role := w.schemaAndRole(running.SchemaName); !schema || !role {
		t.Errorf("running: schema %v role %v; both must stay", schema, role)
	}

	again, err := run(w.ctx, reconcile.Input{})
	if err != nil {
		t.Fatal(err)
	}
	if again.Checked != 2 || len(again.ReservationsFailed) != 0 || len(again.RolledBack) != 0 || again.StillRunning != 2 || len(again.Errors) != 0 {
		b, _ := json.Marshal(again)
		t.Errorf("second run: %s, want nothing more done", b)
	}

	// The audit trail: one record per transition the reconciler made, as its actor, and
	// none for what it left alone or for the second run.
	rows, err := w.pool.Query(w.ctx, `SELECT tenant_id::text || ' ' || action || ' ' || outcome FROM audit_records
		WHERE actor = $1 ORDER BY tenant_id, id`, audit.System(catalog.Reconcile.LogicalID))
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	want := []string{neverStarted.ID.String() + " tenant.failed accepted", aborted.ID.String() + " tenant.failed accepted"}
	slices.Sort(want)
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("the reconciler's audit records %q (%v), want %q", got, err, want)
	}
}

// A tenant whose execution is gone from Step Functions' history is rolled back all the
// same, and a retried tenant is judged by its retry's execution, not its first one's.
func TestReconcileEdgeCases(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	// PROVISIONING for an execution Step Functions no longer knows.
	gone := w.reserve("Gone Clinic")
	goneArn, err := w.wf.ExecutionArn(gone.ExecutionName())
	if err != nil {
		t.Fatal(err)
	}
	gone = w.provisioning(gone, goneArn)
	// A retried tenant is judged by its retry's execution, not the first one.
	retried := w.reserve("Retried Clinic")
	if _, err := w.pool.Exec(w.ctx, `UPDATE tenants SET retries = 1 WHERE id = $1`, retried.ID); err != nil {
		t.Fatal(err)
	}
	retried = w.get(retried.ID)
	w.start(tenant.Tenant{ID: retried.ID}) // the first attempt's execution, still running
	w.age(gone.ID, retried.ID)

	rep, err := w.r.Run(w.ctx, reconcile.Input{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rep.RolledBack, []string{gone.ID.String()}) || !slices.Equal(rep.ReservationsFailed, []string{retried.ID.String()}) {
		b, _ := json.Marshal(rep)
		t.Errorf("report %s", b)
	}
	if got := w.get(gone.ID); got.Status != tenant.StatusFailed {
		t.Errorf("gone: %s", got.Status)
	}
}

// stuck makes a tenant no run can settle: PROVISIONING for an execution Step Functions no
// longer knows, so it is to be rolled back, while a schema with its name that is not
// marked as its own makes every rollback refuse (InvariantError) and change nothing.
func (w *world) stuck(name string) tenant.Tenant {
	w.t.Helper()
	tn := w.gone(name)
	if _, err := w.pool.Exec(w.ctx, `COMMENT ON SCHEMA `+pgx.Identifier{tn.SchemaName}.Sanitize()+` IS 'not this tenant'`); err != nil {
		w.t.Fatal(err)
	}
	return tn
}

// gone makes a tenant PROVISIONING, with its schema and role, for an execution Step
// Functions no longer knows: the reconciler rolls it back.
func (w *world) gone(name string) tenant.Tenant {
	w.t.Helper()
	tn := w.reserve(name)
	arn, err := w.wf.ExecutionArn(tn.ExecutionName())
	if err != nil {
		w.t.Fatal(err)
	}
	return w.provisioning(tn, arn)
}

// unsettledMetrics are the ReconcileUnsettled values of the runs logged in buf, in order.
func unsettledMetrics(t *testing.T, buf *bytes.Buffer) []int {
	t.Helper()
	var out []int
	for _, line := range strings.Split(buf.String(), "\n") {
		var ev struct {
			Msg       string `json:"msg"`
			Unsettled *int   `json:"ReconcileUnsettled"`
		}
		if json.Unmarshal([]byte(line), &ev) == nil && ev.Msg == "reconcile run" && ev.Unsettled != nil {
			out = append(out, *ev.Unsettled)
		}
	}
	return out
}

// More tenants than a run takes that no run can settle, older than one it can: each run
// still makes progress, so the settleable tenant is rolled back within the runs it takes
// to look at every tenant once, and the ReconcileUnsettled metric counts every tenant left
// unsettled, in the runs that look at it and in those that do not.
func TestReconcileMakesProgressPastTenantsItCannotSettle(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	var logs bytes.Buffer
	w.r.Log = slog.New(slog.NewJSONHandler(&logs, nil))
	w.r.Batch = 2
	var stuck []uuid.UUID
	for i := range 5 {
		stuck = append(stuck, w.stuck(fmt.Sprintf("Stuck Clinic %d", i)).ID)
	}
	settleable := w.gone("Settleable Clinic")
	// The stuck tenants are the oldest: a run that takes the oldest takes them every time.
	if _, err := w.pool.Exec(w.ctx, `UPDATE tenants SET updated_at = now() - interval '20 minutes' WHERE id = ANY($1)`, stuck); err != nil {
		t.Fatal(err)
	}
	w.age(settleable.ID)

	bound := (len(stuck) + 1 + w.r.Batch - 1) / w.r.Batch // the runs that look at every tenant once
	var failed []string
	runs := 0
	for w.get(settleable.ID).Status != tenant.StatusFailed {
		if runs++; runs > bound {
			t.Fatalf("the settleable tenant is still %s after %d runs", w.get(settleable.ID).Status, bound)
		}
		rep, err := w.r.Run(w.ctx, reconcile.Input{})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range rep.Errors {
			if e.ErrorType != "InvariantError" {
				t.Errorf("run %d: %+v, want the stuck tenants' rollbacks refused", runs, e)
			}
			failed = append(failed, e.TenantID)
		}
	}
	if schema, role := w.schemaAndRole(settleable.SchemaName); schema || role {
		t.Errorf("settleable: schema %v role %v left behind", schema, role)
	}
	slices.Sort(failed)
	if want := slices.Sorted(slices.Values(idStrings(stuck))); !slices.Equal(failed, want) {
		t.Errorf("runs failed on %v, want each stuck tenant once: %v", failed, want)
	}

	// Every stuck tenant waits for its next attempt: the next run looks at none of them,
	// and the metric still counts them all.
	rep, err := w.r.Run(w.ctx, reconcile.Input{})
	if err != nil || rep.Checked != 0 {
		t.Errorf("a run right after: %+v, %v; want nothing due", rep, err)
	}
	if got, want := unsettledMetrics(t, &logs), []int{2, 4, 5, 5}; !slices.Equal(got, want) {
		t.Errorf("ReconcileUnsettled per run %v, want %v", got, want)
	}
	for _, id := range stuck {
		if got := w.get(id); got.Status != tenant.StatusProvisioning {
			t.Errorf("stuck %s: %s, want it left PROVISIONING", id, got.Status)
		}
	}
}

func idStrings(ids []uuid.UUID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.String()
	}
	return out
}

// A tenant a run cannot settle waits RetryAfter for its next attempt, twice as long after
// each further failure; one whose execution turns out to be running again loses its failures
// and is no longer counted unsettled.
func TestReconcileBacksOff(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a, b := w.stuck("Backoff Clinic A"), w.stuck("Backoff Clinic B")
	w.age(a.ID, b.ID)
	// backoff is each tenant's recorded failures, reason and wait.
	type backoff struct {
		failures int
		reason   string
		wait     time.Duration
	}
	backoffs := func() map[uuid.UUID]backoff {
		t.Helper()
		rows, err := w.pool.Query(w.ctx, `SELECT tenant_id, failures, reason, next_attempt_at - failed_at FROM reconcile_backoff`)
		if err != nil {
			t.Fatal(err)
		}
		out := map[uuid.UUID]backoff{}
		var id uuid.UUID
		var bo backoff
		if _, err := pgx.ForEachRow(rows, []any{&id, &bo.failures, &bo.reason, &bo.wait}, func() error { out[id] = bo; return nil }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	due := func() {
		t.Helper()
		if _, err := w.pool.Exec(w.ctx, `UPDATE reconcile_backoff SET next_attempt_at = now() - interval '1 second'`); err != nil {
			t.Fatal(err)
		}
	}
	run := func(wantChecked, wantUnsettled int) {
		t.Helper()
		rep, err := w.r.Run(w.ctx, reconcile.Input{})
		if err != nil || rep.Checked != wantChecked || rep.Unsettled != wantUnsettled {
			t.Fatalf("report %+v, %v; want %d checked, %d unsettled", rep, err, wantChecked, wantUnsettled)
		}
	}

	run(2, 2)
	first := backoff{1, "InvariantError", reconcile.RetryAfter}
	if got := backoffs(); got[a.ID] != first || got[b.ID] != first {
		t.Errorf("after one failure: %+v, want %+v each", got, first)
	}
	run(0, 2) // neither is due yet
	due()
	run(2, 2)
	second := backoff{2, "InvariantError", 2 * reconcile.RetryAfter}
	if got := backoffs(); got[a.ID] != second || got[b.ID] != second {
		t.Errorf("after two failures: %+v, want %+v each", got, second)
	}

	// B's execution runs (say it was restarted under its name): nothing is wrong with B now.
	w.start(b)
	due()
	run(2, 1)
	got := backoffs()
	if _, kept := got[b.ID]; kept || got[a.ID] != (backoff{3, "InvariantError", 4 * reconcile.RetryAfter}) {
		t.Errorf("after B was found running: %+v, want A at its third failure and B forgotten", got)
	}
}
