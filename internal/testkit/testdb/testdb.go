// Package testdb gives each test its own PostgreSQL database with the control plane
// migrated, so integration tests run in parallel against a real server without sharing
// state. It is imported by tests only. Under `go test -short` (make test-short) the tests
// that need it are skipped: that mode is the unit tests alone; make test and CI run all.
package testdb

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/healthstack/tenant-provisioning/internal/database"
	"github.com/healthstack/tenant-provisioning/internal/local/scratchdb"
	"github.com/healthstack/tenant-provisioning/internal/store"
)

// New creates a fresh database, migrates the control plane and returns a pool on it. The
// database, and the tenant roles created in it (roles are cluster-wide), are dropped when
// the test ends.
func New(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, _ := NewWithURL(t)
	return pool
}

// NewWithURL is New that also returns the new database's URL, for code under test that
// opens its own connections.
func NewWithURL(t testing.TB) (*pgxpool.Pool, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs PostgreSQL: an integration test, which -short leaves out")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db := create(ctx, t, scratchdb.AdminURL())
	pool, err := database.Open(ctx, database.Config{DSN: db.URL, MaxConns: 8})
	if err != nil {
		t.Fatalf("testdb: open pool: %v", err)
	}
	t.Cleanup(func() {
		pool.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := db.Drop(ctx); err != nil {
			t.Errorf("testdb: %v", err)
		}
	})
	if _, err := store.Migrate(ctx, pool); err != nil {
		t.Fatalf("testdb: migrate control plane: %v", err)
	}
	return pool, db.URL
}

// create makes the scratch database; without a server it fails the test saying what is
// missing and how to start it, never skips (outside -short).
func create(ctx context.Context, t testing.TB, adminURL string) *scratchdb.DB {
	t.Helper()
	db, err := scratchdb.Create(ctx, adminURL, "test")
	switch {
	case errors.Is(err, scratchdb.ErrUnreachable):
		t.Fatalf("testdb: %v\n"+
			"Integration tests need a real PostgreSQL. Start the local one with\n"+
			"  pg_ctlcluster --skip-systemctl-redirect 15 main start\n"+
			"or point TEST_DATABASE_URL at a server where this user may CREATE DATABASE and CREATE ROLE.", err)
	case err != nil:
		t.Fatalf("testdb: %v", err)
	}
	return db
}

// Exists reports whether a schema and a role with this name exist.
func Exists(ctx context.Context, t testing.TB, db *pgxpool.Pool, name string) (schema, role bool) {
	t.Helper()
	err := db.QueryRow(ctx, `SELECT
		EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1),
		EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)`, name).Scan(&schema, &role)
	if err != nil {
		t.Fatalf("testdb: inspect %s: %v", name, err)
	}
	return schema, role
}

// SessionState lists, for every idle connection of the pool, the session state that would
// pin the connection's client session to one database connection behind RDS Proxy: named
// prepared statements, session-level settings, advisory locks, temporary tables, LISTEN
// channels and open cursors. Call it once the code under test is done with the pool. It
// reads with the simple protocol, so that looking leaves nothing behind, and fails the
// test when no connection is idle to look at.
func SessionState(ctx context.Context, t testing.TB, pool *pgxpool.Pool) []string {
	t.Helper()
	// A released connection returns to the pool in the background (after the pool's
	// AfterRelease hook), so wait for every one to be back.
	for pool.Stat().AcquiredConns() > 0 && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	conns := pool.AcquireAllIdle(ctx)
	defer func() {
		for _, c := range conns {
			c.Release()
		}
	}()
	if len(conns) == 0 {
		t.Fatal("testdb: no idle connection to inspect")
	}
	var state []string
	for _, c := range conns {
		rows, err := c.Query(ctx, `
			SELECT 'prepared statement ' || name FROM pg_prepared_statements
			UNION ALL SELECT 'session setting ' || name FROM pg_settings WHERE source = 'session'
			UNION ALL SELECT 'advisory lock ' || objid FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()
			UNION ALL SELECT 'temporary table ' || relname FROM pg_class WHERE relnamespace = pg_my_temp_schema()
			UNION ALL SELECT 'listening on ' || c FROM pg_listening_channels() c
			UNION ALL SELECT 'cursor ' || name FROM pg_cursors`, pgx.QueryExecModeSimpleProtocol)
		if err != nil {
			t.Fatalf("testdb: inspect a session: %v", err)
		}
		got, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatalf("testdb: inspect a session: %v", err)
		}
		state = append(state, got...)
	}
	return state
}

// As opens a pool on the database at url that logs in as user, one of the functions'
// database users (catalog.DBUsers, made by the control-plane migration): a test that runs
// a function's code as its user shows the user's rights suffice. Closed when the test ends.
func As(t testing.TB, url, user string) *pgxpool.Pool {
	t.Helper()
	pool, err := database.Open(context.Background(), database.Config{DSN: url, User: user, MaxConns: 4})
	if err != nil {
		t.Fatalf("testdb: open pool as %s: %v", user, err)
	}
	t.Cleanup(pool.Close)
	return pool
}
