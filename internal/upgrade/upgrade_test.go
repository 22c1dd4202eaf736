package upgrade

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/tenant"
	"github.com/healthstack/tenant-provisioning/internal/tenantdb"
	"github.com/healthstack/tenant-provisioning/internal/testkit/testdb"
)

type world struct {
	t    *testing.T
	ctx  context.Context
	pool *pgxpool.Pool
	st   *store.Store
}

func newWorld(t *testing.T) *world {
	pool := testdb.New(t)
	return &world{t: t, ctx: context.Background(), pool: pool, st: store.New(pool)}
}

// run records a RUNNING upgrade run over statuses (ACTIVE when none).
func (w *world) run(dryRun bool, statuses ...tenant.Status) store.UpgradeRun {
	w.t.Helper()
	if len(statuses) == 0 {
		statuses = DefaultStatuses
	}
	r, err := w.st.CreateUpgradeRun(w.ctx, statuses, dryRun, tenantdb.LatestVersion())
	if err != nil {
		w.t.Fatal(err)
	}
	return r
}

// outcomes are the run's recorded outcomes by tenant id.
func (w *world) outcomes(run store.UpgradeRun) map[uuid.UUID]string {
	w.t.Helper()
	rows, err := w.pool.Query(w.ctx, `SELECT tenant_id, outcome FROM upgrade_results WHERE run_id = $1`, run.ID)
	if err != nil {
		w.t.Fatal(err)
	}
	out := map[uuid.UUID]string{}
	var id uuid.UUID
	var o string
	if _, err := pgx.ForEachRow(rows, []any{&id, &o}, func() error { out[id] = o; return nil }); err != nil {
		w.t.Fatal(err)
	}
	return out
}

// oldTenant is a tenant as provisioned before the newest migration: ACTIVE (or status),
// its schema at version 1, no version recorded in the control plane.
func (w *world) oldTenant(name string, status tenant.Status) tenant.Tenant {
	w.t.Helper()
	reg, err := tenant.Registration{Name: name, AdminEmail: "a@clinic.example", AdminFirstName: "A", AdminLastName: "B"}.Normalize()
	if err != nil {
		w.t.Fatal(err)
	}
	tn, err := w.st.Reserve(w.ctx, reg)
	if err != nil {
		w.t.Fatal(err)
	}
	first, err := os.ReadFile("../tenantdb/migrations/001_tenant_tables.sql")
	if err != nil {
		w.t.Fatal(err)
	}
	n := tenantdb.Names{TenantID: tn.ID, Schema: tenant.SchemaName(tn.Name, tn.ID)}
	err = pgx.BeginFunc(w.ctx, w.pool, func(tx pgx.Tx) error {
		if _, err := tenantdb.CreateSchema(w.ctx, tx, n); err != nil {
			return err
		}
		// As the tenant schemas' owner, as provisioning migrates (tenantdb.Migrate).
		if _, err := tx.Exec(w.ctx, `SET LOCAL ROLE `+tenantdb.OwnerRole); err != nil {
			return err
		}
		data := map[string]string{"schema": pgx.Identifier{n.Schema}.Sanitize(), "role": pgx.Identifier{n.Role()}.Sanitize()}
		if _, err := store.MigrateInTx(w.ctx, tx, pgx.Identifier{n.Schema, tenantdb.VersionTableName}.Sanitize(),
			fstest.MapFS{"001_tenant_tables.sql": {Data: first}}, data); err != nil {
			return err
		}
		if _, err := tx.Exec(w.ctx, `SET LOCAL ROLE NONE`); err != nil {
			return err
		}
		_, err := tx.Exec(w.ctx, `UPDATE tenants SET status = $2, schema_name = $3 WHERE id = $1`, tn.ID, string(status), n.Schema)
		return err
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return tn
}

// version is the tenant's schema version as its schema and as the control plane say.
func (w *world) version(tn tenant.Tenant) (schema int32, recorded *int32) {
	w.t.Helper()
	n := tenantdb.Names{TenantID: tn.ID, Schema: tenant.SchemaName(tn.Name, tn.ID)}
	schema, err := tenantdb.Version(w.ctx, w.pool, n)
	if err != nil {
		w.t.Fatal(err)
	}
	if err := w.pool.QueryRow(w.ctx, `SELECT schema_version FROM tenants WHERE id = $1`, tn.ID).Scan(&recorded); err != nil {
		w.t.Fatal(err)
	}
	return schema, recorded
}

// errReleased ends hold's transaction, rolling it back.
var errReleased = errors.New("released")

// hold locks the tenant's row, as a provisioning step holds it, in a transaction of its
// own until release (at the latest when the test ends), which returns once it has ended.
func (w *world) hold(id uuid.UUID) (release func()) {
	w.t.Helper()
	locked, done, ended := make(chan error, 1), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(ended)
		err := w.st.InTx(w.ctx, func(tx *store.Tx) error {
			if _, err := tx.Lock(w.ctx, id); err != nil {
				return err
			}
			locked <- nil
			<-done
			return errReleased
		})
		if !errors.Is(err, errReleased) {
			locked <- err
		}
	}()
	release = sync.OnceFunc(func() { close(done); <-ended })
	w.t.Cleanup(release)
	if err := <-locked; err != nil {
		w.t.Fatal(err)
	}
	return release
}

func batchOf(run store.UpgradeRun, ts ...tenant.Tenant) Batch {
	b := Batch{BatchInput: BatchInput{RunID: run.ID}}
	for _, t := range ts {
		b.Items = append(b.Items, Item{TenantID: t.ID.String()})
	}
	return b
}

// Tenants behind are brought to the newest version, one transaction each, and the version
// and the outcome are recorded; a tenant in a status the run does not touch is left as it
// is. A tenant whose migration fails stays at its old version, untouched, and the next run
// lists and upgrades only it.
func TestMigrateBatch(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	latest := tenantdb.LatestVersion()
	if latest < 2 {
		t.Fatal("the upgrade needs a second tenant migration to test")
	}
	var behind []tenant.Tenant
	for i := range 6 {
		behind = append(behind, w.oldTenant(fmt.Sprintf("Behind Clinic %d", i), tenant.StatusActive))
	}
	archived := w.oldTenant("Archived Old Clinic", tenant.StatusArchived)
	doomed := behind[2]

	u := New(w.pool, slog.New(slog.DiscardHandler))
	u.migrate = func(ctx context.Context, tx pgx.Tx, n tenantdb.Names) (store.MigrationResult, error) {
		res, err := tenantdb.Migrate(ctx, tx, n)
		if err == nil && n.TenantID == doomed.ID { // fails after the DDL ran: all of it must roll back
			err = &fault.InvariantError{Op: "injected", Msg: "migration failed"}
		}
		return res, err
	}
	first := w.run(false)
	res, err := u.MigrateBatch(w.ctx, batchOf(first, append(behind, archived)...))
	if err != nil {
		t.Fatal(err)
	}
	if want := (Counts{ToVersion: latest, Upgraded: 5, Failed: 2}); res != want {
		t.Fatalf("first run: %+v, want %+v", res, want)
	}
	got := w.outcomes(first)
	for _, tn := range slices.Concat(behind[:2], behind[3:]) {
		if schema, rec := w.version(tn); schema != latest || rec == nil || *rec != latest || got[tn.ID] != store.OutcomeUpgraded {
			t.Errorf("%s: schema at %d, recorded %v, outcome %q; want %d, UPGRADED", tn.Name, schema, rec, got[tn.ID], latest)
		}
	}
	for _, tn := range []tenant.Tenant{doomed, archived} {
		if schema, rec := w.version(tn); schema != 1 || rec != nil || got[tn.ID] != store.OutcomeFailed {
			t.Errorf("%s: schema at %d, recorded %v, outcome %q; want it untouched at 1 and FAILED", tn.Name, schema, rec, got[tn.ID])
		}
	}
	failures, err := w.st.UpgradeFailures(w.ctx, first.ID, 10)
	if err != nil || len(failures) != 2 {
		t.Fatalf("failures %+v, %v", failures, err)
	}
	types := map[uuid.UUID]string{failures[0].TenantID: failures[0].ErrorType, failures[1].TenantID: failures[1].ErrorType}
	if types[doomed.ID] != "InvariantError" || types[archived.ID] != "ConflictError" {
		t.Errorf("failure types %v", types)
	}
	if _, err := u.Summarize(w.ctx, Finish{RunID: first.ID}); err != nil {
		t.Fatal(err)
	}

	// The fault is fixed; the next run lists the doomed tenant alone and upgrades it.
	u.migrate = tenantdb.Migrate
	second := w.run(false)
	page, err := u.List(w.ctx, Page{RunID: second.ID})
	if err != nil || !slices.Equal(page.TenantIDs, []uuid.UUID{doomed.ID}) || page.More {
		t.Fatalf("second run's page: %+v, %v; want the doomed tenant alone", page, err)
	}
	again, err := u.MigrateBatch(w.ctx, batchOf(second, doomed))
	if err != nil {
		t.Fatal(err)
	}
	if want := (Counts{ToVersion: latest, Upgraded: 1}); again != want {
		t.Errorf("second run: %+v, want %+v", again, want)
	}
	s, err := u.Summarize(w.ctx, Finish{RunID: second.ID})
	if err != nil {
		t.Fatal(err)
	}
	if s.Status != store.RunSucceeded || s.Upgraded != 1 || s.Current != 5 || s.Failed != 0 || s.Total != 6 || len(s.Failures) != 0 {
		t.Errorf("second run's summary: %+v", s)
	}
}

// A batch run again (Step Functions delivers at least once, and retries a timed-out
// invocation) finds the tenants its first run upgraded at the target. They stay UPGRADED,
// from their old version, whether the repeat finds them current or fails on them; a
// tenant at the target before the run started is CURRENT. Each tenant is counted once.
func TestMigrateBatchRepeated(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	latest := tenantdb.LatestVersion()
	a, b := w.oldTenant("Repeat Clinic A", tenant.StatusActive), w.oldTenant("Repeat Clinic B", tenant.StatusActive)
	already := w.oldTenant("Repeat Clinic Current", tenant.StatusActive)
	u := New(w.pool, slog.New(slog.DiscardHandler))
	earlier := w.run(false)
	if _, err := u.MigrateBatch(w.ctx, batchOf(earlier, already)); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Summarize(w.ctx, Finish{RunID: earlier.ID}); err != nil {
		t.Fatal(err)
	}

	run := w.run(false)
	batch := batchOf(run, a, b, already)
	want := store.UpgradeCounts{Upgraded: 2, Current: 1}
	for i := range 2 {
		if _, err := u.MigrateBatch(w.ctx, batch); err != nil {
			t.Fatal(err)
		}
		if c, err := w.st.UpgradeCounts(w.ctx, run); err != nil || c != want {
			t.Errorf("after run %d of the batch: counts %+v, %v; want %+v", i+1, c, err, want)
		}
	}
	// A third delivery fails on A (say it was archived meanwhile): A's schema moved in this
	// run all the same.
	u.migrate = func(ctx context.Context, tx pgx.Tx, n tenantdb.Names) (store.MigrationResult, error) {
		if n.TenantID == a.ID {
			return store.MigrationResult{}, &fault.InvariantError{Op: "injected", Msg: "migration failed"}
		}
		return tenantdb.Migrate(ctx, tx, n)
	}
	if _, err := u.MigrateBatch(w.ctx, batch); err != nil {
		t.Fatal(err)
	}
	s, err := u.Summarize(w.ctx, Finish{RunID: run.ID})
	if err != nil || s.Upgraded != 2 || s.Current != 1 || s.Failed != 0 || s.Total != 3 || len(s.Failures) != 0 {
		t.Errorf("summary %+v, %v; want A and B upgraded, the current tenant current, no failure", s, err)
	}
	for _, tn := range []tenant.Tenant{a, b} {
		var from, to int32
		if err := w.pool.QueryRow(w.ctx, `SELECT from_version, to_version FROM upgrade_results WHERE run_id = $1 AND tenant_id = $2`,
			run.ID, tn.ID).Scan(&from, &to); err != nil || from != 1 || to != latest {
			t.Errorf("%s: recorded %d → %d, %v; want 1 → %d", tn.Name, from, to, err, latest)
		}
	}
}

// A tenant's upgrade takes that tenant's row lock and no other's: a tenant a provisioning
// step holds is reported busy (TransientError) once the lock wait runs out, while the
// other tenants of the batch are upgraded meanwhile. (Their transactions are: an index
// built concurrently afterwards waits for every older transaction in the database to end,
// the holder's too, so the holder lets go first, as a step's transaction ends within
// milliseconds.)
func TestMigrateBatchWaitsOnOneTenantOnly(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	held, free := w.oldTenant("Held Clinic", tenant.StatusActive), w.oldTenant("Free Clinic", tenant.StatusActive)
	release := w.hold(held.ID)
	u := New(w.pool, slog.New(slog.DiscardHandler))
	u.LockTimeout = 200 * time.Millisecond
	u.outside = func(ctx context.Context, conn *pgx.Conn, n tenantdb.Names) (store.MigrationResult, error) {
		release()
		return tenantdb.MigrateOutside(ctx, conn, n)
	}
	run := w.run(false)
	res, err := u.MigrateBatch(w.ctx, batchOf(run, held, free))
	if err != nil {
		t.Fatal(err)
	}
	failures, ferr := w.st.UpgradeFailures(w.ctx, run.ID, 10)
	if res.Failed != 1 || res.Upgraded != 1 || ferr != nil || len(failures) != 1 || failures[0].TenantID != held.ID ||
		failures[0].ErrorType != "TransientError" {
		t.Errorf("result %+v, failures %+v; want the held tenant busy and the free one upgraded", res, failures)
	}
	if schema, _ := w.version(held); schema != 1 {
		t.Errorf("the held tenant moved to %d", schema)
	}
}

// List pages through the tenants behind in the run's statuses, recording each PENDING;
// the first page counts those already current; a tenant in another status is not listed.
func TestList(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	var behind []uuid.UUID
	for i := range 5 {
		behind = append(behind, w.oldTenant(fmt.Sprintf("Listed Clinic %d", i), tenant.StatusActive).ID)
	}
	current := w.oldTenant("Current Clinic", tenant.StatusActive)
	if _, err := w.pool.Exec(w.ctx, `UPDATE tenants SET schema_version = $2 WHERE id = $1`, current.ID, tenantdb.LatestVersion()); err != nil {
		t.Fatal(err)
	}
	archived := w.oldTenant("Archived Listed Clinic", tenant.StatusArchived)
	slices.SortFunc(behind, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })

	u := New(w.pool, slog.New(slog.DiscardHandler))
	u.PageSize = 2
	run := w.run(false)
	var seen []uuid.UUID
	p := Page{RunID: run.ID}
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("List never ran out of pages")
		}
		l, err := u.List(w.ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		seen = append(seen, l.TenantIDs...)
		if !l.More {
			break
		}
		p.Cursor = l.Cursor
	}
	if !slices.Equal(seen, behind) {
		t.Errorf("listed %v, want %v", seen, behind)
	}
	run, _ = w.st.UpgradeRun(w.ctx, run.ID)
	c, err := w.st.UpgradeCounts(w.ctx, run)
	if err != nil || c != (store.UpgradeCounts{Pending: 5, Current: 1}) {
		t.Errorf("counts %+v, %v; want 5 pending, 1 current", c, err)
	}
	if _, listed := w.outcomes(run)[archived.ID]; listed {
		t.Error("an ARCHIVED tenant was listed by an ACTIVE-only run")
	}
}

// A dry run reports the tenants behind as PLANNED and changes no schema.
func TestDryRun(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	old := w.oldTenant("Dry Clinic", tenant.StatusActive)
	u := New(w.pool, slog.New(slog.DiscardHandler))
	run := w.run(true)
	res, err := u.MigrateBatch(w.ctx, batchOf(run, old))
	if err != nil {
		t.Fatal(err)
	}
	if want := (Counts{ToVersion: tenantdb.LatestVersion(), Planned: 1}); res != want {
		t.Errorf("dry run %+v, want %+v", res, want)
	}
	if schema, rec := w.version(old); schema != 1 || rec != nil {
		t.Errorf("a dry run moved the schema to %d (recorded %v)", schema, rec)
	}
}

// The steps refuse a run that has ended or does not exist; a failed run keeps its reason.
func TestRunEnds(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	old := w.oldTenant("Late Clinic", tenant.StatusActive)
	u := New(w.pool, slog.New(slog.DiscardHandler))
	run := w.run(false)
	if _, err := w.st.CreateUpgradeRun(w.ctx, DefaultStatuses, false, tenantdb.LatestVersion()); fault.Name(err) != "ConflictError" {
		t.Errorf("a second RUNNING run: %v, want ConflictError", err)
	}
	s, err := u.Summarize(w.ctx, Finish{RunID: run.ID, Error: &CaughtError{Error: "States.ExceedToleratedFailureThreshold", Cause: "too many batches failed"}})
	if err != nil || s.Status != store.RunFailed || !strings.Contains(s.Error, "ExceedToleratedFailureThreshold") || s.FinishedAt == nil {
		t.Fatalf("summary %+v, %v", s, err)
	}
	if _, err := u.MigrateBatch(w.ctx, batchOf(run, old)); fault.Name(err) != "ConflictError" {
		t.Errorf("a batch of an ended run: %v, want ConflictError", err)
	}
	if _, err := u.List(w.ctx, Page{RunID: run.ID}); fault.Name(err) != "ConflictError" {
		t.Errorf("a page of an ended run: %v, want ConflictError", err)
	}
	if schema, _ := w.version(old); schema != 1 {
		t.Errorf("an ended run's batch migrated the tenant to %d", schema)
	}
	if _, err := u.List(w.ctx, Page{RunID: uuid.New()}); fault.Name(err) != "ValidationError" {
		t.Errorf("an unknown run: %v, want ValidationError", err)
	}
	again, err := u.Summarize(w.ctx, Finish{RunID: run.ID})
	if err != nil || again.Status != store.RunFailed {
		t.Errorf("summarising again: %+v, %v; want the first ending kept", again, err)
	}
}

// A tenant's migration locks nothing of any other tenant: inside each tenant's
// transaction, after its DDL, the relations its backend holds locks on are in that
// tenant's schema or the control plane (public) only. The lister locks no tenant row: it
// lists a tenant a provisioning step holds without waiting for it.
func TestUpgradeLocksOneTenantAtATime(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a, b := w.oldTenant("Lock Scope Clinic A", tenant.StatusActive), w.oldTenant("Lock Scope Clinic B", tenant.StatusActive)
	u := New(w.pool, slog.New(slog.DiscardHandler))
	checked := map[uuid.UUID]int{} // transactions checked, by tenant
	u.migrate = func(ctx context.Context, tx pgx.Tx, n tenantdb.Names) (store.MigrationResult, error) {
		res, err := tenantdb.Migrate(ctx, tx, n)
		if err != nil {
			return res, err
		}
		rows, err := tx.Query(ctx, `SELECT DISTINCT c.relnamespace::regnamespace::text FROM pg_locks l
			JOIN pg_class c ON c.oid = l.relation WHERE l.pid = pg_backend_pid()`)
		if err != nil {
			return res, err
		}
		schemas, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return res, err
		}
		for _, s := range schemas {
			if s != n.Schema && s != "public" && s != "pg_catalog" {
				t.Errorf("migrating %s holds a lock in schema %s", n.Schema, s)
			}
		}
		if !slices.Contains(schemas, n.Schema) {
			t.Errorf("migrating %s holds no lock in its own schema: the check sees nothing", n.Schema)
		}
		checked[n.TenantID]++
		return res, nil
	}

	// B is held, as a provisioning step holds a tenant: listing does not wait for it.
	release := w.hold(b.ID)
	run := w.run(false)
	lctx, cancel := context.WithTimeout(w.ctx, 2*time.Second)
	page, err := u.List(lctx, Page{RunID: run.ID})
	cancel()
	if err != nil || !slices.Contains(page.TenantIDs, b.ID) || !slices.Contains(page.TenantIDs, a.ID) {
		t.Fatalf("List while a tenant is held: %+v, %v; want both listed at once", page, err)
	}
	release()
	if _, err := u.MigrateBatch(w.ctx, batchOf(run, a, b)); err != nil || checked[a.ID] == 0 || checked[b.ID] == 0 {
		t.Fatalf("MigrateBatch: %v, transactions checked by tenant %v", err, checked)
	}
}
