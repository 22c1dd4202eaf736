package bench

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/healthstack/tenant-provisioning/internal/local/seed"
	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/tenantdb"
)

// insertWaitUsers are the users a tenant's audit rows are spread over.
const insertWaitUsers = 50

// oldMigration3 is tenant migration 3 as it shipped before its index moved to 4: the index
// and the column in the upgrade's one transaction (%[1]s is the schema).
const oldMigration3 = `CREATE INDEX audit_logs_user_created_idx ON %[1]s.audit_logs (user_id, created_at DESC);
ALTER TABLE %[1]s.users ADD COLUMN password_changed_at timestamptz;`

// measureInsertWait upgrades two tenants at version 2, each with rows audit rows, from 2 to
// 3 and on, while the tenant's app inserts into audit_logs, a row at a time on a
// connection of its own (seed.StartWriting). The first is upgraded as migration 3 did it
// before this release (index and column in one transaction), the second as now
// (tenantdb.Migrate in a transaction, the index built concurrently by MigrateOutside,
// Migrate again: the batch step's calls without its row lock and record, which the
// tenant's inserts do not touch). Each figure is the longest insert wait, beside that
// upgrade's index build.
func measureInsertWait(ctx context.Context, cfg Config, pool *pgxpool.Pool, url string, rows int) ([]Result, error) {
	cfg.progress("upgrade insert wait: 2 tenants at version 2 with %d audit rows each", rows)
	ids, err := seed.Behind(ctx, pool, "Insert Wait Clinic", 2, 2, 2)
	if err != nil {
		return nil, err
	}
	conns, closeAll, err := connect(ctx, url, 2)
	if err != nil {
		return nil, err
	}
	defer closeAll()
	app, migrator := conns[0], conns[1]
	ns := make([]tenantdb.Names, len(ids))
	for i, id := range ids {
		t, err := store.New(pool).Get(ctx, id)
		if err != nil {
			return nil, err
		}
		if ns[i], err = tenantdb.For(t); err != nil {
			return nil, err
		}
		if err := seed.AuditRows(ctx, app, ns[i], insertWaitUsers, rows); err != nil {
			return nil, err
		}
	}

	cfg.progress("upgrade insert wait: the index built inside the upgrade's transaction, as 003 did")
	oldBuild, oldWrites, err := whileWriting(ctx, app, ns[0], func() (time.Duration, error) {
		start := time.Now()
		err := pgx.BeginFunc(ctx, migrator, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, fmt.Sprintf(oldMigration3, pgx.Identifier{ns[0].Schema}.Sanitize())); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `UPDATE `+pgx.Identifier{ns[0].Schema, tenantdb.VersionTableName}.Sanitize()+` SET version = 3`)
			return err
		})
		return time.Since(start), err
	})
	if err != nil {
		return nil, err
	}

	cfg.progress("upgrade insert wait: the index built concurrently")
	build, writes, err := whileWriting(ctx, app, ns[1], func() (time.Duration, error) {
		if err := migrateInTx(ctx, migrator, ns[1], true); err != nil {
			return 0, err
		}
		start := time.Now()
		res, err := tenantdb.MigrateOutside(ctx, migrator, ns[1])
		build := time.Since(start)
		if err != nil {
			return build, err
		}
		if res.To != tenantdb.LatestVersion() {
			if err := migrateInTx(ctx, migrator, ns[1], false); err != nil {
				return build, err
			}
		}
		return build, nil
	})
	if err != nil {
		return nil, err
	}
	return []Result{
		newResult("upgrade insert wait", ms(longestWait(writes)), "ms", ms(build),
			fmt.Sprintf("its index build, concurrent, %d rows (%d inserts)", rows, len(writes))),
		newResult("upgrade insert wait, old 003", ms(longestWait(oldWrites)), "ms", ms(oldBuild),
			fmt.Sprintf("its index build, in the transaction, %d rows (%d inserts)", rows, len(oldWrites))),
	}, nil
}

// migrateInTx is tenantdb.Migrate in a transaction of its own, which must stop before the
// concurrent build when stop, and must not otherwise.
func migrateInTx(ctx context.Context, conn *pgx.Conn, n tenantdb.Names, stop bool) error {
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		res, err := tenantdb.Migrate(ctx, tx, n)
		if err == nil && res.OutsideTx != stop {
			err = fmt.Errorf("bench: tenant migrations %d → %d stopped for a concurrent build: %v, want %v", res.From, res.To, res.OutsideTx, stop)
		}
		return err
	})
}

// whileWriting runs upgrade while the tenant's app inserts on app, and returns what
// upgrade measured with the inserts made meanwhile.
func whileWriting(ctx context.Context, app *pgx.Conn, n tenantdb.Names, upgrade func() (time.Duration, error)) (time.Duration, []seed.Write, error) {
	w, err := seed.StartWriting(ctx, app, n)
	if err != nil {
		return 0, nil, err
	}
	d, err := upgrade()
	writes, werr := w.Stop()
	if err != nil {
		return d, writes, fmt.Errorf("bench: upgrade insert wait: %w", err)
	}
	if werr != nil {
		return d, writes, fmt.Errorf("bench: upgrade insert wait: the tenant's inserts failed: %w", werr)
	}
	return d, writes, nil
}

func longestWait(writes []seed.Write) time.Duration {
	if len(writes) == 0 {
		return 0
	}
	return slices.MaxFunc(writes, func(a, b seed.Write) int { return int(a.Wait() - b.Wait()) }).Wait()
}
