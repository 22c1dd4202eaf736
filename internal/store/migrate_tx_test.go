package store_test

import (
	"context"
	"errors"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/testkit/testdb"
)

var twoMigrations = fstest.MapFS{
	"001_one.sql": {Data: []byte("CREATE TABLE {{.schema}}.a (id int);\n---- create above / drop below ----\nDROP TABLE {{.schema}}.a;\n")},
	"002_two.sql": {Data: []byte("ALTER TABLE {{.schema}}.a ADD COLUMN b int;\n")},
}

func migrateInTx(ctx context.Context, pool *pgxpool.Pool, fsys fstest.MapFS) (store.MigrationResult, error) {
	var res store.MigrationResult
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var err error
		res, err = store.MigrateInTx(ctx, tx, `mig.schema_version`, fsys, map[string]string{"schema": `mig`})
		return err
	})
	return res, err
}

func TestMigrateInTxAppliesOnlyWhatIsPending(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	if _, err := pool.Exec(ctx, `CREATE SCHEMA mig`); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name     string
		fsys     fstest.MapFS
		from, to int32
	}{
		{"first migration on a fresh schema", fstest.MapFS{"001_one.sql": twoMigrations["001_one.sql"]}, 0, 1},
		{"a newer migration is applied alone", twoMigrations, 1, 2},
		{"up to date is a no-op", twoMigrations, 2, 2},
	}
	for _, s := range steps {
		res, err := migrateInTx(ctx, pool, s.fsys)
		if err != nil || res.From != s.from || res.To != s.to {
			t.Fatalf("%s: %+v, %v; want %d → %d", s.name, res, err, s.from, s.to)
		}
	}
	var cols, rows int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM information_schema.columns WHERE table_schema = 'mig' AND table_name = 'a'`).Scan(&cols); err != nil || cols != 2 {
		t.Errorf("table a has %d columns (%v), want 2", cols, err)
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM mig.schema_version`).Scan(&rows); err != nil || rows != 1 {
		t.Errorf("version table has %d rows (%v), want 1", rows, err)
	}
}

func TestMigrateInTxFailureLeavesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	if _, err := pool.Exec(ctx, `CREATE SCHEMA mig`); err != nil {
		t.Fatal(err)
	}
	broken := fstest.MapFS{
		"001_one.sql": twoMigrations["001_one.sql"],
		"002_bad.sql": {Data: []byte("ALTER TABLE {{.schema}}.missing ADD COLUMN b int;\n")},
	}
	if _, err := migrateInTx(ctx, pool, broken); err == nil {
		t.Fatal("a failing migration reported success")
	}
	var tables int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'mig'`).Scan(&tables); err != nil || tables != 0 {
		t.Errorf("%d tables left in the schema after a failed migration (%v), want none", tables, err)
	}

	unfilled := fstest.MapFS{"001_one.sql": {Data: []byte("CREATE TABLE {{.other}}.a ();\n")}}
	_, err := migrateInTx(ctx, pool, unfilled)
	if inv := (*fault.InvariantError)(nil); !errors.As(err, &inv) {
		t.Errorf("unfilled placeholder: %v, want an InvariantError", err)
	}

	if _, err := pool.Exec(ctx, `CREATE TABLE mig.schema_version (version int4 NOT NULL); INSERT INTO mig.schema_version VALUES (7)`); err != nil {
		t.Fatal(err)
	}
	// A later release migrated it (expand before contract): nothing to apply, no error.
	res, err := migrateInTx(ctx, pool, twoMigrations)
	if err != nil || res.From != 7 || res.To != 7 {
		t.Errorf("version 7 of 2 migrations: %+v, %v; want it left at 7", res, err)
	}
	if _, err := pool.Exec(ctx, `UPDATE mig.schema_version SET version = -1`); err != nil {
		t.Fatal(err)
	}
	_, err = migrateInTx(ctx, pool, twoMigrations)
	if inv := (*fault.InvariantError)(nil); !errors.As(err, &inv) {
		t.Errorf("version -1: %v, want an InvariantError", err)
	}
}

// Migrations 1 and 3 are transactional, 2 builds an index concurrently.
var indexMigrations = fstest.MapFS{
	"001_one.sql": {Data: []byte("CREATE TABLE {{.schema}}.a (id int);\n")},
	"002_index.sql": {Data: []byte("---- tern: disable-tx ----\nCREATE INDEX CONCURRENTLY IF NOT EXISTS a_id_idx ON {{.schema}}.a (id);\n" +
		"---- create above / drop below ----\nDROP INDEX IF EXISTS {{.schema}}.a_id_idx;\n")},
	"003_three.sql": {Data: []byte("ALTER TABLE {{.schema}}.a ADD COLUMN c int;\n")},
}

// A no-transaction migration: a schema migrated from nothing takes it in the one
// transaction (its table is new there, and CONCURRENTLY would be refused inside it); a
// schema past version 0 stops before it, MigrateOutsideTx builds it on a connection with
// no transaction open (and refuses one inside a transaction), and MigrateInTx goes on
// after it. RevertInTx drops it inside its transaction.
func TestNoTransactionMigration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	if _, err := pool.Exec(ctx, `CREATE SCHEMA fresh; CREATE SCHEMA behind`); err != nil {
		t.Fatal(err)
	}
	inTx := func(schema string, fsys fstest.MapFS) (res store.MigrationResult, err error) {
		err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			res, err = store.MigrateInTx(ctx, tx, schema+".schema_version", fsys, map[string]string{"schema": schema})
			return err
		})
		return res, err
	}
	indexValid := func(schema string) bool {
		t.Helper()
		var valid bool
		if err := pool.QueryRow(ctx, `SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass($1)`, schema+".a_id_idx").Scan(&valid); err != nil {
			t.Fatalf("%s.a_id_idx: %v", schema, err)
		}
		return valid
	}

	if res, err := inTx("fresh", indexMigrations); err != nil || res.To != 3 || res.OutsideTx || !indexValid("fresh") {
		t.Errorf("from nothing: %+v, %v; want 0 → 3 in one transaction, the index valid", res, err)
	}

	if _, err := inTx("behind", fstest.MapFS{"001_one.sql": indexMigrations["001_one.sql"]}); err != nil {
		t.Fatal(err)
	}
	// Past store.InTxBuildBytes, as a table in use is: its build goes outside.
	if _, err := pool.Exec(ctx, `INSERT INTO behind.a SELECT generate_series(1, 60000)`); err != nil {
		t.Fatal(err)
	}
	if res, err := inTx("behind", indexMigrations); err != nil || res.From != 1 || res.To != 1 || !res.OutsideTx {
		t.Fatalf("from 1: %+v, %v; want it stopped at 1 before the index", res, err)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		_, err := store.MigrateOutsideTx(ctx, conn.Conn(), "behind.schema_version", indexMigrations, map[string]string{"schema": "behind"})
		return err
	})
	if inv := (*fault.InvariantError)(nil); !errors.As(err, &inv) {
		t.Errorf("inside a transaction: %v, want an InvariantError", err)
	}
	res, err := store.MigrateOutsideTx(ctx, conn.Conn(), "behind.schema_version", indexMigrations, map[string]string{"schema": "behind"})
	if err != nil || res.From != 1 || res.To != 2 || !indexValid("behind") {
		t.Fatalf("outside a transaction: %+v, %v; want 1 → 2, the index valid", res, err)
	}
	if res, err := inTx("behind", indexMigrations); err != nil || res.From != 2 || res.To != 3 || res.OutsideTx {
		t.Errorf("after the index: %+v, %v; want 2 → 3", res, err)
	}
	// Nothing is next for MigrateOutsideTx at 3.
	if res, err := store.MigrateOutsideTx(ctx, conn.Conn(), "behind.schema_version", indexMigrations, map[string]string{"schema": "behind"}); err != nil || res.From != 3 || res.To != 3 {
		t.Errorf("at 3: %+v, %v; want nothing done", res, err)
	}

	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		_, err := store.RevertInTx(ctx, tx, "behind.schema_version", indexMigrations, map[string]string{"schema": "behind"}, 1)
		return err
	})
	var left bool
	if qerr := pool.QueryRow(ctx, `SELECT to_regclass('behind.a_id_idx') IS NOT NULL`).Scan(&left); err != nil || qerr != nil || left {
		t.Errorf("revert to 1: %v, %v; index left %v", err, qerr, left)
	}
}

// A table under store.InTxBuildBytes has its index built in the migration's transaction,
// without CONCURRENTLY, even past version 0: milliseconds of held writes, where the
// concurrent build would take three transactions. An invalid index a concurrent build left
// is dropped first, not kept by IF NOT EXISTS.
func TestASmallTablesIndexIsBuiltInTheTransaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	for _, schema := range []string{"small", "leftover"} {
		if _, err := pool.Exec(ctx, `CREATE SCHEMA `+schema); err != nil {
			t.Fatal(err)
		}
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			_, err := store.MigrateInTx(ctx, tx, schema+".schema_version", fstest.MapFS{"001_one.sql": indexMigrations["001_one.sql"]}, map[string]string{"schema": schema})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// A unique build that met duplicates leaves an invalid index of the name behind.
	if _, err := pool.Exec(ctx, `INSERT INTO leftover.a VALUES (1), (1)`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `CREATE UNIQUE INDEX CONCURRENTLY a_id_idx ON leftover.a (id)`); err == nil {
		t.Fatal("a unique build over duplicates succeeded")
	}
	for _, schema := range []string{"small", "leftover"} {
		var res store.MigrationResult
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) (err error) {
			res, err = store.MigrateInTx(ctx, tx, schema+".schema_version", indexMigrations, map[string]string{"schema": schema})
			return err
		})
		var valid, unique bool
		qerr := pool.QueryRow(ctx, `SELECT indisvalid, indisunique FROM pg_index WHERE indexrelid = to_regclass($1)`, schema+".a_id_idx").Scan(&valid, &unique)
		if err != nil || res.OutsideTx || res.From != 1 || res.To != 3 || qerr != nil || !valid || unique {
			t.Errorf("%s: %+v, %v; index valid %v, unique %v (%v); want 1 → 3 in the transaction, the migration's index valid", schema, res, err, valid, unique, qerr)
		}
	}
}
