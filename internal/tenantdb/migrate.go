package tenantdb

import (
	"context"
	"embed"
	"io/fs"

	"github.com/jackc/pgx/v5"

	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/store"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// VersionTableName is the per-tenant migration version table, inside the tenant's schema.
const VersionTableName = "schema_version"

// Migrate applies the tenant migrations inside tx, so they commit together with whatever
// else the caller does (the step log), or not at all. The caller holds the tenant's row
// lock, which is what serialises two attempts at the same tenant's migrations; different
// tenants' migrations run side by side.
func Migrate(ctx context.Context, tx pgx.Tx, n Names) (store.MigrationResult, error) {
	const op = "run tenant migrations"
	var res store.MigrationResult
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return res, &fault.InvariantError{Op: op, Msg: "embedded migrations missing", Err: err}
	}
	data := map[string]string{"schema": n.schemaIdent(), "role": n.roleIdent()}
	err = asOwnerDo(ctx, tx, func() (err error) {
		res, err = store.MigrateInTx(ctx, tx, pgx.Identifier{n.Schema, VersionTableName}.Sanitize(), sub, data)
		return err
	})
	return res, fault.FromDB(op, err)
}

// Downgrade reverts the tenant's schema to version target inside tx, newest migration
// first. Production never moves a tenant back: tests and the benchmark use it to make
// tenants as they were before the newest migration shipped, for the upgrade to bring up.
func Downgrade(ctx context.Context, tx pgx.Tx, n Names, target int32) (store.MigrationResult, error) {
	const op = "revert tenant migrations"
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return store.MigrationResult{}, &fault.InvariantError{Op: op, Msg: "embedded migrations missing", Err: err}
	}
	data := map[string]string{"schema": n.schemaIdent(), "role": n.roleIdent()}
	var res store.MigrationResult
	err = asOwnerDo(ctx, tx, func() (err error) {
		res, err = store.RevertInTx(ctx, tx, pgx.Identifier{n.Schema, VersionTableName}.Sanitize(), sub, data, target)
		return err
	})
	return res, fault.FromDB(op, err)
}

// Version is the tenant schema's migration version (0 when never migrated).
func Version(ctx context.Context, db store.DB, n Names) (int32, error) {
	var v int32
	err := db.QueryRow(ctx, `SELECT version FROM `+pgx.Identifier{n.Schema, VersionTableName}.Sanitize(), oneShot).Scan(&v)
	return v, fault.FromDB("read tenant migration version", err)
}

// The tenant schema versions a release serves: every route, step and function that works
// inside a tenant's schema works on each version from OldestSupportedVersion to
// LatestVersion, and on a newer one a later release migrated to (migrations expand before
// they contract, so a newer schema still has what this code uses). A migration that adds
// what code writes names its version here, and the code writes it only from that version
// on (the rule in README.md, "Every version in the fleet is served").
const (
	OldestSupportedVersion int32 = 2
	// PasswordAgeVersion added users.password_changed_at (003_audit_by_user.sql).
	PasswordAgeVersion int32 = 3
)

// LatestVersion is the version Migrate brings a tenant to.
func LatestVersion() int32 {
	entries, _ := fs.ReadDir(migrationFiles, "migrations")
	return int32(len(entries))
}

// AdminCount is the number of users with the admin role in the tenant's schema.
func AdminCount(ctx context.Context, db store.DB, n Names) (int, error) {
	var count int
	s := n.schemaIdent()
	err := db.QueryRow(ctx, `SELECT count(*) FROM `+s+`.users u JOIN `+s+`.roles r ON r.id = u.role_id WHERE r.name = 'admin'`, oneShot).Scan(&count)
	return count, fault.FromDB("count tenant admins", err)
}
