package upgrade

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
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
		data := map[string]string{"schema": pgx.Identifier{n.Schema}.Sanitize(), "role": pgx.Identifier{n.Role()}.Sanitize()}
		if _, err := store.MigrateInTx(w.ctx, tx, pgx.Identifier{n.Schema, tenantdb.VersionTableName}.Sanitize(),
			fstest.MapFS{"001_tenant_tables.sql": {Data: first}}, data); err != nil {
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

func batchOf(ts ...tenant.Tenant) Batch {
	var b Batch
	for _, t := range ts {
		b.Items = append(b.Items, Item{TenantID: t.ID.String()})
	}
	return b
}

func ids(ts ...tenant.Tenant) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.ID.String())
	}
	return out
}

// Tenants behind are brought to the newest version, one transaction each, and the version
// is recorded; a tenant already current, or in a status the upgrade does not touch, is
// left as it is. A tenant whose migration fails stays at its old version, untouched, and a
// second run upgrades only it.
func TestMigrateBatch(t *testing.T) {
	t.Parallel()
	pool := testdb.New(t)
	w := &world{t: t, ctx: context.Background(), pool: pool, st: store.New(pool)}
	latest := tenantdb.LatestVersion()
	if latest < 2 {
		t.Fatal("the upgrade needs a second tenant migration to test")
	}
	var behind []tenant.Tenant
	for i := range 6 {
		behind = append(behind, w.oldTenant(fmt.Sprintf("Behind Clinic %d", i), tenant.StatusActive))
	}
	failed := w.oldTenant("Failed Old Clinic", tenant.StatusFailed)
	doomed := behind[2]

	u := New(pool, slog.New(slog.DiscardHandler))
	u.migrate = func(ctx context.Context, tx pgx.Tx, n tenantdb.Names) (store.MigrationResult, error) {
		res, err := tenantdb.Migrate(ctx, tx, n)
		if err == nil && n.TenantID == doomed.ID { // fails after the DDL ran: all of it must roll back
			err = &fault.InvariantError{Op: "injected", Msg: "migration failed"}
		}
		return res, err
	}
	res, err := u.MigrateBatch(w.ctx, batchOf(append(behind, failed)...))
	if err != nil {
		t.Fatal(err)
	}
	wantUpgraded := ids(slices.Concat(behind[:2], behind[3:])...)
	if res.ToVersion != latest || !slices.Equal(res.Upgraded, wantUpgraded) || len(res.Current) != 0 || len(res.Failed) != 2 ||
		res.Failed[0].TenantID != doomed.ID.String() || res.Failed[0].ErrorType != "InvariantError" ||
		res.Failed[1].TenantID != failed.ID.String() || res.Failed[1].ErrorType != "ConflictError" {
		t.Fatalf("first run: %+v", res)
	}
	for _, tn := range slices.Concat(behind[:2], behind[3:]) {
		if schema, rec := w.version(tn); schema != latest || rec == nil || *rec != latest {
			t.Errorf("%s: schema at %d, recorded %v; want %d", tn.Name, schema, rec, latest)
		}
	}
	for _, tn := range []tenant.Tenant{doomed, failed} {
		if schema, rec := w.version(tn); schema != 1 || rec != nil {
			t.Errorf("%s: schema at %d, recorded %v; want it untouched at 1", tn.Name, schema, rec)
		}
	}

	// The fault is fixed; the next run over the tenants behind upgrades the doomed one alone.
	u.migrate = tenantdb.Migrate
	left, err := w.st.Behind(w.ctx, []tenant.Status{tenant.StatusActive}, latest, uuid.Nil, 100)
	if err != nil || len(left) != 1 || left[0] != doomed.ID {
		t.Fatalf("behind after the first run: %v, %v; want the doomed tenant alone", left, err)
	}
	again, err := u.MigrateBatch(w.ctx, batchOf(append(behind, doomed)...))
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Upgraded) != 1 || again.Upgraded[0] != doomed.ID.String() || len(again.Current) != len(behind) || len(again.Failed) != 0 {
		t.Errorf("second run: %+v", again)
	}
}

// A tenant's upgrade takes that tenant's row lock and no other's: a tenant a provisioning
// step holds is reported busy (TransientError) once the lock wait runs out, while the
// other tenants of the batch are upgraded meanwhile.
func TestMigrateBatchWaitsOnOneTenantOnly(t *testing.T) {
	t.Parallel()
	pool := testdb.New(t)
	w := &world{t: t, ctx: context.Background(), pool: pool, st: store.New(pool)}
	held, free := w.oldTenant("Held Clinic", tenant.StatusActive), w.oldTenant("Free Clinic", tenant.StatusActive)
	tx, err := pool.Begin(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(w.ctx) }()
	if _, err := store.Lock(w.ctx, tx, held.ID); err != nil { // as a provisioning step holds it
		t.Fatal(err)
	}
	u := New(pool, slog.New(slog.DiscardHandler))
	u.LockTimeout = 200 * time.Millisecond
	res, err := u.MigrateBatch(w.ctx, batchOf(held, free))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Failed) != 1 || res.Failed[0].TenantID != held.ID.String() || res.Failed[0].ErrorType != "TransientError" ||
		!slices.Equal(res.Upgraded, ids(free)) {
		t.Errorf("result %+v; want the held tenant busy and the free one upgraded", res)
	}
	if schema, _ := w.version(held); schema != 1 {
		t.Errorf("the held tenant moved to %d", schema)
	}

}
