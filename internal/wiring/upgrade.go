package wiring

import (
	"context"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/healthstack/tenant-provisioning/internal/catalog"
	"github.com/healthstack/tenant-provisioning/internal/upgrade"
)

// Upgrader builds the upgrade state machine's steps for their mains.
func Upgrader(id string) (*upgrade.Upgrader, func()) {
	return start(id, func(ctx context.Context, log *slog.Logger, f catalog.Function) (*upgrade.Upgrader, *pgxpool.Pool, error) {
		return NewUpgrader(ctx, log, f)
	})
}

// NewUpgrader reads the AWS and database configuration and builds the upgrade's steps of
// function f on it, as f's database user.
func NewUpgrader(ctx context.Context, log *slog.Logger, f catalog.Function) (*upgrade.Upgrader, *pgxpool.Pool, error) {
	pool, err := poolFromEnv(ctx, f)
	if err != nil {
		return nil, nil, err
	}
	return upgrade.New(pool, log), pool, nil
}
