package wiring

import (
	"context"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/healthstack/tenant-provisioning/internal/upgrade"
)

// Upgrader builds the upgrade state machine's steps for a main and returns the function
// that closes the pool on SIGTERM. A start-up failure ends the process.
func Upgrader() (*upgrade.Upgrader, func()) {
	log := Logger()
	u, pool, err := NewUpgrader(context.Background(), log)
	if err != nil {
		Exit(log, err)
	}
	return u, pool.Close
}

// NewUpgrader reads the database configuration and builds the upgrade's steps on it.
func NewUpgrader(ctx context.Context, log *slog.Logger) (*upgrade.Upgrader, *pgxpool.Pool, error) {
	pool, err := PoolFromEnv(ctx)
	if err != nil {
		return nil, nil, err
	}
	return upgrade.New(pool, log), pool, nil
}
