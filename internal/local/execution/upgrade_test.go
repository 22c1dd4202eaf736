package execution

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/healthstack/tenant-provisioning/internal/catalog"
	"github.com/healthstack/tenant-provisioning/internal/local/asl"
	"github.com/healthstack/tenant-provisioning/internal/local/handlers"
	"github.com/healthstack/tenant-provisioning/internal/local/seed"
	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/tenantdb"
	"github.com/healthstack/tenant-provisioning/internal/testkit/testdb"
	"github.com/healthstack/tenant-provisioning/internal/upgrade"
)

// upgradeWorld is the upgrade state machine on the local engine, on the real definition,
// with the real step handlers on a fresh database.
type upgradeWorld struct {
	t     *testing.T
	ctx   context.Context
	pool  *pgxpool.Pool
	store *store.Store
	up    *upgrade.Upgrader
}

func newUpgradeWorld(t *testing.T) *upgradeWorld {
	t.Helper()
	pool := testdb.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	if _, err := store.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	up := upgrade.New(pool, slog.New(slog.DiscardHandler))
	up.PageSize = 64 // 200 tenants: four pages, so the state machine loops
	return &upgradeWorld{t: t, ctx: ctx, pool: pool, store: store.New(pool), up: up}
}

// run starts an upgrade run (ACTIVE tenants) through the API's path, runs its execution to
// the end with the catalogue wrapped by wrap, and returns the execution and the run.
func (w *upgradeWorld) run(wrap func(map[string]lambda.Handler) map[string]lambda.Handler) (asl.Execution, upgrade.Summary) {
	w.t.Helper()
	cat := handlers.Upgrade(w.up)
	if wrap != nil {
		cat = wrap(cat)
	}
	runner, err := NewUpgradeRunner(cat, Options{Clock: asl.NewFastClock()})
	if err != nil {
		w.t.Fatal(err)
	}
	r, err := w.store.CreateUpgradeRun(w.ctx, upgrade.DefaultStatuses, false, tenantdb.LatestVersion())
	if err != nil {
		w.t.Fatal(err)
	}
	live, _, err := runner.StartUpgrade(w.ctx, r.ID)
	if err != nil {
		w.t.Fatal(err)
	}
	e := live.Wait()
	if r, err = w.store.UpgradeRun(w.ctx, r.ID); err != nil {
		w.t.Fatal(err)
	}
	s, err := upgrade.Report(w.ctx, w.store, r)
	if err != nil {
		w.t.Fatal(err)
	}
	return e, s
}

// versions are the tenants' schema versions, as their schemas say.
func (w *upgradeWorld) versions(ids []uuid.UUID) map[uuid.UUID]int32 {
	w.t.Helper()
	out := map[uuid.UUID]int32{}
	for _, id := range ids {
		tn, err := w.store.Get(w.ctx, id)
		if err != nil {
			w.t.Fatal(err)
		}
		n, _ := tenantdb.For(tn)
		if out[id], err = tenantdb.Version(w.ctx, w.pool, n); err != nil {
			w.t.Fatal(err)
		}
	}
	return out
}

// drift makes the newest migration fail on the tenant for real: a relation of the name of
// the index it builds already exists, and is no index of audit_logs (someone made it by
// hand), so the build finds no valid index and the tenant stays at its old version.
func (w *upgradeWorld) drift(id uuid.UUID, fixed bool) {
	w.t.Helper()
	tn, err := w.store.Get(w.ctx, id)
	if err != nil {
		w.t.Fatal(err)
	}
	stray := pgx.Identifier{tn.SchemaName, "audit_logs_user_created_idx"}.Sanitize()
	sql := `CREATE TABLE ` + stray + ` ()`
	if fixed {
		sql = `DROP TABLE ` + stray
	}
	if _, err := w.pool.Exec(w.ctx, sql); err != nil {
		w.t.Fatal(err)
	}
}

// 200 tenants at the version before the newest are upgraded through the upgrade
// definition in the local engine: pages of 64 through a Distributed Map of batches of 25.
// Tenants whose migration fails are listed as failed and stay at their old version; once
// fixed, a second run upgrades only them and counts the rest as current.
func TestUpgradeFanOut(t *testing.T) {
	t.Parallel()
	w := newUpgradeWorld(t)
	latest := tenantdb.LatestVersion()
	ids, err := seed.Behind(w.ctx, w.pool, "Fan Out Clinic", 200, latest-1, 2)
	if err != nil {
		t.Fatal(err)
	}
	archived, err := seed.Behind(w.ctx, w.pool, "Fan Out Archived Clinic", 3, latest-1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.pool.Exec(w.ctx, `UPDATE tenants SET status = 'ARCHIVED' WHERE id = ANY($1)`, archived); err != nil {
		t.Fatal(err)
	}
	doomed := []uuid.UUID{ids[3], ids[77], ids[150]}
	for _, id := range doomed {
		w.drift(id, false)
	}

	e, s := w.run(nil)
	if e.Status != asl.StatusSucceeded {
		t.Fatalf("first run's execution %s: %s %s", e.Status, e.Error, e.Cause)
	}
	if s.Status != store.RunSucceeded || s.Total != 200 || s.Upgraded != 197 || s.Failed != 3 || s.Current != 0 || s.NotReached != 0 {
		t.Errorf("first run's summary %+v", s)
	}
	var failed []uuid.UUID
	for _, f := range s.Failures {
		failed = append(failed, f.TenantID)
		if f.ErrorType == "" || strings.Contains(f.Error, "@") {
			t.Errorf("failure %+v: want a typed, sanitised error", f)
		}
	}
	slices.SortFunc(failed, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	sortedDoomed := slices.Clone(doomed)
	slices.SortFunc(sortedDoomed, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	if !slices.Equal(failed, sortedDoomed) {
		t.Errorf("failures %v, want %v", failed, sortedDoomed)
	}
	// The audit trail holds each upgraded tenant's new version, as the batch function's,
	// and nothing for the tenants left behind.
	var upgraded, others, ofFailed int
	if err := w.pool.QueryRow(w.ctx, `SELECT
			count(DISTINCT tenant_id) FILTER (WHERE actor = 'system:MigrateTenantBatchFunction' AND (details->>'toVersion')::int = $1),
			count(*) FILTER (WHERE actor <> 'system:MigrateTenantBatchFunction'),
			count(*) FILTER (WHERE tenant_id = ANY($2))
		FROM audit_records WHERE action = 'tenant.upgraded'`, tenantdb.LatestVersion(), doomed).Scan(&upgraded, &others, &ofFailed); err != nil {
		t.Fatal(err)
	}
	if upgraded != 197 || others != 0 || ofFailed != 0 {
		t.Errorf("tenant.upgraded records: %d tenants at the newest version by the batch function (want 197), %d by others, %d for failed tenants", upgraded, others, ofFailed)
	}
	// The execution's output is the summary.
	var out upgrade.Summary
	if err := json.Unmarshal(e.Output, &out); err != nil || out.Upgraded != 197 || out.Failed != 3 {
		t.Errorf("execution output %s (%v)", e.Output, err)
	}
	// The fan-out ran as a Distributed Map: a Map Run per page, batches of at most 25.
	if len(e.MapRuns) != 4 {
		t.Fatalf("%d map runs, want 4 (pages of 64 of 200)", len(e.MapRuns))
	}
	items := 0
	for _, mr := range e.MapRuns {
		items += int(mr.ItemCounts.Total)
		if mr.MaxConcurrency != 4 || mr.Status != asl.StatusSucceeded {
			t.Errorf("map run %s: %s, MaxConcurrency %d", mr.Arn, mr.Status, mr.MaxConcurrency)
		}
		for _, c := range mr.Executions {
			var in upgrade.Batch
			if err := json.Unmarshal(c.Input, &in); err != nil || len(in.Items) > 25 || len(in.Items) == 0 || in.BatchInput.RunID != s.RunID {
				t.Errorf("child %s input %s (%v)", c.Name, c.Input, err)
			}
		}
	}
	if items != 200 {
		t.Errorf("map runs carried %d items, want 200", items)
	}
	v := w.versions(append(slices.Clone(ids), archived...))
	for _, id := range ids {
		want := latest
		if slices.Contains(doomed, id) {
			want = latest - 1
		}
		if v[id] != want {
			t.Errorf("tenant %s at %d, want %d", id, v[id], want)
		}
	}
	for _, id := range archived {
		if v[id] != latest-1 {
			t.Errorf("an ARCHIVED tenant was upgraded by an ACTIVE-only run")
		}
	}

	// Fixed: the second run upgrades the three alone.
	for _, id := range doomed {
		w.drift(id, true)
	}
	e, s = w.run(nil)
	if e.Status != asl.StatusSucceeded || s.Upgraded != 3 || s.Current != 197 || s.Failed != 0 || s.Total != 200 {
		t.Errorf("second run: %s, %+v", e.Status, s)
	}
	if n := len(e.MapRuns); n != 1 || e.MapRuns[0].ItemCounts.Total != 3 {
		t.Errorf("second run handed the Map %v, want the 3 tenants left", e.MapRuns)
	}
	for id, got := range w.versions(ids) {
		if got != latest {
			t.Errorf("after the second run tenant %s is at %d", id, got)
		}
	}
}

// A batch whose invocation keeps failing after its retries leaves its tenants untouched
// and PENDING; past the tolerated share the Map fails, the run ends FAILED with the error,
// and the next run upgrades what the failed one left.
func TestUpgradeBatchFailuresPastTheTolerance(t *testing.T) {
	t.Parallel()
	w := newUpgradeWorld(t)
	latest := tenantdb.LatestVersion()
	ids, err := seed.Behind(w.ctx, w.pool, "Tolerance Clinic", 60, latest-1, 2)
	if err != nil {
		t.Fatal(err)
	}
	broken := ids[10].String()
	e, s := w.run(func(c map[string]lambda.Handler) map[string]lambda.Handler {
		inner := c[catalog.MigrateTenantBatch.LogicalID]
		c[catalog.MigrateTenantBatch.LogicalID] = handlerFunc(func(ctx context.Context, payload []byte) ([]byte, error) {
			if strings.Contains(string(payload), broken) {
				return nil, fmt.Errorf("injected: this batch's invocation always fails")
			}
			return inner.Invoke(ctx, payload)
		})
		return c
	})
	if e.Status != asl.StatusFailed || e.Error != "States.ExceedToleratedFailureThreshold" {
		t.Fatalf("execution %s %s: %s", e.Status, e.Error, e.Cause)
	}
	if s.Status != store.RunFailed || !strings.Contains(s.Error, "ExceedToleratedFailureThreshold") || s.NotReached < 1 {
		t.Errorf("summary %+v", s)
	}
	if v := w.versions([]uuid.UUID{ids[10]}); v[ids[10]] != latest-1 {
		t.Errorf("the failed batch's tenant moved to %d", v[ids[10]])
	}
	// The Map aborted the batches still running: what they had done stays recorded, the
	// tenant each was in the middle of rolled back (FAILED, TransientError), the rest PENDING.
	for _, f := range s.Failures {
		if f.ErrorType != "TransientError" {
			t.Errorf("an aborted batch's tenant failed with %s: %s", f.ErrorType, f.Error)
		}
	}
	if s.Upgraded+s.Failed+s.NotReached != 60 {
		t.Errorf("the failed run accounts for %d tenants, want 60", s.Upgraded+s.Failed+s.NotReached)
	}
	_, again := w.run(nil)
	if again.Status != store.RunSucceeded || again.Upgraded != 60-s.Upgraded || again.Current != s.Upgraded || again.Failed != 0 {
		t.Errorf("the run after: %+v (the failed one: %+v)", again, s)
	}
}

type handlerFunc func(ctx context.Context, payload []byte) ([]byte, error)

func (f handlerFunc) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	return f(ctx, payload)
}
