package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
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
	// OutsideTx says that MigrateInTx stopped before a no-transaction migration: commit,
	// run MigrateOutsideTx, then MigrateInTx again in a new transaction for what follows.
	OutsideTx bool `json:"-"`
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

// disableTx marks a migration whose up half runs outside a transaction: tern's own marker
// (a line of its own), so tern and this runner read the same files the same way.
var disableTx = regexp.MustCompile(`(?m)^---- tern: disable-tx ----$`)

// concurrentIndex is what a no-transaction migration's up half must be: one CREATE INDEX
// CONCURRENTLY IF NOT EXISTS on a schema-qualified table. That is the only reason a tenant
// migration has to leave the transaction, and it is what MigrateOutsideTx knows how to
// resume. Group 1 is the CONCURRENTLY, 2 the index's name, 3 the table.
var concurrentIndex = regexp.MustCompile(`(?is)^CREATE\s+(?:UNIQUE\s+)?INDEX\s+(CONCURRENTLY\s+)IF\s+NOT\s+EXISTS\s+` +
	`([a-z_][a-z0-9_]*)\s+ON\s+(?:ONLY\s+)?((?:"(?:[^"]|"")+"|[a-z_][a-z0-9_]*)\.(?:"(?:[^"]|"")+"|[a-z_][a-z0-9_]*))[\s(]`)

// sqlMigration is one migration file's SQL, placeholders filled.
type sqlMigration struct {
	name, up, down string
	// build is set for a no-transaction migration: the index its up half builds.
	build *indexBuild
}

// indexBuild is the index a no-transaction migration builds concurrently.
type indexBuild struct {
	name  string // unqualified: an index lives in its table's schema
	table string // schema-qualified, as the statement names it
	// inTx is the statement without CONCURRENTLY, for a schema migrated from version 0
	// inside one transaction (see MigrateInTx).
	inTx string
}

// parseBuild reads a no-transaction migration's up half, which must be a single
// concurrentIndex statement. A multi-statement string would fail anyway (PostgreSQL runs
// one as an implicit transaction, which CONCURRENTLY refuses), but only when it runs.
func parseBuild(up string) (*indexBuild, error) {
	var lines []string
	for _, l := range strings.Split(up, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "--") {
			lines = append(lines, l)
		}
	}
	stmt := strings.TrimSuffix(strings.Join(lines, "\n"), ";")
	m := concurrentIndex.FindStringSubmatchIndex(stmt)
	if m == nil || strings.Contains(stmt, ";") {
		return nil, errors.New("a no-transaction migration must be one CREATE INDEX CONCURRENTLY IF NOT EXISTS on a schema-qualified table")
	}
	return &indexBuild{name: stmt[m[4]:m[5]], table: stmt[m[6]:m[7]], inTx: stmt[:m[2]] + stmt[m[3]:]}, nil
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
		m := sqlMigration{name: strings.TrimSuffix(name, ".sql"), up: up, down: down}
		if disableTx.MatchString(up) {
			if m.build, err = parseBuild(up); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
		}
		out = append(out, m)
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
//
// It stops before a no-transaction migration (res.OutsideTx): that one is
// MigrateOutsideTx's, once tx has committed. Except from version 0: every table of a
// schema migrated from nothing is created by these migrations, in tx, and no other session
// can see it until tx commits, so its indexes are built right there, without CONCURRENTLY
// (which would only wait for every older transaction in the database, for nothing). And
// except on a table under InTxBuildBytes, whose plain build takes milliseconds.
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
		switch {
		case m.build == nil:
			if _, err := tx.Exec(ctx, m.up); err != nil {
				return res, err
			}
		case res.From == 0:
			if _, err := tx.Exec(ctx, m.build.inTx); err != nil {
				return res, err
			}
		default:
			small, err := smallTable(ctx, tx, m.build.table)
			if err != nil {
				return res, err
			}
			if !small {
				res.OutsideTx = true
				break
			}
			if err := buildIndexInTx(ctx, tx, m.build); err != nil {
				return res, err
			}
		}
		if res.OutsideTx {
			break
		}
		res.To++
	}
	if res.To != res.From {
		_, err = tx.Exec(ctx, "UPDATE "+versionTable+" SET version = $1", pgx.QueryExecModeExec, res.To)
	}
	return res, err
}

// InTxBuildBytes is the size under which a table's index is built inside the migration's
// transaction, without CONCURRENTLY, even on a schema in use. A plain build holds the
// table's writes until the transaction commits; under 1 MiB (a few thousand audit rows)
// that is milliseconds, less than a writer waits behind a concurrent build's own steps, and
// far less than the concurrent build costs the upgrade: three transactions instead of one,
// and a wait for every older transaction in the database (make bench's fan-out measured it
// at a third of the tenants a second). A variable so that tests can make every build
// concurrent, or none.
var InTxBuildBytes int64 = 1 << 20

// smallTable reports whether table (schema-qualified, as the migration names it) is under
// InTxBuildBytes, heap only: the build reads the heap.
func smallTable(ctx context.Context, tx pgx.Tx, table string) (bool, error) {
	var size int64
	err := tx.QueryRow(ctx, "SELECT pg_relation_size($1::regclass)", pgx.QueryExecModeExec, table).Scan(&size)
	return size < InTxBuildBytes, err
}

// MigrateOutsideTx runs, on conn with no transaction open, the no-transaction migrations
// that come next in fsys (those MigrateInTx stopped before), and records each one's
// version once its index is valid. The caller keeps every other migrator of this schema
// out meanwhile (tenantdb holds a session advisory lock on the tenant): an index whose
// build is under way is invalid too, and this would take it for a leftover and drop it.
//
// A concurrent build that stopped half-way (its session killed, its statement cancelled, a
// deadline) leaves its index behind, invalid: still maintained by every write, used by no
// query, and skipped by IF NOT EXISTS. So an invalid index of the migration's name is
// dropped and built again. The version moves from the one read to the next only
// (UPDATE … WHERE version = the one read), so it never skips one.
func MigrateOutsideTx(ctx context.Context, conn *pgx.Conn, versionTable string, fsys fs.FS, data map[string]string) (MigrationResult, error) {
	var res MigrationResult
	if conn.PgConn().TxStatus() != 'I' {
		return res, &fault.InvariantError{Op: "migrate outside a transaction", Msg: "the connection is inside a transaction"}
	}
	ms, err := loadMigrations(fsys, data)
	if err != nil {
		return res, &fault.InvariantError{Op: "load migrations", Msg: "invalid migration files", Err: err}
	}
	if err := conn.QueryRow(ctx, "SELECT version FROM "+versionTable, pgx.QueryExecModeExec).Scan(&res.From); err != nil {
		return res, err
	}
	for res.To = res.From; res.To >= 0 && int(res.To) < len(ms) && ms[res.To].build != nil; res.To++ {
		m := ms[res.To]
		if err := buildIndex(ctx, conn, m.build, m.up); err != nil {
			return res, err
		}
		tag, err := conn.Exec(ctx, "UPDATE "+versionTable+" SET version = $2 WHERE version = $1", pgx.QueryExecModeExec, res.To, res.To+1)
		if err != nil {
			return res, err
		}
		if tag.RowsAffected() != 1 {
			return res, &fault.ConflictError{Op: "migrate outside a transaction", Msg: "the schema's version moved while " + m.name + " ran"}
		}
	}
	return res, nil
}

// buildIndex runs up, b's concurrent build, after dropping an invalid index of b's name
// that an earlier build left, and fails unless the index is valid afterwards.
func buildIndex(ctx context.Context, conn *pgx.Conn, b *indexBuild, up string) error {
	// CONCURRENTLY, as the build: a plain DROP would hold the table's writes while it
	// waits for every query on the table to end.
	return build(ctx, conn, b, "DROP INDEX CONCURRENTLY IF EXISTS ", up)
}

// buildIndexInTx is buildIndex inside tx, without CONCURRENTLY: for a table under
// InTxBuildBytes. An invalid index of b's name, a concurrent build's stopped half-way, is
// dropped first, or IF NOT EXISTS would keep it.
func buildIndexInTx(ctx context.Context, tx pgx.Tx, b *indexBuild) error {
	return build(ctx, tx, b, "DROP INDEX ", b.inTx)
}

// build drops an invalid index of b's name with drop (a DROP INDEX prefix), runs create,
// and checks the index valid, on a connection or in a transaction.
func build(ctx context.Context, db execQuerier, b *indexBuild, drop, create string) error {
	exists, valid, qualified, err := indexState(ctx, db, b)
	if err != nil {
		return err
	}
	if exists && !valid {
		if _, err := db.Exec(ctx, drop+qualified); err != nil {
			return err
		}
	}
	if _, err := db.Exec(ctx, create); err != nil {
		return err
	}
	if exists, valid, _, err = indexState(ctx, db, b); err != nil {
		return err
	}
	if !exists || !valid {
		// IF NOT EXISTS goes by name: another relation of that name, not an index of
		// this table, stands in the way.
		return &fault.InvariantError{Op: "build index", Msg: "index " + b.name + " is not a valid index of its table after its build"}
	}
	return nil
}

// execQuerier is what a connection and a transaction both do.
type execQuerier interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
	QueryRow(context.Context, string, ...any) pgx.Row
}

// indexState looks b's index up among its table's indexes, on a connection or in a
// transaction.
func indexState(ctx context.Context, conn execQuerier, b *indexBuild) (exists, valid bool, qualified string, err error) {
	err = conn.QueryRow(ctx, `SELECT i.indisvalid, format('%I.%I', n.nspname, c.relname)
		FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE i.indrelid = to_regclass($1) AND c.relname = $2`, pgx.QueryExecModeExec, b.table, b.name).Scan(&valid, &qualified)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, false, "", nil
	}
	return err == nil, valid, qualified, err
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
