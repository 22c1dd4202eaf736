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

// VersionTable tracks the control plane's migration version.
const VersionTable = "public.schema_version"

// MigrationResult reports what Migrate did.
type MigrationResult struct {
	From int32 `json:"fromVersion"`
	To   int32 `json:"toVersion"`
}

// Migrate brings the control plane to the newest version. It is safe to run concurrently
// (tern serialises migrators with an advisory lock) and a no-op when up to date.
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
	err = RunMigrations(ctx, conn.Conn(), VersionTable, sub, nil, &res)
	return res, fault.FromDB(op, err)
}

// RunMigrations applies every migration in fsys on conn with tern, recording the version
// in versionTable; data is available to the SQL templates. If a migration fails, conn is
// closed: tern holds a session-level advisory lock that an aborted transaction can leave
// behind, and a closed connection is the one sure way to let it go (the pool discards it).
func RunMigrations(ctx context.Context, conn *pgx.Conn, versionTable string, fsys fs.FS, data map[string]string, res *MigrationResult) (err error) {
	defer func() {
		if err != nil {
			_ = conn.Close(context.WithoutCancel(ctx))
		}
	}()
	m, err := migrate.NewMigratorEx(ctx, conn, versionTable, &migrate.MigratorOptions{DisableTx: conn.PgConn().TxStatus() == 'T'})
	if err != nil {
		return err
	}
	if err := appendMigrations(m, fsys, data); err != nil {
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
	res.To, err = m.GetCurrentVersion(ctx)
	return err
}

// migrationSplit separates a migration file's up SQL from its down SQL, as tern's files do.
const migrationSplit = "---- create above / drop below ----"

// appendMigrations loads the files tern's FindMigrations orders, filling the {{.key}}
// placeholders from data by plain replacement. tern's own LoadMigrations would render them
// with text/template and sprig, and merely linking a template executor stops the Go linker
// from dropping unused methods: it added about 7 MiB to every Lambda binary.
func appendMigrations(m *migrate.Migrator, fsys fs.FS, data map[string]string) error {
	names, err := migrate.FindMigrations(fsys)
	if err != nil {
		return err
	}
	pairs := make([]string, 0, 2*len(data))
	for k, v := range data {
		pairs = append(pairs, "{{."+k+"}}", v)
	}
	render := strings.NewReplacer(pairs...)
	for _, name := range names {
		raw, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		up, down, _ := strings.Cut(render.Replace(string(raw)), migrationSplit)
		if strings.Contains(up+down, "{{") {
			return fmt.Errorf("%s: unfilled placeholder", name)
		}
		m.AppendMigration(strings.TrimSuffix(name, ".sql"), up, down)
	}
	return nil
}
