package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/healthstack/tenant-provisioning/internal/catalog"
	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/tenantdb"
	"github.com/healthstack/tenant-provisioning/internal/testkit/testdb"
)

// asUser opens a pool on the test database as one of the functions' users.
func asUser(t *testing.T, url string, u catalog.DBUser) *pgxpool.Pool {
	return testdb.As(t, url, string(u))
}

// TestEveryDatabaseUserHoldsOnlyItsRights runs, as each function's database user, what its
// functions do and what they must not be able to do, against a tenant schema created by
// the provisioning user: the activation user reads no table, tenant or control plane, and
// creates nothing; the read user writes nothing; no user but provisioning creates a
// schema, and none creates in public, makes temporary tables or touches the migrations'
// version table.
func TestEveryDatabaseUserHoldsOnlyItsRights(t *testing.T) {
	ctx := context.Background()
	admin, url := testdb.NewWithURL(t)

	// A tenant as provisioning leaves it, made by the provisioning user.
	id := uuid.New()
	n := tenantdb.Names{TenantID: id, Schema: "t_access_" + id.String()[:8]}
	if _, err := admin.Exec(ctx, `INSERT INTO tenants (id, name, slug, schema_name, status, admin_email, admin_first_name, admin_last_name)
		VALUES ($1, 'Access Clinic', 'access-clinic', $2, 'ACTIVE', 'admin@access.example', 'A', 'B')`, id, n.Schema); err != nil {
		t.Fatal(err)
	}
	err := pgx.BeginFunc(ctx, asUser(t, url, catalog.ProvisionerUser), func(tx pgx.Tx) error {
		if _, err := tenantdb.CreateSchema(ctx, tx, n); err != nil {
			return err
		}
		_, err := tenantdb.Migrate(ctx, tx, n)
		return err
	})
	if err != nil {
		t.Fatalf("the provisioning user creates and migrates a tenant schema: %v", err)
	}
	t.Cleanup(func() {
		_ = pgx.BeginFunc(context.Background(), admin, func(tx pgx.Tx) error { _, err := tenantdb.Drop(ctx, tx, n); return err })
	})
	tenantTable := pgx.Identifier{n.Schema, "users"}.Sanitize()
	otherSchema := pgx.Identifier{"t_other_" + id.String()[:8]}.Sanitize()

	// What no function's user may do.
	never := []string{
		`CREATE TABLE public.intruder (id int)`,
		`CREATE TEMP TABLE intruder (id int)`,
		`UPDATE public.schema_version SET version = version`,
		`CREATE ROLE intruder`,
	}
	type check struct {
		sql     string
		allowed bool
	}
	cases := map[catalog.DBUser][]check{
		catalog.ActivationUser: {
			{`SELECT count(*) FROM tenants`, false},
			{`SELECT count(*) FROM ` + tenantTable, false},
			{`SELECT count(*) FROM provisioning_logs`, false},
			{`CREATE SCHEMA ` + otherSchema, false},
			{`SELECT count(*) FROM activation_pending('` + id.String() + `', '\x00')`, true},
			{`SELECT redeem_activation('` + id.String() + `', '\x00', '$argon2id$x')`, true},
			{`SELECT activation_attempt('192.0.2.1', 10, 60)`, true},
			{`SELECT count(*) FROM activation_attempts`, false},
		},
		catalog.APIReadUser: {
			{`SELECT count(*) FROM tenants`, true},
			{`SELECT count(*) FROM upgrade_results`, true},
			{`SELECT tenant_count_estimate('')`, true},
			{`UPDATE tenants SET name = name`, false},
			{`INSERT INTO upgrade_runs (id) VALUES (gen_random_uuid())`, false},
			{`DELETE FROM provisioning_logs`, false},
			{`SELECT count(*) FROM ` + tenantTable, false},
			{`SELECT count(*) FROM activation_pending('` + id.String() + `', '\x00')`, false},
			{`CREATE SCHEMA ` + otherSchema, false},
		},
		catalog.APIWriteUser: {
			{`UPDATE tenants SET name = name`, true},
			{`SELECT count(*) FROM ` + tenantTable, true}, // resends activation links
			{`DELETE FROM tenants`, false},
			{`SELECT count(*) FROM contract_transactions`, false},
			{`CREATE SCHEMA ` + otherSchema, false},
		},
		catalog.ProvisionerUser: {
			{`UPDATE tenants SET name = name`, true},
			{`SELECT count(*) FROM deployer_leases`, true},
			{`DELETE FROM tenants`, false},
			{`UPDATE upgrade_runs SET status = status`, false},
		},
		catalog.UpgraderUser: {
			{`UPDATE tenants SET name = name`, true},
			{`ALTER TABLE ` + tenantTable + ` ADD COLUMN upgraded boolean`, true},
			{`INSERT INTO tenants (id) VALUES (gen_random_uuid())`, false},
			{`SELECT count(*) FROM contract_transactions`, false},
			{`CREATE SCHEMA ` + otherSchema, false},
		},
		catalog.AuditorUser: {
			{`SELECT audit_seal(10)`, true},
			{`SELECT count(*) FROM audit_digests`, true},
			{`SELECT count(*) FROM tenants`, false},
			{`UPDATE audit_chain SET sealed_at = now()`, false},
			{`SELECT * FROM audit_verify()`, false},
			{`CREATE SCHEMA ` + otherSchema, false},
		},
		catalog.PublisherUser: {
			{`SELECT id, data FROM event_outbox WHERE published_at IS NULL ORDER BY seq LIMIT 10 FOR UPDATE SKIP LOCKED`, true},
			{`UPDATE event_outbox SET published_at = now() WHERE published_at IS NULL`, true},
			{`UPDATE event_outbox SET data = '{}'`, false},
			{`INSERT INTO event_outbox (type, subject, data) VALUES ('com.healthstack.tenant.forged', gen_random_uuid(), '{}')`, false},
			{`DELETE FROM event_outbox`, false},
			{`SELECT count(*) FROM tenants`, false},
			{`SELECT count(*) FROM audit_records`, false},
			{`SELECT count(*) FROM ` + tenantTable, false},
			{`CREATE SCHEMA ` + otherSchema, false},
		},
		catalog.ReconcilerUser: {
			{`SELECT count(*) FROM reconcile_backoff`, true},
			{`INSERT INTO tenants (id) VALUES (gen_random_uuid())`, false},
			{`UPDATE upgrade_runs SET status = status`, false},
			{`CREATE SCHEMA ` + otherSchema, false},
		},
	}
	if len(cases) != len(catalog.DBUsers()) {
		t.Fatalf("checks for %d users, the catalogue has %d", len(cases), len(catalog.DBUsers()))
	}
	for _, u := range catalog.DBUsers() {
		t.Run(string(u), func(t *testing.T) {
			pool := asUser(t, url, u)
			var super, createRole, createDB bool
			if err := pool.QueryRow(ctx, `SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = current_user`).
				Scan(&super, &createRole, &createDB); err != nil {
				t.Fatalf("log in as %s: %v", u, err)
			}
			if super || createRole || createDB {
				t.Errorf("%s: superuser %v, createrole %v, createdb %v; want none", u, super, createRole, createDB)
			}
			// Beyond the examples: every table of the database, tenants' included.
			switch u {
			case catalog.APIReadUser:
				noTable(t, pool, "INSERT, UPDATE, DELETE, TRUNCATE", "INSERT, UPDATE")
			case catalog.ActivationUser:
				noTable(t, pool, "SELECT, INSERT, UPDATE, DELETE, TRUNCATE", "SELECT, INSERT, UPDATE")
			case catalog.PublisherUser:
				// The outbox aside, nothing: and of the outbox, only published_at to write.
				noTable(t, pool, "INSERT, DELETE, TRUNCATE", "INSERT")
			}
			checks := cases[u]
			for _, q := range never {
				checks = append(checks, check{q, false})
			}
			for _, c := range checks {
				// Each in a transaction rolled back: an allowed write changes nothing.
				err := inRolledBackTx(ctx, pool, c.sql)
				var pgErr *pgconn.PgError
				denied := errors.As(err, &pgErr) && pgErr.Code == "42501" // insufficient_privilege
				switch {
				case c.allowed && err != nil:
					t.Errorf("%s should be allowed: %s: %v", u, c.sql, err)
				case !c.allowed && !denied:
					t.Errorf("%s should be denied: %s: got %v", u, c.sql, err)
				}
			}
		})
	}
}

// noTable fails t if the pool's user holds any of privileges on any table, or any of
// columnPrivileges on any column, of the database outside the system catalogues.
func noTable(t *testing.T, pool *pgxpool.Pool, privileges, columnPrivileges string) {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p', 'v', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
		  AND (has_table_privilege(c.oid, $1) OR has_any_column_privilege(c.oid, $2))`, privileges, columnPrivileges)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(tables) > 0 {
		t.Errorf("holds %s on %v", privileges, tables)
	}
}

func inRolledBackTx(ctx context.Context, pool *pgxpool.Pool, sql string) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	_, err = tx.Exec(ctx, sql)
	return err
}

// TestAccessIsAppliedAgainOnEveryMigration shows access.sql is the truth, not a history: a
// right granted by hand is taken away by the next migration run, and a run is idempotent.
func TestAccessIsAppliedAgainOnEveryMigration(t *testing.T) {
	ctx := context.Background()
	admin, url := testdb.NewWithURL(t)
	if _, err := admin.Exec(ctx, `GRANT DELETE ON tenants TO tp_api_read`); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Migrate(ctx, admin); err != nil {
		t.Fatal(err)
	}
	err := inRolledBackTx(ctx, asUser(t, url, catalog.APIReadUser), `DELETE FROM tenants`)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
		t.Fatalf("a right granted outside access.sql survived a migration run: %v", err)
	}
}

// The audit trail is append-only: every function's user that records may insert and read,
// the read user read; none may update, delete or truncate a record, and the triggers stop
// the table's owner too (here a superuser), the second lock behind the grants.
func TestAuditRecordsAreAppendOnly(t *testing.T) {
	ctx := context.Background()
	admin, url := testdb.NewWithURL(t)
	insert := `INSERT INTO audit_records (actor, action, outcome) VALUES ('system:test', 'tenant.test', 'accepted')`
	if _, err := admin.Exec(ctx, insert); err != nil {
		t.Fatal(err)
	}
	denied := func(err error) bool {
		var pgErr *pgconn.PgError
		return errors.As(err, &pgErr) && pgErr.Code == "42501"
	}
	for _, u := range catalog.DBUsers() {
		pool := asUser(t, url, u)
		records := u != catalog.APIReadUser && u != catalog.ActivationUser && u != catalog.AuditorUser && u != catalog.PublisherUser
		if err := inRolledBackTx(ctx, pool, insert); records != (err == nil) {
			t.Errorf("%s: insert a record: %v; want allowed %v", u, err, records)
		}
		// The activation user reads nothing, the publisher the outbox alone.
		readsNothing := u == catalog.ActivationUser || u == catalog.PublisherUser
		if err := inRolledBackTx(ctx, pool, `SELECT count(*) FROM audit_records`); readsNothing != denied(err) {
			t.Errorf("%s: read the trail: %v", u, err)
		}
		for _, q := range []string{`UPDATE audit_records SET outcome = 'refused'`, `DELETE FROM audit_records`, `TRUNCATE audit_records`} {
			if err := inRolledBackTx(ctx, pool, q); !denied(err) {
				t.Errorf("%s: %s: %v, want permission denied", u, q, err)
			}
		}
	}
	for _, q := range []string{`UPDATE audit_records SET outcome = 'refused'`, `DELETE FROM audit_records`, `TRUNCATE audit_records`} {
		if err := inRolledBackTx(ctx, admin, q); !denied(err) {
			t.Errorf("the owner: %s: %v, want the trigger's refusal", q, err)
		}
	}
}
