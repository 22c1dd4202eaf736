package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/healthstack/tenant-provisioning/internal/local/asl"
	"github.com/healthstack/tenant-provisioning/internal/local/execution"
	"github.com/healthstack/tenant-provisioning/internal/local/seed"
	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/tenantdb"
	"github.com/healthstack/tenant-provisioning/internal/upgrade"
)

// upgradeWorkers is the fan-out's width: the upgrade definition's MaxConcurrency, which the
// floor is measured at too.
const upgradeWorkers = 4

// Targets of the upgrade fan-out.
var upgradeTimeTargets = map[int]time.Duration{1000: 2 * time.Second, 10000: 10 * time.Second}

const upgradeRateTarget = 0.70 // the fan-out's rate ≥ 70 % of the floor's

// measureUpgrade times, for each size, the upgrade state machine (the real definition in
// the local engine, its Distributed Map of batches and the real step handlers) bringing
// that many tenants from the version before the newest to the newest, beside the floor:
// the same migration, tenantdb.MigrateAll per tenant (its transactions and concurrent index
// builds), run directly on upgradeWorkers connections, on the same tenants in the same run. Tenants beyond the
// size are current and only counted.
func measureUpgrade(ctx context.Context, cfg Config, rig *pipelineRig, db *benchDB, sizes []int) ([]Result, error) {
	pool := rig.stack.Pool
	runner, err := execution.NewUpgradeRunner(rig.stack.Catalog, execution.Options{Clock: asl.NewFastClock(), Keep: 4})
	if err != nil {
		return nil, err
	}
	// The downgrades' connections, which touch every target.
	conns, closeAll, err := connect(ctx, db.URL, 2)
	if err != nil {
		return nil, err
	}
	defer closeAll()
	latest := tenantdb.LatestVersion()
	var out []Result
	for _, size := range sizes {
		var have int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM tenants WHERE status = 'ACTIVE' AND schema_name IS NOT NULL`).Scan(&have); err != nil {
			return nil, err
		}
		if have < size {
			cfg.progress("upgrade: seeding %d tenants", size-have)
			if _, err := seed.Behind(ctx, pool, fmt.Sprintf("Upgrade Clinic %d", size), size-have, latest, 2); err != nil {
				return nil, err
			}
		}
		targets, err := upgradeTargets(ctx, conns[0], size)
		if err != nil {
			return nil, err
		}
		cfg.progress("upgrade: %d tenants back to version %d, untimed", size, latest-1)
		if err := downgrade(ctx, conns, targets, latest-1); err != nil {
			return nil, err
		}
		cfg.progress("upgrade floor: %d tenants migrated directly on %d connections", size, upgradeWorkers)
		floor, err := upgradeFloor(ctx, db.URL, targets)
		if err != nil {
			return nil, err
		}
		if err := downgrade(ctx, conns, targets, latest-1); err != nil {
			return nil, err
		}
		cfg.progress("upgrade fan-out: %d tenants through the upgrade state machine", size)
		start := time.Now()
		run, err := store.New(pool).CreateUpgradeRun(ctx, upgrade.DefaultStatuses, false, latest)
		if err != nil {
			return nil, err
		}
		live, _, err := runner.StartUpgrade(ctx, run.ID)
		if err != nil {
			return nil, err
		}
		e := live.Wait()
		fanOut := time.Since(start)
		if run, err = store.New(pool).UpgradeRun(ctx, run.ID); err != nil {
			return nil, err
		}
		s, err := upgrade.Report(ctx, store.New(pool), run)
		if err != nil {
			return nil, err
		}
		if e.Status != asl.StatusSucceeded || s.Upgraded != size || s.Failed != 0 || s.NotReached != 0 {
			return nil, fmt.Errorf("bench: the upgrade of %d tenants ended %s (%s): upgraded %d, failed %d, not reached %d",
				size, e.Status, e.Error, s.Upgraded, s.Failed, s.NotReached)
		}
		t := newResult(fmt.Sprintf("upgrade fan-out %d tenants", size), fanOut.Seconds(), "s",
			floor.Seconds(), fmt.Sprintf("floor, %d connections", upgradeWorkers))
		if target, ok := upgradeTimeTargets[size]; ok {
			t.Target = fmt.Sprintf("≤ %.0f s", target.Seconds())
			t.Margin = target.Seconds() - t.Value
			t.Met = ptr(t.Margin >= 0)
		}
		rate := newResult(fmt.Sprintf("upgrade rate %d tenants", size), float64(size)/fanOut.Seconds(), "tenants/s",
			float64(size)/floor.Seconds(), fmt.Sprintf("floor, %d connections", upgradeWorkers))
		rate.Target = fmt.Sprintf("ratio ≥ %.2f", upgradeRateTarget)
		rate.Margin = rate.Ratio - upgradeRateTarget
		rate.Met = ptr(rate.Margin >= 0)
		out = append(out, t, rate)
	}
	return out, nil
}

// upgradeFloor migrates the tenants directly, with no row lock or record, on upgradeWorkers
// connections of its own. They are new, as the fan-out's are to these tenants: a backend
// that has touched a tenant's tables (the downgrade's) has their catalog entries cached and
// would migrate it faster than any first visit does.
func upgradeFloor(ctx context.Context, url string, targets []tenantdb.Names) (time.Duration, error) {
	conns, closeAll, err := connect(ctx, url, upgradeWorkers)
	if err != nil {
		return 0, err
	}
	defer closeAll()
	start := time.Now()
	err = inParallel(len(targets), upgradeWorkers, func(w, i int) error {
		_, err := tenantdb.MigrateAll(ctx, conns[w], targets[i])
		return err
	})
	elapsed := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("bench: upgrade floor: %w", err)
	}
	return elapsed, nil
}

// upgradeTargets names the first size ACTIVE tenants with schemas, by id.
func upgradeTargets(ctx context.Context, conn *pgx.Conn, size int) ([]tenantdb.Names, error) {
	rows, err := conn.Query(ctx, `SELECT id, schema_name FROM tenants WHERE status = 'ACTIVE' AND schema_name IS NOT NULL
		ORDER BY id LIMIT $1`, size)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (tenantdb.Names, error) {
		var n tenantdb.Names
		var id uuid.UUID
		err := r.Scan(&id, &n.Schema)
		n.TenantID = id
		return n, err
	})
}

// downgrade moves the tenants' schemas back to version, recording it in the control plane.
func downgrade(ctx context.Context, conns []*pgx.Conn, ns []tenantdb.Names, version int32) error {
	return inParallel(len(ns), min(len(conns), 2), func(w, i int) error {
		return pgx.BeginFunc(ctx, conns[w], func(tx pgx.Tx) error {
			if _, err := tenantdb.Downgrade(ctx, tx, ns[i], version); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `UPDATE tenants SET schema_version = $2 WHERE id = $1`, ns[i].TenantID, version)
			return err
		})
	})
}
