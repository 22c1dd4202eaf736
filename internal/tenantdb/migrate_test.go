package tenantdb

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/tenant"
	"github.com/healthstack/tenant-provisioning/internal/testkit/testdb"
)

// indexVersion is the migration that builds audit_logs_user_created_idx concurrently
// (004_audit_by_user.sql), the one the resume tests stop half-way.
const indexVersion int32 = 4

// firstMigrations are the first version tenant migration files, as a release whose newest
// migration was version shipped them.
func firstMigrations(t *testing.T, version int32) fs.FS {
	t.Helper()
	all, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	entries, err := fs.ReadDir(all, ".")
	if err != nil || len(entries) < int(version) {
		t.Fatalf("%d migration files (%v), want at least %d", len(entries), err, version)
	}
	out := fstest.MapFS{}
	for _, e := range entries[:version] {
		data, err := fs.ReadFile(all, e.Name())
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = &fstest.MapFile{Data: data}
	}
	return out
}

// newTenant records an ACTIVE tenant in the control plane (so that the test database's
// cleanup drops its role) and creates its schema and role, with no tables yet.
func newTenant(ctx context.Context, t *testing.T, pool *pgxpool.Pool, name string) Names {
	t.Helper()
	id, err := tenant.NewID()
	if err != nil {
		t.Fatal(err)
	}
	n := Names{TenantID: id, Schema: tenant.SchemaName(name, id)}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO tenants (id, name, slug, status, admin_email, admin_first_name, admin_last_name, schema_name)
			VALUES ($1, $2, $3, 'ACTIVE', 'admin@clinic.example', 'A', 'B', $4)`, id, name, tenant.Slug(name), n.Schema); err != nil {
			return err
		}
		_, err := CreateSchema(ctx, tx, n)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// freshAt is a tenant provisioned when version was the newest migration: every migration
// up to it applied from nothing, in one transaction, as RunMigrations applies them.
func freshAt(ctx context.Context, t *testing.T, pool *pgxpool.Pool, name string, version int32) Names {
	t.Helper()
	n := newTenant(ctx, t, pool, name)
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		res, err := migrate(ctx, tx, n, firstMigrations(t, version))
		if err == nil && (res.To != version || res.OutsideTx) {
			err = fmt.Errorf("migrated a new schema to %+v, want %d in one transaction", res, version)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// conn is a connection of the pool's for the test, released when it ends.
func conn(ctx context.Context, t *testing.T, pool *pgxpool.Pool) *pgx.Conn {
	t.Helper()
	c, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Release)
	return c.Conn()
}

// shape is what the schema holds, each line with the tenant's name replaced: its tables'
// columns, its indexes (and whether each is valid), its constraints, what the tenant role
// may do on each table, and its recorded version. Columns are listed without their
// position, which a column dropped and added again would shift.
func shape(ctx context.Context, t *testing.T, db store.DB, n Names) []string {
	t.Helper()
	rows, err := db.Query(ctx, `
		SELECT format('column %s.%s %s null=%s default=%s', table_name, column_name, data_type, is_nullable, column_default)
		FROM information_schema.columns WHERE table_schema = $1
		UNION ALL
		SELECT format('index %s valid=%s', pg_get_indexdef(i.indexrelid), i.indisvalid)
		FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relnamespace = $1::regnamespace
		UNION ALL
		SELECT format('constraint %s.%s %s', r.relname, k.conname, pg_get_constraintdef(k.oid))
		FROM pg_constraint k JOIN pg_class r ON r.oid = k.conrelid WHERE r.relnamespace = $1::regnamespace
		UNION ALL
		SELECT format('grant %s %s', table_name, privilege_type)
		FROM information_schema.role_table_grants WHERE table_schema = $1 AND grantee = $1
		UNION ALL
		SELECT 'version ' || version FROM `+n.versionTable()+`
		ORDER BY 1`, pgx.QueryExecModeExec, n.Schema)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(lines) == 0 {
		t.Fatalf("shape of %s: %d lines (%v)", n.Schema, len(lines), err)
	}
	for i, l := range lines {
		lines[i] = strings.ReplaceAll(l, n.Schema, "<tenant>")
	}
	return lines
}

// sameShape fails the test where got and want differ, line by line.
func sameShape(t *testing.T, what string, got, want []string) {
	t.Helper()
	if slices.Equal(got, want) {
		return
	}
	for _, l := range want {
		if !slices.Contains(got, l) {
			t.Errorf("%s lacks %s", what, l)
		}
	}
	for _, l := range got {
		if !slices.Contains(want, l) {
			t.Errorf("%s has %s, which a fresh tenant does not", what, l)
		}
	}
}

// Every tenant migration, on a tenant at every version the release serves: each migration
// applied the way the steps apply it (in a transaction, or outside one for a concurrent
// index build) to a tenant at the version before it leaves that tenant exactly as a tenant
// provisioned at its version; a tenant at each supported version is brought to the newest
// and ends as a new tenant does; a tenant that reached 3 before the index moved to 4 (its
// 003 built it) is brought up too; and Downgrade takes a new tenant back to each version,
// again exactly as a tenant provisioned then.
func TestEveryMigrationOnEverySupportedVersion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	latest := LatestVersion()
	if latest <= OldestSupportedVersion {
		t.Skip("no migration after the oldest supported version")
	}
	fresh := map[int32][]string{}
	for v := OldestSupportedVersion; v <= latest; v++ {
		n := freshAt(ctx, t, pool, fmt.Sprintf("Fresh %d Clinic", v), v)
		fresh[v] = shape(ctx, t, pool, n)
	}

	for v := OldestSupportedVersion + 1; v <= latest; v++ {
		t.Run(fmt.Sprintf("migration %d alone", v), func(t *testing.T) {
			n := freshAt(ctx, t, pool, fmt.Sprintf("Step %d Clinic", v), v-1)
			res, err := migrateAll(ctx, conn(ctx, t, pool), n, firstMigrations(t, v))
			if err != nil || res.From != v-1 || res.To != v {
				t.Fatalf("migration %d: %+v, %v; want %d → %d", v, res, err, v-1, v)
			}
			sameShape(t, fmt.Sprintf("a tenant at %d after migration %d", v-1, v), shape(ctx, t, pool, n), fresh[v])
		})
	}
	for v := OldestSupportedVersion; v < latest; v++ {
		t.Run(fmt.Sprintf("from %d to the newest", v), func(t *testing.T) {
			n := freshAt(ctx, t, pool, fmt.Sprintf("Behind %d Clinic", v), v)
			res, err := MigrateAll(ctx, conn(ctx, t, pool), n)
			if err != nil || res.From != v || res.To != latest {
				t.Fatalf("%+v, %v; want %d → %d", res, err, v, latest)
			}
			sameShape(t, fmt.Sprintf("a tenant brought from %d", v), shape(ctx, t, pool, n), fresh[latest])
		})
	}
	t.Run("from 3 as the release before built it", func(t *testing.T) {
		n := freshAt(ctx, t, pool, "Old Three Clinic", indexVersion-1)
		if _, err := pool.Exec(ctx, `CREATE INDEX audit_logs_user_created_idx ON `+n.schemaIdent()+`.audit_logs (user_id, created_at DESC)`); err != nil {
			t.Fatal(err)
		}
		res, err := MigrateAll(ctx, conn(ctx, t, pool), n)
		if err != nil || res.To != latest {
			t.Fatalf("%+v, %v; want it at %d", res, err, latest)
		}
		sameShape(t, "a tenant whose 003 built the index", shape(ctx, t, pool, n), fresh[latest])
	})
	t.Run("downgrade", func(t *testing.T) {
		n := freshAt(ctx, t, pool, "Downgraded Clinic", latest)
		for v := latest - 1; v >= OldestSupportedVersion; v-- {
			err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
				_, err := Downgrade(ctx, tx, n, v)
				return err
			})
			if err != nil {
				t.Fatalf("downgrade to %d: %v", v, err)
			}
			sameShape(t, fmt.Sprintf("a tenant taken back to %d", v), shape(ctx, t, pool, n), fresh[v])
		}
	})
}

// halfDone leaves audit_logs_user_created_idx invalid on a tenant at indexVersion-1, as a
// build that stopped half-way leaves it.
type halfDone func(ctx context.Context, t *testing.T, pool *pgxpool.Pool, n Names)

// cancelledBuild starts the migration's own concurrent build while a transaction of the
// tenant's app has an insert open, which the build waits for once it has entered the
// index in the catalog (invalid), and cancels it there: an attempt whose deadline came.
func cancelledBuild(ctx context.Context, t *testing.T, pool *pgxpool.Pool, n Names) {
	t.Helper()
	app, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Rollback(ctx)
	if _, err := app.Exec(ctx, `INSERT INTO `+n.schemaIdent()+`.audit_logs (actor, action, entity_type) VALUES ('system:test', 'open', 'test')`); err != nil {
		t.Fatal(err)
	}
	bctx, cancel := context.WithCancel(ctx)
	defer cancel()
	built := make(chan error, 1)
	c := conn(ctx, t, pool)
	go func() {
		_, err := MigrateOutside(bctx, c, n)
		built <- err
	}()
	for {
		if exists, _ := indexState(ctx, t, pool, n); exists {
			break
		}
		select {
		case err := <-built:
			t.Fatalf("the build ended (%v) before it entered its index", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	if err := <-built; fault.Name(err) != "TransientError" {
		t.Fatalf("the cancelled build: %v (%s), want a TransientError", err, fault.Name(err))
	}
	// pgx sends the server its cancel request and drops the connection without waiting;
	// until the request lands, the build's backend still waits for the writer, and would
	// finish the index once the writer ends. Stop it for sure before the writer does: the
	// case under test is a build that stopped half-way.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var running int
		if err := pool.QueryRow(ctx, `SELECT count(pg_cancel_backend(pid)) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active'
			  AND query ILIKE 'CREATE INDEX CONCURRENTLY%'`).Scan(&running); err != nil {
			t.Fatal(err)
		}
		if running == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the cancelled build's backend is still running")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// failedUniqueBuild leaves an index of the name invalid by another definition's failure: a
// unique build that met duplicates.
func failedUniqueBuild(ctx context.Context, t *testing.T, pool *pgxpool.Pool, n Names) {
	t.Helper()
	s := n.schemaIdent()
	if _, err := pool.Exec(ctx, `INSERT INTO `+s+`.audit_logs (actor, action, entity_type) VALUES ('system:test', 'same', 'test'), ('system:test', 'same', 'test')`); err != nil {
		t.Fatal(err)
	}
	_, err := pool.Exec(ctx, `CREATE UNIQUE INDEX CONCURRENTLY audit_logs_user_created_idx ON `+s+`.audit_logs (action)`)
	if fault.Name(fault.FromDB("test", err)) != "ConflictError" {
		t.Fatalf("the unique build on duplicates: %v, want a unique violation", err)
	}
}

// indexState says whether audit_logs_user_created_idx exists and is valid.
func indexState(ctx context.Context, t *testing.T, pool *pgxpool.Pool, n Names) (exists, valid bool) {
	t.Helper()
	err := pool.QueryRow(ctx, `SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass($1)`,
		pgx.Identifier{n.Schema, "audit_logs_user_created_idx"}.Sanitize()).Scan(&valid)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true, valid
}

// A concurrent build that stopped half-way leaves its index invalid, and the version where
// it was; the next attempt drops the leftover, builds the index again and only then
// records the version, ending exactly as a new tenant.
func TestAHalfDoneIndexBuildIsResumed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	want := shape(ctx, t, pool, freshAt(ctx, t, pool, "Resume Fresh Clinic", LatestVersion()))
	for _, tt := range []struct {
		name string
		stop halfDone
	}{
		{"cancelled while it waited for a writer", cancelledBuild},
		{"a unique build of the name that met duplicates", failedUniqueBuild},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n := freshAt(ctx, t, pool, "Resume Clinic "+tt.name[:8], indexVersion-1)
			tt.stop(ctx, t, pool, n)
			if exists, valid := indexState(ctx, t, pool, n); !exists || valid {
				t.Fatalf("after the stopped build the index exists %v, valid %v; want it there, invalid", exists, valid)
			}
			if v, err := Version(ctx, pool, n); err != nil || v != indexVersion-1 {
				t.Fatalf("after the stopped build the version is %d (%v), want %d", v, err, indexVersion-1)
			}
			res, err := MigrateAll(ctx, conn(ctx, t, pool), n)
			if err != nil || res.To != LatestVersion() {
				t.Fatalf("the next attempt: %+v, %v; want it at %d", res, err, LatestVersion())
			}
			sameShape(t, "the resumed tenant", shape(ctx, t, pool, n), want)
		})
	}
}

// Two attempts never build at once: while another session holds the tenant's lock (its
// build under way, its index invalid meanwhile), MigrateOutside waits without touching
// the index, until its deadline; once the lock is free it builds.
func TestMigrateOutsideWaitsForTheAttemptBuilding(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	n := freshAt(ctx, t, pool, "Two Attempts Clinic", indexVersion-1)
	failedUniqueBuild(ctx, t, pool, n) // the other attempt's index, as invalid as one being built
	other := conn(ctx, t, pool)
	if _, err := other.Exec(ctx, `SELECT pg_advisory_lock($1, $2)`, outsideLockClass, n.lockKey()); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 3*lockPoll)
	_, err := MigrateOutside(wctx, conn(ctx, t, pool), n)
	cancel()
	if fault.Name(err) != "TransientError" {
		t.Errorf("while another attempt holds the lock: %v (%s), want a TransientError at the deadline", err, fault.Name(err))
	}
	if exists, valid := indexState(ctx, t, pool, n); !exists || valid {
		t.Errorf("the waiting attempt touched the other's index: exists %v, valid %v", exists, valid)
	}
	if _, err := other.Exec(ctx, `SELECT pg_advisory_unlock($1, $2)`, outsideLockClass, n.lockKey()); err != nil {
		t.Fatal(err)
	}
	if res, err := MigrateOutside(ctx, conn(ctx, t, pool), n); err != nil || res.To != indexVersion {
		t.Errorf("once the lock is free: %+v, %v; want %d", res, err, indexVersion)
	}
	if exists, valid := indexState(ctx, t, pool, n); !exists || !valid {
		t.Errorf("after the build the index exists %v, valid %v", exists, valid)
	}
}
