package seed

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/healthstack/tenant-provisioning/internal/tenantdb"
)

// AuditRows gives the tenant's schema users ACTIVE users and rows audit rows spread over
// them and back in time, one statement each (generate_series): a tenant with years of
// audit trail, on which building an index of audit_logs takes long enough to measure.
func AuditRows(ctx context.Context, conn *pgx.Conn, n tenantdb.Names, users, rows int) error {
	s := pgx.Identifier{n.Schema}.Sanitize()
	_, err := conn.Exec(ctx, `
		WITH r AS (INSERT INTO `+s+`.roles (name) VALUES ('seed_reader')
			ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id)
		INSERT INTO `+s+`.users (email, first_name, last_name, password_hash, role_id, status)
		SELECT 'reader' || i || '@seed.example.org', 'Sam', 'Seed', '!' || repeat('x', 40), r.id, 'ACTIVE'
		FROM r, generate_series(1, $1::int) i`, pgx.QueryExecModeExec, users)
	if err != nil {
		return err
	}
	_, err = conn.Exec(ctx, `
		INSERT INTO `+s+`.audit_logs (actor, user_id, action, entity_type, created_at)
		SELECT 'user:' || a.ids[1 + i % cardinality(a.ids)], a.ids[1 + i % cardinality(a.ids)], 'record.viewed', 'record',
		       now() - i * interval '1 minute'
		FROM (SELECT array_agg(id) AS ids FROM `+s+`.users) a, generate_series(1, $1::int) i`, pgx.QueryExecModeExec, rows)
	return err
}

// Write is one insert a Writer made: when it was sent and when it returned.
type Write struct {
	Start, End time.Time
}

// Wait is how long the insert took.
func (w Write) Wait() time.Duration { return w.End.Sub(w.Start) }

// WritePace is the Writer's pause between inserts: a busy clinic's app, not a flood that
// would take the machine's cores from what is measured beside it.
const WritePace = 2 * time.Millisecond

// Writer inserts audit rows into one tenant's audit_logs on a connection of its own, one
// autocommitted statement at a time, as the tenant's own app does, and times each insert.
type Writer struct {
	stop     chan struct{}
	done     chan struct{}
	returned atomic.Int64 // inserts returned so far, for Count while it runs
	writes   []Write
	err      error
}

// StartWriting starts inserting on conn, for one of the tenant's users, and returns once
// the first insert has returned.
func StartWriting(ctx context.Context, conn *pgx.Conn, n tenantdb.Names) (*Writer, error) {
	s := pgx.Identifier{n.Schema}.Sanitize()
	var user string
	if err := conn.QueryRow(ctx, `SELECT id::text FROM `+s+`.users LIMIT 1`, pgx.QueryExecModeExec).Scan(&user); err != nil {
		return nil, err
	}
	insert := `INSERT INTO ` + s + `.audit_logs (actor, user_id, action, entity_type) VALUES ('user:' || $1, $1::uuid, 'record.viewed', 'record')`
	write := func() (Write, error) {
		start := time.Now()
		_, err := conn.Exec(ctx, insert, user)
		return Write{Start: start, End: time.Now()}, err
	}
	first, err := write()
	if err != nil {
		return nil, err
	}
	w := &Writer{stop: make(chan struct{}), done: make(chan struct{}), writes: []Write{first}}
	w.returned.Store(1)
	go func() {
		defer close(w.done)
		for {
			select {
			case <-w.stop:
				return
			case <-time.After(WritePace):
			}
			wr, err := write()
			if err != nil {
				w.err = err
				return
			}
			w.writes = append(w.writes, wr)
			w.returned.Add(1)
		}
	}()
	return w, nil
}

// Count is how many inserts have returned so far; it may be read while the Writer runs.
func (w *Writer) Count() int { return int(w.returned.Load()) }

// Stop ends the inserts after the one in flight and returns them all, with the error that
// ended them early, if one did.
func (w *Writer) Stop() ([]Write, error) {
	close(w.stop)
	<-w.done
	return w.writes, w.err
}
