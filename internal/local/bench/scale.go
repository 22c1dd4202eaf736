package bench

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/healthstack/tenant-provisioning/internal/catalog"
	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/tenant"
	"github.com/healthstack/tenant-provisioning/internal/tenantdb"
)

// populateBatch is how many tenants one populate transaction creates: fewer commits,
// while the locks it holds (each new relation's, ≈ 16 a tenant) stay far below what
// max_locks_per_transaction × max_connections allows.
const populateBatch = 5

// populate brings the control plane to size ACTIVE tenants, each with its schema, role and
// tables made by the steps' own code (tenantdb.CreateSchema and Migrate) and the eight
// COMPLETED rows of its provisioning log. The seed rows and the admin's argon2id hash are
// left out: they add no relation, and hashing 10,000 passwords would double the time.
// Each worker's connection is closed at the end, with all the catalog it cached.
func populate(ctx context.Context, dbURL string, size, workers int, progress func(string, ...any)) (int, error) {
	conns, closeAll, err := connect(ctx, dbURL, workers)
	if err != nil {
		return 0, err
	}
	defer closeAll()
	var have int
	if err := conns[0].QueryRow(ctx, "SELECT count(*) FROM tenants").Scan(&have); err != nil || have >= size {
		return 0, err
	}
	todo := size - have
	var done atomic.Int64
	batches := (todo + populateBatch - 1) / populateBatch
	err = inParallel(batches, workers, func(w, b int) error {
		first := b * populateBatch
		count := min(populateBatch, todo-first)
		if err := populateTenants(ctx, conns[w], have+first, count); err != nil {
			return err
		}
		if n := done.Add(int64(count)); n%1000 < populateBatch {
			progress("scale: %d of %d tenants created", n, todo)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("bench: populate: %w", err)
	}
	return todo, nil
}

// populateTenants creates count tenants numbered from first in one transaction.
func populateTenants(ctx context.Context, conn *pgx.Conn, first, count int) error {
	var steps []string // what a provisioned tenant's log holds
	for _, s := range catalog.Provisioning {
		steps = append(steps, s.Log)
	}
	return store.New(conn).InTx(ctx, func(tx *store.Tx) error {
		for i := first; i < first+count; i++ {
			id := uuid.New()
			name := fmt.Sprintf("Scale Clinic %d", i)
			n := tenantdb.Names{TenantID: id, Schema: tenant.SchemaName(name, id)}
			if _, err := tx.Exec(ctx, `
				INSERT INTO tenants (id, name, slug, status, schema_name, admin_email, admin_first_name, admin_last_name,
				                     soroban_contract_id, execution_arn, created_at, completed_at)
				VALUES ($1::uuid, $2, $3, 'ACTIVE', $4, 'admin' || $5::int || '@scale.example', 'Scale', 'Admin',
				        'C' || repeat('A', 55), 'arn:aws:states:local:000000000000:execution:bench:' || $1::text,
				        now() - $5::int * interval '1 minute', now() - $5::int * interval '1 minute')`,
				id, name, tenant.Slug(name), n.Schema, i); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `
				INSERT INTO provisioning_logs (tenant_id, step, status, attempt, duration_ms)
				SELECT $1, step, 'COMPLETED', 1, 5 FROM unnest($2::text[]) AS step`, id, steps); err != nil {
				return err
			}
			if _, err := tenantdb.CreateSchema(ctx, tx, n); err != nil {
				return err
			}
			// Recorded as the pipeline records it, so an upgrade run sees these tenants current.
			mig, err := tenantdb.Migrate(ctx, tx, n)
			if err != nil {
				return err
			}
			if err := tx.SetSchemaVersion(ctx, id, mig.To); err != nil {
				return err
			}
		}
		return nil
	})
}

// catalogFacts is what PostgreSQL holds for the tenants: relations in the database, its
// size, and the largest catalog cache among the pipeline pool's idle connections.
type catalogFacts struct {
	relations  int
	dbMiB      float64
	cacheMiB   float64
	tenantRows int
}

func readCatalogFacts(ctx context.Context, pool *pgxpool.Pool) (catalogFacts, error) {
	var f catalogFacts
	err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM pg_class), pg_database_size(current_database()) / 1048576.0,
		(SELECT count(*) FROM tenants)`).Scan(&f.relations, &f.dbMiB, &f.tenantRows)
	if err != nil {
		return f, err
	}
	// pg_backend_memory_contexts shows the asking backend's own memory: ask each connection.
	for _, c := range pool.AcquireAllIdle(ctx) {
		var bytes int64
		err := c.QueryRow(ctx, `SELECT coalesce(sum(total_bytes), 0) FROM pg_backend_memory_contexts
			WHERE name = 'CacheMemoryContext' OR parent = 'CacheMemoryContext'`).Scan(&bytes)
		c.Release()
		if err != nil {
			return f, err
		}
		f.cacheMiB = max(f.cacheMiB, float64(bytes)/(1<<20))
	}
	return f, nil
}

// measureScale brings the installation to cfg.Scale tenants and runs the pipeline's
// throughput and latency again, each against its figure at the start of the run.
func measureScale(ctx context.Context, cfg Config, rig *pipelineRig, db *benchDB, at0 []Result) ([]Result, error) {
	facts0, err := readCatalogFacts(ctx, rig.stack.Pool)
	if err != nil {
		return nil, err
	}
	cfg.progress("scale: creating tenants, with schemas, up to %d", cfg.Scale)
	start := time.Now()
	made, err := populate(ctx, db.URL, cfg.Scale, max(2, cfg.C), cfg.progress)
	if err != nil {
		return nil, err
	}
	took := time.Since(start)
	// As autovacuum and the checkpointer would have left a live installation: fresh
	// statistics, and the gigabytes just written flushed before the timing starts.
	if _, err := rig.stack.Pool.Exec(ctx, "VACUUM (ANALYZE) tenants, provisioning_logs"); err != nil {
		return nil, err
	}
	_, _ = rig.stack.Pool.Exec(ctx, "CHECKPOINT") // without the right to, the bench goes on
	floor, err := measureFloor(ctx, cfg, db)
	if err != nil {
		return nil, err
	}
	pipe, err := measurePipeline(ctx, cfg, rig, db, floor)
	if err != nil {
		return nil, err
	}
	again := append(floor.results, pipe...)
	facts, err := readCatalogFacts(ctx, rig.stack.Pool)
	if err != nil {
		return nil, err
	}
	label := fmt.Sprintf(" at %d tenants", facts.tenantRows)
	out := []Result{
		newResult("scale: tenants created with schemas", float64(made)/took.Minutes(), "tenants/min", 0, fmt.Sprintf("%d in %.0f s", made, took.Seconds())),
		newResult("relations in the database"+label, float64(facts.relations), "relations", float64(facts0.relations), "at the start"),
		newResult("database size"+label, facts.dbMiB, "MiB", facts0.dbMiB, "at the start"),
		newResult("catalog cache of a pipeline connection"+label, facts.cacheMiB, "MiB", facts0.cacheMiB, "at the start"),
	}
	byName := map[string]Result{}
	for _, r := range at0 {
		byName[r.Name+"/"+r.Unit] = r
	}
	for _, r := range again {
		base, ok := byName[r.Name+"/"+r.Unit]
		if !ok {
			continue
		}
		if r.Unit == "MiB" {
			// Resident memory is judged within the phase, after half and all of its tenants:
			// the populate step in between leaves its own garbage behind.
			r.Name += label
			out = append(out, r)
			continue
		}
		s := newResult(r.Name+label, r.Value, r.Unit, base.Value, "same figure at the start")
		// The target at scale is for the pipeline's throughput and latency; the
		// floor's and the parts' figures are there to say what moved.
		switch {
		case r.Name == pipelineThroughput(cfg.C):
			s.Target, s.Margin = "ratio ≥ 0.67 (within 1.5×)", s.Ratio-1/scaleSlack
			s.Met = ptr(s.Margin >= 0)
		case strings.HasPrefix(r.Name, "pipeline latency p"):
			s.Target, s.Margin = "ratio ≤ 1.5", scaleSlack-s.Ratio
			s.Met = ptr(s.Margin >= 0)
		}
		out = append(out, s)
	}
	return out, nil
}

// scaleSlack is the "within 1.5× of the figures at 0 tenants".
const scaleSlack = 1.5
