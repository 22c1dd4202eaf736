package database_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/healthstack/tenant-provisioning/internal/database"
	"github.com/healthstack/tenant-provisioning/internal/testkit/testdb"
)

// A rotated password shows as a failed connection; the next connection must ask for fresh
// credentials instead of repeating the stale ones.
func TestCredentialsRefreshAfterAFailedConnect(t *testing.T) {
	t.Parallel()
	_, url := testdb.NewWithURL(t)
	var mu sync.Mutex
	user := "no_such_role_for_rotation_test"
	var refreshes []bool
	creds := func(ctx context.Context, refresh bool) (string, string, error) {
		mu.Lock()
		defer mu.Unlock()
		refreshes = append(refreshes, refresh)
		return user, "unused", nil
	}
	ctx := context.Background()
	pool, err := database.Open(ctx, database.Config{DSN: url, MaxConns: 1, Credentials: creds})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()

	err = pool.Ping(ctx)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "28000" {
		t.Fatalf("connect as a missing role: %v, want invalid_authorization_specification", err)
	}
	mu.Lock()
	user = "postgres" // the secret was rotated
	mu.Unlock()
	if err := pool.Ping(ctx); err != nil {
		t.Fatalf("after rotation: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(refreshes) != 2 || refreshes[0] || !refreshes[1] {
		t.Errorf("refresh flags = %v, want [false true]", refreshes)
	}
}

func TestOpenKeepsTheDSNOutOfErrors(t *testing.T) {
	t.Parallel()
	_, err := database.Open(context.Background(), database.Config{DSN: "postgres://u:hunter2@host:notaport/db"})
	if err == nil || errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if got := err.Error(); got != "database: invalid connection string" {
		t.Errorf("error = %q", got)
	}
}

// A connection is retired after MaxConnUses hand-outs, so no backend keeps caching the
// catalogs of ever more tenants; a negative limit keeps it.
func TestConnectionsRetireAfterTheirUses(t *testing.T) {
	t.Parallel()
	_, url := testdb.NewWithURL(t)
	cases := []struct {
		uses     int
		wantPIDs int
	}{
		{uses: 3, wantPIDs: 3}, // 7 queries: 3 + 3 + 1
		{uses: -1, wantPIDs: 1},
	}
	for _, c := range cases {
		pool, err := database.Open(context.Background(), database.Config{DSN: url, MaxConns: 1, MaxConnUses: c.uses})
		if err != nil {
			t.Fatal(err)
		}
		pids := map[uint32]bool{}
		for range 7 {
			var pid uint32
			if err := pool.QueryRow(context.Background(), "SELECT pg_backend_pid()").Scan(&pid); err != nil {
				t.Fatal(err)
			}
			pids[pid] = true
		}
		pool.Close()
		if len(pids) != c.wantPIDs {
			t.Errorf("MaxConnUses %d: 7 queries ran on %d backends, want %d", c.uses, len(pids), c.wantPIDs)
		}
	}
}
