package bench

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/healthstack/tenant-provisioning/internal/local/scratchdb"
)

// benchDB is the bench's scratch database; the floor's roles are dropped with it (the
// pipeline's are read from its tenants).
type benchDB struct {
	*scratchdb.DB
	floorRoles []string
}

func createDB(ctx context.Context, adminURL string) (*benchDB, error) {
	db, err := scratchdb.Create(ctx, adminURL, "bench")
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	return &benchDB{DB: db}, nil
}

func (d *benchDB) drop(ctx context.Context) error {
	if err := d.Drop(ctx, d.floorRoles...); err != nil {
		return fmt.Errorf("bench: cleanup: %w", err)
	}
	return nil
}

func serverFacts(ctx context.Context, dbURL string) (version, fsync string, err error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return "", "", err
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, "SHOW server_version").Scan(&version); err != nil {
		return "", "", err
	}
	err = conn.QueryRow(ctx, "SHOW fsync").Scan(&fsync)
	return version, fsync, err
}
