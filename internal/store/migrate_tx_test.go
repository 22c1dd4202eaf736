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
