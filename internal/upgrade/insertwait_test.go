package upgrade

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/healthstack/tenant-provisioning/internal/local/seed"
	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/tenantdb"
)

// busyAuditRows is the audit trail of the tenant TestUpgradeKeepsTheTenantWriting upgrades:
// enough that building an index on it inside a transaction would hold the tenant's inserts
// for a clearly measurable time (the bench's "upgrade insert wait" measures both ways).
const busyAuditRows = 300_000

// Upgrades never stall a tenant: while a tenant at the oldest supported version, with a
// long audit trail, is brought to the newest by the batch step, its app keeps inserting
// into audit_logs on a connection of its own, and those inserts keep returning while the
// index on the trail is built. The longest insert wait and the build's duration are
// reported beside each other, not held to a threshold: speed is the bench's to report.
func TestUpgradeKeepsTheTenantWriting(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ids, err := seed.Behind(w.ctx, w.pool, "Busy Clinic", 1, tenantdb.OldestSupportedVersion, 1)
	if err != nil {
		t.Fatal(err)
	}
	tn, err := w.st.Get(w.ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	n, err := tenantdb.For(tn)
	if err != nil {
		t.Fatal(err)
	}
	app, err := w.pool.Acquire(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Release()
	seeded := time.Now()
	if err := seed.AuditRows(w.ctx, app.Conn(), n, 50, busyAuditRows); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d audit rows seeded in %v", busyAuditRows, time.Since(seeded).Round(time.Millisecond))

	u := New(w.pool, slog.New(slog.DiscardHandler))
	var writer *seed.Writer
	var buildStart, buildEnd time.Time
	var seen building
	u.outside = func(ctx context.Context, conn *pgx.Conn, n tenantdb.Names) (store.MigrationResult, error) {
		stop := w.watchBuild(conn.PgConn().PID(), writer, &seen)
		defer stop()
		buildStart = time.Now()
		defer func() { buildEnd = time.Now() }()
		return tenantdb.MigrateOutside(ctx, conn, n)
	}
	run := w.run(false)
	if writer, err = seed.StartWriting(w.ctx, app.Conn(), n); err != nil {
		t.Fatal(err)
	}
	upgradeStart := time.Now()
	res, err := u.MigrateBatch(w.ctx, batchOf(run, tn))
	upgraded := time.Since(upgradeStart)
	writes, werr := writer.Stop()
	if err != nil || res != (Counts{ToVersion: tenantdb.LatestVersion(), Upgraded: 1}) {
		t.Fatalf("MigrateBatch: %+v, %v; want the tenant upgraded", res, err)
	}
	if werr != nil {
		t.Errorf("the tenant's inserts stopped with %v after %d", werr, len(writes))
	}
	if buildStart.IsZero() {
		t.Fatal("no migration ran outside the upgrade's transaction: the index was built inside it")
	}
	// While PostgreSQL reported the build at work, the tenant's inserts kept returning. A
	// build that holds the table's writes (a plain CREATE INDEX) has taken its lock before
	// it scans, so the count would stand still from the first sighting to the last.
	if seen.times < 2 || seen.last <= seen.first {
		t.Errorf("the build was seen at work %d times, with %d inserts returned at the first sighting and %d at the last; "+
			"want inserts returning while it works", seen.times, seen.first, seen.last)
	}

	var valid bool
	var def string
	err = w.pool.QueryRow(w.ctx, `SELECT i.indisvalid, pg_get_indexdef(i.indexrelid) FROM pg_index i WHERE i.indexrelid = to_regclass($1)`,
		pgx.Identifier{n.Schema, "audit_logs_user_created_idx"}.Sanitize()).Scan(&valid, &def)
	if err != nil || !valid || !strings.Contains(def, "(user_id, created_at DESC)") {
		t.Errorf("audit_logs_user_created_idx: valid %v, %s (%v); want a valid index on (user_id, created_at DESC)", valid, def, err)
	}
	var rows int
	if err := w.pool.QueryRow(w.ctx, `SELECT count(*) FROM `+pgx.Identifier{n.Schema, "audit_logs"}.Sanitize()).Scan(&rows); err != nil ||
		rows != busyAuditRows+len(writes) {
		t.Errorf("audit_logs holds %d rows (%v), want the %d seeded and the %d inserted", rows, err, busyAuditRows, len(writes))
	}

	var during int // inserts that began and returned inside the build's call
	for _, wr := range writes {
		if wr.Start.After(buildStart) && wr.End.Before(buildEnd) {
			during++
		}
	}
	longest := slices.MaxFunc(writes, func(a, b seed.Write) int { return int(a.Wait() - b.Wait()) })
	t.Logf("upgrade %d → %d in %v; index on %d rows built concurrently in %v; %d inserts, %d of them during the build "+
		"(%d returned while PostgreSQL reported it at work); longest insert wait %v",
		tenantdb.OldestSupportedVersion, tenantdb.LatestVersion(), upgraded.Round(time.Millisecond), busyAuditRows,
		buildEnd.Sub(buildStart).Round(time.Millisecond), len(writes), during, seen.last-seen.first, longest.Wait().Round(time.Microsecond))
}

// building is what watchBuild saw: how many times it found the build at work, and the
// writer's count of returned inserts at the first and the last sighting.
type building struct {
	times, first, last int
}

// watchBuild polls, on a connection of the pool's, pg_stat_progress_create_index for the
// index build of backend pid while it works (scanning, sorting, loading, validating; not
// while it waits for other transactions), noting the writer's count each time, until the
// returned stop.
func (w *world) watchBuild(pid uint32, writer *seed.Writer, seen *building) (stop func()) {
	done, ended := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(ended)
		for {
			var working bool
			err := w.pool.QueryRow(w.ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_progress_create_index
				WHERE pid = $1 AND (phase LIKE 'building index%' OR phase LIKE 'index validation%'))`, int32(pid)).Scan(&working)
			if err != nil {
				w.t.Errorf("watch the build: %v", err)
				return
			}
			if working {
				c := writer.Count()
				if seen.times == 0 {
					seen.first = c
				}
				seen.times++
				seen.last = c
			}
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return func() { close(done); <-ended }
}
