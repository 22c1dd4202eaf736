package reconcile_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

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
	pool := testdb.New(t)
	api, arn := awstest.StateMachine(t, definition)
	wf, err := workflow.New(api, arn)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	steps := pipeline.New(pool, log)
	st := store.New(pool)
	return &world{t: t, ctx: context.Background(), pool: pool, store: st, steps: steps, sfn: api, wf: wf,
		r: &reconcile.Reconciler{Store: st, Rollback: steps, Executions: wf, Log: log}}
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

	rep, err := w.r.Run(w.ctx, reconcile.Input{})
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

	again, err := w.r.Run(w.ctx, reconcile.Input{})
	if err != nil {
		t.Fatal(err)
	}
	if again.Checked != 2 || len(again.ReservationsFailed) != 0 || len(again.RolledBack) != 0 || again.StillRunning != 2 || len(again.Errors) != 0 {
		b, _ := json.Marshal(again)
		t.Errorf("second run: %s, want nothing more done", b)
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
