package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/tern/v2/migrate"

	"github.com/healthstack/tenant-provisioning/internal/fault"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// accessSQL is who may do what (access.sql), applied after the migrations on every run.
//
//go:embed access.sql
var accessSQL string

// VersionTable tracks the control plane's migration version.
const VersionTable = "public.schema_version"

// MigrationResult reports what Migrate did.
type MigrationResult struct {
	From int32 `json:"fromVersion"`
	To   int32 `json:"toVersion"`
}

// Migrate brings the control plane to the newest version, then grants each database user
// its rights (access.sql). It is safe to run concurrently (tern serialises migrators with
// an advisory lock) and changes nothing when up to date. Like
// MigrateInTx and RevertInTx, it is a function rather than a Store method: migration
// machinery, which takes a connection of its own from pool for tern's session lock.
func Migrate(ctx context.Context, pool *pgxpool.Pool) (MigrationResult, error) {
	const op = "migrate control plane"
	var res MigrationResult
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return res, fault.FromDB(op, err)
	}
	defer conn.Release()
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return res, &fault.InvariantError{Op: op, Msg: "embedded migrations missing", Err: err}
	}
	err = migrateWithTern(ctx, conn.Conn(), sub, &res)
	return res, fault.FromDB(op, err)
}

// migrateWithTern applies the control plane's migrations on conn with tern, each in its
// own transaction, recording the version in VersionTable. If a migration fails, conn is
// closed: tern holds a session-level advisory lock that an aborted transaction can leave
// behind, and a closed connection is the one sure way to let it go (the pool discards it).
// (Tenant migrations run inside a step's transaction instead: MigrateInTx.)
func migrateWithTern(ctx context.Context, conn *pgx.Conn, fsys fs.FS, res *MigrationResult) (err error) {
	defer func() {
		if err != nil {
			_ = conn.Close(context.WithoutCancel(ctx))
		}
	}()
	m, err := migrate.NewMigratorEx(ctx, conn, VersionTable, &migrate.MigratorOptions{})
	if err != nil {
		return err
	}
	if err := appendMigrations(m, fsys, nil); err != nil {
		return &fault.InvariantError{Op: "load migrations", Msg: "invalid migration files", Err: err}
	}
	if res.From, err = m.GetCurrentVersion(ctx); err != nil {
		return err
	}
	if err := m.Migrate(ctx); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) {
			return pgErr // drop tern's wrapper: its message carries the SQL text
		}
		return err
	}
	if res.To, err = m.GetCurrentVersion(ctx); err != nil {
		return err
	}
	return applyAccess(ctx, conn)
}

// accessLock serialises applyAccess runs in one database (pg_advisory_xact_lock's key).
const accessLock = 0x74705f616363 // "tp_acc"

// applyAccess grants each database user its rights (access.sql), in one transaction: no
// one ever sees a user between its old rights and its new.
func applyAccess(ctx context.Context, conn *pgx.Conn) error {
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(accessLock)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, accessSQL); err != nil {
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) {
				return fmt.Errorf("access.sql: %w", pgErr)
			}
			return err
		}
		return nil
	})
}

// migrationSplit separates a migration file's up SQL from its down SQL, as tern's files do.
const migrationSplit = "---- create above / drop below ----"

// sqlMigration is one migration file's up SQL, placeholders filled.
type sqlMigration struct {
	name, up, down string
}

// loadMigrations reads the files tern's FindMigrations orders, filling the {{.key}}
// placeholders from data by plain replacement. tern's own LoadMigrations would render them
// with text/template and sprig, and merely linking a template executor stops the Go linker
// from dropping unused methods: it added about 7 MiB to every Lambda binary.
func loadMigrations(fsys fs.FS, data map[string]string) ([]sqlMigration, error) {
	names, err := migrate.FindMigrations(fsys)
	if err != nil {
		return nil, err
	}
	pairs := make([]string, 0, 2*len(data))
	for k, v := range data {
		pairs = append(pairs, "{{."+k+"}}", v)
	}
	render := strings.NewReplacer(pairs...)
	out := make([]sqlMigration, 0, len(names))
	for _, name := range names {
		raw, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		up, down, _ := strings.Cut(render.Replace(string(raw)), migrationSplit)
		if strings.Contains(up+down, "{{") {
			return nil, fmt.Errorf("%s: unfilled placeholder", name)
		}
		out = append(out, sqlMigration{name: strings.TrimSuffix(name, ".sql"), up: up, down: down})
	}
	return out, nil
}

func appendMigrations(m *migrate.Migrator, fsys fs.FS, data map[string]string) error {
	ms, err := loadMigrations(fsys, data)
	for _, s := range ms {
		m.AppendMigration(s.name, s.up, s.down)
	}
	return err
}

// MigrateInTx applies the migrations in fsys that versionTable does not record yet, inside
// tx, in the table layout tern uses (one row, one int4 version), so that tern and this
// function read each other's tables. It is for objects whose migrations the caller already
// serialises, as a provisioning step does with the tenant's row lock: tern would add a
// session-level advisory lock with one fixed key for every migrator in the cluster, which
// queues every tenant's migrations behind every other's, and a dozen round trips.
func MigrateInTx(ctx context.Context, tx pgx.Tx, versionTable string, fsys fs.FS, data map[string]string) (MigrationResult, error) {
	var res MigrationResult
	ms, err := loadMigrations(fsys, data)
	if err != nil {
		return res, &fault.InvariantError{Op: "load migrations", Msg: "invalid migration files", Err: err}
	}
	if _, err := tx.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+versionTable+" (version int4 NOT NULL)"); err != nil {
		return res, err
	}
	// Not prepared (pgx.QueryExecModeExec): the table is one tenant's, the text would
	// never be reused.
	err = tx.QueryRow(ctx, "SELECT version FROM "+versionTable, pgx.QueryExecModeExec).Scan(&res.From)
	if errors.Is(err, pgx.ErrNoRows) {
		_, err = tx.Exec(ctx, "INSERT INTO "+versionTable+" (version) VALUES (0)")
	}
	if err != nil {
		return res, err
	}
	res.To = res.From
	switch {
	case res.From < 0:
		return res, &fault.InvariantError{Op: "migrate", Msg: fmt.Sprintf("recorded version %d is negative", res.From)}
	case int(res.From) > len(ms):
		// A newer release migrated it: its migrations expand before they contract, so
		// this release's code still serves it, and there is nothing for this one to apply.
		return res, nil
	}
	for _, m := range ms[res.From:] {
		if _, err := tx.Exec(ctx, m.up); err != nil {
			return res, err
		}
		res.To++
	}
	if res.To != res.From {
		_, err = tx.Exec(ctx, "UPDATE "+versionTable+" SET version = $1", pgx.QueryExecModeExec, res.To)
	}
	return res, err
}

// RevertInTx undoes, inside tx, the migrations in fsys that versionTable records beyond
// target, newest first, with their "drop below" halves, and records target. Production
// never moves a schema back; tests and the benchmark use it to make a schema as it was
// before a migration shipped.
func RevertInTx(ctx context.Context, tx pgx.Tx, versionTable string, fsys fs.FS, data map[string]string, target int32) (MigrationResult, error) {
	var res MigrationResult
	ms, err := loadMigrations(fsys, data)
	if err != nil {
		return res, &fault.InvariantError{Op: "load migrations", Msg: "invalid migration files", Err: err}
	}
	if err := tx.QueryRow(ctx, "SELECT version FROM "+versionTable, pgx.QueryExecModeExec).Scan(&res.From); err != nil {
		return res, err
	}
	if target < 0 || res.From > int32(len(ms)) {
		return res, &fault.InvariantError{Op: "revert", Msg: fmt.Sprintf("cannot revert from %d to %d", res.From, target)}
	}
	for res.To = res.From; res.To > target; res.To-- {
		if _, err := tx.Exec(ctx, ms[res.To-1].down); err != nil {
			return res, err
		}
	}
	_, err = tx.Exec(ctx, "UPDATE "+versionTable+" SET version = $1", pgx.QueryExecModeExec, res.To)
	return res, err
}
