package store_test

import (
	"context"
	"testing"

	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/testkit/testdb"
)

func TestMigrateIsRepeatable(t *testing.T) {
	t.Parallel()
	pool := testdb.New(t) // already migrated once
	res, err := store.Migrate(context.Background(), pool)
	if err != nil {
		t.Fatal(err)
	}
	if res.From != res.To || res.To < 1 {
		t.Errorf("second migrate = %+v, want a no-op at the latest version", res)
	}
	var n int
	if err := pool.QueryRow(context.Background(),
		`SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename IN ('tenants', 'provisioning_logs')`).Scan(&n); err != nil || n != 2 {
		t.Errorf("control plane tables: %d, %v", n, err)
	}
}

func TestTruncate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly", 7, "exactly"},
		{"too long", 5, "too …"},
		{"ééééé", 3, "éé…"},
	}
	for _, c := range cases {
		if got := store.Truncate(c.in, c.n); got != c.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}
