package bench

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/healthstack/tenant-provisioning/internal/local/asl"
	"github.com/healthstack/tenant-provisioning/internal/local/devstack"
	"github.com/healthstack/tenant-provisioning/internal/local/stellarrpc"
)

// The burst phase: a burst of onboardings on a network that applies transactions at its
// ledger close, with one deployer account and with a pool.
const (
	burstPool        = 8   // the pool's accounts, and the executions in flight at once
	burstRatioTarget = 6.0 // the pool's throughput ≥ 6× one account's
)

// measureBurst onboards cfg.Burst tenants through the whole pipeline, burstPool at a time,
// on a Stellar double closing a ledger every cfg.BurstClose, first with one deployer
// account and then with a pool of burstPool, each on a dev stack of its own on the bench
// database. It reports both throughputs, their ratio, and how many tenants ended anything
// but ACTIVE (the target is none: a deployment waiting for its account must not time out
// into a rollback).
func measureBurst(ctx context.Context, cfg Config, db *benchDB) ([]Result, error) {
	tpm := map[int]float64{}
	failed := map[int]int{}
	for _, accounts := range []int{1, burstPool} {
		cfg.progress("burst: %d tenants, %d at a time, %d deployer account(s), a ledger every %s", cfg.Burst, burstPool, accounts, cfg.BurstClose)
		rig, err := startPipelineWith(ctx, db.URL, func(o *devstack.Options) {
			o.DeployerAccounts = accounts
			o.StellarOptions = []stellarrpc.Option{stellarrpc.WithLedgerClose(cfg.BurstClose)}
			o.PollInterval = max(cfg.BurstClose/50, time.Millisecond)
		})
		if err != nil {
			return nil, err
		}
		var notActive atomic.Int64
		start := time.Now()
		err = inParallel(cfg.Burst, burstPool, func(_, _ int) error {
			ex, _, err := rig.reserveAndRun(ctx)
			if err == nil && ex.Status != asl.StatusSucceeded {
				notActive.Add(1)
			}
			return err
		})
		elapsed := time.Since(start)
		rig.close()
		if err != nil {
			return nil, err
		}
		tpm[accounts], failed[accounts] = perMinute(cfg.Burst, elapsed), int(notActive.Load())
	}
	one := newResult(fmt.Sprintf("burst %d tenants, 1 account", cfg.Burst), tpm[1], "tenants/min", 0, "")
	pool := newResult(fmt.Sprintf("burst %d tenants, %d accounts", cfg.Burst, burstPool), tpm[burstPool], "tenants/min",
		tpm[1], "1 account, same burst")
	pool.Target = fmt.Sprintf("ratio ≥ %.0f", burstRatioTarget)
	pool.Margin = pool.Ratio - burstRatioTarget
	pool.Met = ptr(pool.Margin >= 0)
	lost := newResult(fmt.Sprintf("burst tenants not ACTIVE (1 account / %d)", burstPool), float64(failed[1]+failed[burstPool]), "tenants", 0, "none")
	lost.Target = "0"
	lost.Margin = -lost.Value
	lost.Met = ptr(lost.Value == 0)
	return []Result{one, pool, lost}, nil
}
