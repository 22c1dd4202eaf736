package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/healthstack/tenant-provisioning/internal/local/scratchdb"
	"github.com/healthstack/tenant-provisioning/internal/tenantdb"
)

// floorNames returns count fresh tenant names (schema and role share the name).
func floorNames(count int) []tenantdb.Names {
	out := make([]tenantdb.Names, count)
	for i := range out {
		id := uuid.New()
		out[i] = tenantdb.Names{TenantID: id, Schema: "t_benchfloor_" + scratchdb.RandomHex(6)}
	}
	return out
}

// floorTenant creates one tenant's objects as a single transaction with the very code the
// steps run: schema and NOLOGIN role with their grants, the tenant migrations, then 3
// roles, the admin user (with its unusable password marker) and 4 audit rows.
func floorTenant(ctx context.Context, conn *pgx.Conn, n tenantdb.Names) error {
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tenantdb.CreateSchema(ctx, tx, n); err != nil {
			return err
		}
		if _, err := tenantdb.Migrate(ctx, tx, n); err != nil {
			return err
		}
		res, err := tenantdb.Seed(ctx, tx, n, tenantdb.Admin{
			Email: "admin@bench.example.com", FirstName: "Ada", LastName: "Bench",
		}, "arn:aws:states:local:000000000000:execution:bench:"+n.TenantID.String())
		if err == nil && (res.RolesCreated != 3 || !res.AdminCreated) {
			err = fmt.Errorf("bench: floor seed created %d roles, admin %v", res.RolesCreated, res.AdminCreated)
		}
		return err
	})
}

// floorRun provisions count floor tenants with workers connections, each warmed by one
// untimed tenant first, and returns the wall time of the timed part.
func (d *benchDB) floorRun(ctx context.Context, count, workers int) (time.Duration, error) {
	names := floorNames(count + workers)
	d.floorRoles = append(d.floorRoles, schemaNames(names)...)
	conns, closeAll, err := connect(ctx, d.URL, workers)
	if err != nil {
		return 0, err
	}
	defer closeAll()
	for i, c := range conns {
		if err := floorTenant(ctx, c, names[count+i]); err != nil {
			return 0, fmt.Errorf("bench: floor warm-up: %w", err)
		}
	}
	start := time.Now()
	err = inParallel(count, workers, func(w, i int) error { return floorTenant(ctx, conns[w], names[i]) })
	elapsed := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("bench: floor: %w", err)
	}
	return elapsed, nil
}

func schemaNames(ns []tenantdb.Names) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.Schema
	}
	return out
}

// hashOnly times count argon2id password hashes, sequentially: what the seed step used to
// compute for every tenant (a hash of a random secret), and what an activation computes.
func hashOnly(count int) (time.Duration, error) {
	start := time.Now()
	for range count {
		if _, err := tenantdb.HashPassword("a bench password of some length"); err != nil {
			return 0, err
		}
	}
	return time.Since(start), nil
}

// floorSampler returns a function that provisions one floor tenant on a warm connection of
// its own and says how long it took; close ends the connection.
func (d *benchDB) floorSampler(ctx context.Context) (sample func(context.Context) (time.Duration, error), close func(), err error) {
	conns, closeAll, err := connect(ctx, d.URL, 1)
	if err != nil {
		return nil, nil, err
	}
	conn := conns[0]
	sample = func(ctx context.Context) (time.Duration, error) {
		n := floorNames(1)[0]
		d.floorRoles = append(d.floorRoles, n.Schema)
		start := time.Now()
		if err := floorTenant(ctx, conn, n); err != nil {
			return 0, fmt.Errorf("bench: floor: %w", err)
		}
		return time.Since(start), nil
	}
	if _, err := sample(ctx); err != nil { // warm-up, untimed
		closeAll()
		return nil, nil, err
	}
	return sample, closeAll, nil
}
