// Package seed makes tenants in bulk for local tools and tests: ACTIVE tenants with their
// schemas at a chosen tenant migration version, as tenants provisioned before a newer
// migration shipped are, for the upgrade to bring up. It writes the rows directly, not
// through the pipeline: a thousand tenants take seconds, not minutes.
package seed

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"github.com/healthstack/tenant-provisioning/internal/tenant"
	"github.com/healthstack/tenant-provisioning/internal/tenantdb"
)

// Behind makes count ACTIVE tenants named "<prefix> <i>" whose schemas are at version
// (recorded in the control plane too), on workers connections at once, and returns their
// ids in the order made. Their admins' addresses are made up (example.org).
func Behind(ctx context.Context, pool *pgxpool.Pool, prefix string, count int, version int32, workers int) ([]uuid.UUID, error) {
	ids := make([]uuid.UUID, count)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(workers, 1))
	for i := range count {
		g.Go(func() (err error) {
			ids[i], err = one(gctx, pool, fmt.Sprintf("%s %d", prefix, i), version)
			return err
		})
	}
	return ids, g.Wait()
}

func one(ctx context.Context, pool *pgxpool.Pool, name string, version int32) (uuid.UUID, error) {
	id, err := tenant.NewID()
	if err != nil {
		return id, err
	}
	n := tenantdb.Names{TenantID: id, Schema: tenant.SchemaName(name, id)}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO tenants (id, name, slug, status, admin_email, admin_first_name, admin_last_name,
			schema_name, schema_version, completed_at) VALUES ($1, $2, $3, 'ACTIVE', $4, 'Sam', 'Seed', $5, $6, now())`,
			id, name, tenant.Slug(name), "admin+"+id.String()[:8]+"@seed.example.org", n.Schema, version); err != nil {
			return err
		}
		if _, err := tenantdb.CreateSchema(ctx, tx, n); err != nil {
			return err
		}
		if _, err := tenantdb.Migrate(ctx, tx, n); err != nil {
			return err
		}
		_, err := tenantdb.Downgrade(ctx, tx, n, version)
		return err
	})
	if err != nil {
		return id, fmt.Errorf("seed tenant %s: %w", id, err)
	}
	return id, nil
}
