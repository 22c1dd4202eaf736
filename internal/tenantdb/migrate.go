package tenantdb

import (
	"context"
	"embed"
	"hash/fnv"
	"io/fs"
	"time"

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
//
// It stops before a no-transaction migration (res.OutsideTx), an index built concurrently
// so that the tenant's own writes never wait for the build: the caller commits, runs
// MigrateOutside, and calls Migrate again in a new transaction for what follows. A new
// schema (version 0) never stops: see store.MigrateInTx.
func Migrate(ctx context.Context, tx pgx.Tx, n Names) (store.MigrationResult, error) {
	files, err := migrations()
	if err != nil {
		return store.MigrationResult{}, err
	}
	return migrate(ctx, tx, n, files)
}

// MigrateOutside runs the tenant's no-transaction migrations that come next, on conn, which
// must hold no transaction: the caller's transaction that ran Migrate has committed (a
// step's pool has one connection, and a concurrent build waits for every transaction older
// than it to end, the caller's too). It holds a session advisory lock on the tenant meanwhile, so
// that two attempts never build at once: the one that comes second waits (until ctx
// ends), then finds the version moved and has nothing to do. A build that stopped
// half-way is resumed (see store.MigrateOutsideTx).
//
// When it fails, it closes conn (a pooled one is then discarded on release): that ends the
// session's lock, and any statement still running, for sure.
func MigrateOutside(ctx context.Context, conn *pgx.Conn, n Names) (store.MigrationResult, error) {
	files, err := migrations()
	if err != nil {
		return store.MigrationResult{}, err
	}
	return migrateOutside(ctx, conn, n, files)
}

// MigrateAll brings the tenant's schema to LatestVersion on conn: Migrate in a transaction
// of its own, MigrateOutside when it stops, and so on. It locks no tenant row and records
// nothing in the control plane: it is for tools and tests (the bench), where nothing else
// migrates the tenant. The steps interleave the same calls with their row lock and records.
func MigrateAll(ctx context.Context, conn *pgx.Conn, n Names) (store.MigrationResult, error) {
	files, err := migrations()
	if err != nil {
		return store.MigrationResult{}, err
	}
	return migrateAll(ctx, conn, n, files)
}

// Downgrade reverts the tenant's schema to version target inside tx, newest migration
// first. Production never moves a tenant back: tests and the benchmark use it to make
// tenants as they were before the newest migration shipped, for the upgrade to bring up.
func Downgrade(ctx context.Context, tx pgx.Tx, n Names, target int32) (store.MigrationResult, error) {
	files, err := migrations()
	if err != nil {
		return store.MigrationResult{}, err
	}
	var res store.MigrationResult
	err = asOwnerDo(ctx, tx, func() (err error) {
		res, err = store.RevertInTx(ctx, tx, n.versionTable(), files, n.migrationData(), target)
		return err
	})
	return res, fault.FromDB("revert tenant migrations", err)
}

// migrations are the tenant migration files. The functions below take them, or in tests
// the first few of them.
func migrations() (fs.FS, error) {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, &fault.InvariantError{Op: "load tenant migrations", Msg: "embedded migrations missing", Err: err}
	}
	return sub, nil
}

// migrate runs the migrations as the tenant owner (asOwnerDo): what they create is the
// owner's, whichever function's user ran them.
func migrate(ctx context.Context, tx pgx.Tx, n Names, files fs.FS) (store.MigrationResult, error) {
	var res store.MigrationResult
	err := asOwnerDo(ctx, tx, func() (err error) {
		res, err = store.MigrateInTx(ctx, tx, n.versionTable(), files, n.migrationData())
		return err
	})
	return res, fault.FromDB("run tenant migrations", err)
}

// outsideLockClass is the first key of MigrateOutside's advisory lock, the tenant's hash
// the second. The two-key form is a lock space apart from tern's one-key lock.
const outsideLockClass int32 = 0x74646278 // "tdbx"

func migrateOutside(ctx context.Context, conn *pgx.Conn, n Names, files fs.FS) (res store.MigrationResult, err error) {
	defer func() {
		if err != nil {
			_ = conn.Close(context.WithoutCancel(ctx))
			err = fault.FromDB("run tenant migrations outside a transaction", err)
		}
	}()
	key := n.lockKey()
	if err := lockTenant(ctx, conn, key); err != nil {
		return res, err
	}
	if res, err = store.MigrateOutsideTx(ctx, conn, n.versionTable(), files, n.migrationData()); err != nil {
		return res, err
	}
	_, err = conn.Exec(ctx, "SELECT pg_advisory_unlock($1, $2)", outsideLockClass, key)
	return res, err
}

// lockPoll is how often MigrateOutside tries the tenant's lock while another attempt's
// build holds it: that build takes seconds to minutes.
const lockPoll = 250 * time.Millisecond

// lockTenant takes the tenant's advisory lock for the session, trying it again every
// lockPoll until ctx ends. It never waits inside pg_advisory_lock: a statement waiting
// holds a snapshot, and the build it waits for waits for every older snapshot in the
// database to go, a deadlock PostgreSQL would break by cancelling one of the two.
func lockTenant(ctx context.Context, conn *pgx.Conn, key int32) error {
	for {
		var locked bool
		if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1, $2)", outsideLockClass, key).Scan(&locked); err != nil || locked {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(lockPoll):
		}
	}
}

func migrateAll(ctx context.Context, conn *pgx.Conn, n Names, files fs.FS) (store.MigrationResult, error) {
	var all store.MigrationResult
	for first := true; ; first = false {
		var res store.MigrationResult
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) (err error) {
			res, err = migrate(ctx, tx, n, files)
			return err
		})
		if first {
			all.From = res.From
		}
		all.To = res.To
		if err != nil || !res.OutsideTx {
			return all, err
		}
		if res, err = migrateOutside(ctx, conn, n, files); err != nil {
			return all, err
		}
		all.To = res.To
	}
}

func (n Names) versionTable() string { return pgx.Identifier{n.Schema, VersionTableName}.Sanitize() }

// migrationData fills the migration files' placeholders with quoted identifiers.
func (n Names) migrationData() map[string]string {
	return map[string]string{"schema": n.schemaIdent(), "role": n.roleIdent()}
}

// lockKey is the tenant's key in MigrateOutside's advisory lock. Two tenants may share one
// (32 bits): the second would wait for the first's build, nothing worse.
func (n Names) lockKey() int32 {
	h := fnv.New32a()
	h.Write(n.TenantID[:])
	return int32(h.Sum32())
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
	// PasswordAgeVersion added users.password_changed_at (003_password_age.sql).
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
