// Package testdb gives each test its own PostgreSQL database with the control plane
// migrated, so integration tests run in parallel against a real server without sharing
// state. It is imported by tests only.
package testdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/healthstack/tenant-provisioning/internal/database"
	"github.com/healthstack/tenant-provisioning/internal/store"
)

// DefaultURL is the machine's local PostgreSQL (trust authentication).
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// AdminURL is the server tests create their databases on: TEST_DATABASE_URL, or DefaultURL.
func AdminURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultURL
}

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
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	adminURL := AdminURL()
	admin := connectAdmin(ctx, t, adminURL)
	defer admin.Close(ctx)

	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix)
	name := "test_" + hex.EncodeToString(suffix)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("testdb: create database: %v", err)
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		t.Fatalf("testdb: TEST_DATABASE_URL must be a postgres:// URL: %v", err)
	}
	u.Path = "/" + name
	dbURL := u.String()
	pool, err := database.Open(ctx, database.Config{DSN: dbURL, MaxConns: 8})
	if err != nil {
		t.Fatalf("testdb: open pool: %v", err)
	}
	t.Cleanup(func() { drop(t, adminURL, name, pool) })
	if _, err := store.Migrate(ctx, pool); err != nil {
		t.Fatalf("testdb: migrate control plane: %v", err)
	}
	return pool, dbURL
}

func connectAdmin(ctx context.Context, t testing.TB, adminURL string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		t.Fatalf("testdb: PostgreSQL is not reachable at %s: %v\n"+
			"Integration tests need a real PostgreSQL. Start the local one with\n"+
			"  pg_ctlcluster --skip-systemctl-redirect 15 main start\n"+
			"or point TEST_DATABASE_URL at a server where this user may CREATE DATABASE and CREATE ROLE.",
			redact(adminURL), err)
	}
	return conn
}

func drop(t testing.TB, adminURL, name string, pool *pgxpool.Pool) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var roles []string
	rows, err := pool.Query(ctx, `SELECT schema_name FROM tenants WHERE schema_name IS NOT NULL`)
	if err == nil {
		roles, _ = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	pool.Close()
	admin, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		t.Errorf("testdb: cleanup: %v", err)
		return
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		t.Errorf("testdb: drop database %s: %v", name, err)
	}
	for _, r := range roles {
		// The role's grants lived in the dropped database, so nothing holds it any more.
		if _, err := admin.Exec(ctx, "DROP ROLE IF EXISTS "+pgx.Identifier{r}.Sanitize()); err != nil {
			t.Errorf("testdb: drop role %s: %v", r, err)
		}
	}
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
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
