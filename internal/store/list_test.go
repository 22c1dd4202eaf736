package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/tenant"
	"github.com/healthstack/tenant-provisioning/internal/testkit/testdb"
)

func reserve(t *testing.T, ctx context.Context, s *store.Store, name string) tenant.Tenant {
	t.Helper()
	reg, err := tenant.Registration{Name: name, AdminEmail: "list.zz@example.org", AdminFirstName: "Ada", AdminLastName: "Zz"}.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	tn, err := s.Reserve(ctx, reg)
	if err != nil {
		t.Fatalf("reserve %q: %v", name, err)
	}
	return tn
}

// seed reserves n tenants, all with one created_at when sameInstant (ties are broken by id),
// and returns their ids newest first, the order List promises.
func seed(t *testing.T, ctx context.Context, pool *pgxpool.Pool, s *store.Store, prefix string, n int, sameInstant bool) []uuid.UUID {
	t.Helper()
	var ids []uuid.UUID
	for i := range n {
		ids = append(ids, reserve(t, ctx, s, fmt.Sprintf("%s %03d", prefix, i)).ID)
	}
	if sameInstant {
		if _, err := pool.Exec(ctx, `UPDATE tenants SET created_at = '2025-01-02T03:04:05.123456Z' WHERE id = ANY($1)`, ids); err != nil {
			t.Fatal(err)
		}
	}
	var sorted []uuid.UUID
	rows, err := pool.Query(ctx, `SELECT id FROM tenants WHERE id = ANY($1) ORDER BY created_at DESC, id DESC`, ids)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id uuid.UUID
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		sorted = append(sorted, id)
	}
	return sorted
}

func listAll(t *testing.T, ctx context.Context, s *store.Store, q store.ListQuery) (ids []uuid.UUID, totals []int64) {
	t.Helper()
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Fatal("pagination does not end")
		}
		p, err := s.List(ctx, q)
		if err != nil {
			t.Fatalf("list %+v: %v", q, err)
		}
		if len(p.Tenants) > q.Limit && q.Limit > 0 {
			t.Fatalf("page of %d rows for limit %d", len(p.Tenants), q.Limit)
		}
		for _, tn := range p.Tenants {
			ids = append(ids, tn.ID)
		}
		totals = append(totals, p.Total)
		if p.NextCursor == "" {
			return ids, totals
		}
		q.Cursor = p.NextCursor
	}
}

func TestListPages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	s := store.New(pool)

	empty, err := s.List(ctx, store.ListQuery{})
	if err != nil || empty.Total != 0 || len(empty.Tenants) != 0 || empty.NextCursor != "" {
		t.Fatalf("empty list = %+v, %v", empty, err)
	}

	distinct := seed(t, ctx, pool, s, "Distinct", 7, false)
	tied := seed(t, ctx, pool, s, "Tied", 6, true) // older than every distinct one
	want := append(slices.Clone(distinct), tied...)
	failed := tied[1:3]
	for _, id := range failed {
		if ok, err := s.FailReservation(ctx, id, "could not start provisioning"); !ok || err != nil {
			t.Fatalf("fail reservation: %v, %v", ok, err)
		}
	}

	tests := []struct {
		name   string
		q      store.ListQuery
		want   []uuid.UUID
		totals int64
	}{
		{"default limit", store.ListQuery{}, want, 13},
		{"pages of 1", store.ListQuery{Limit: 1}, want, 13},
		{"pages of 4 crossing the tie", store.ListQuery{Limit: 4}, want, 13},
		{"exact fit", store.ListQuery{Limit: 13}, want, 13},
		{"status filter", store.ListQuery{Status: tenant.StatusFailed, Limit: 1}, failed, 2},
		{"status with no rows", store.ListQuery{Status: tenant.StatusArchived}, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, totals := listAll(t, ctx, s, tt.q)
			if !slices.Equal(got, tt.want) {
				t.Errorf("ids = %v\nwant %v", got, tt.want)
			}
			for _, n := range totals {
				if n != tt.totals {
					t.Errorf("total = %d, want %d", n, tt.totals)
				}
			}
		})
	}

	t.Run("summary fields", func(t *testing.T) {
		t.Parallel()
		p, err := s.List(ctx, store.ListQuery{Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		got := p.Tenants[0]
		if got.ID != distinct[0] || got.Name != "Distinct 006" || got.Status != tenant.StatusPending ||
			got.SchemaName != "" || got.CreatedAt.IsZero() || got.UpdatedAt.IsZero() {
			t.Errorf("summary = %+v", got)
		}
	})
}

func TestListRefusesBadQueries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	s := store.New(pool)
	seed(t, ctx, pool, s, "Clinic", 3, false)
	first, err := s.List(ctx, store.ListQuery{Limit: 1})
	if err != nil || first.NextCursor == "" {
		t.Fatalf("first page: %+v, %v", first, err)
	}
	filtered, err := s.List(ctx, store.ListQuery{Limit: 1, Status: tenant.StatusPending})
	if err != nil || filtered.NextCursor == "" {
		t.Fatalf("filtered page: %+v, %v", filtered, err)
	}
	tampered := []byte(first.NextCursor)
	tampered[0] ^= 'A' ^ 'B'

	tests := []struct {
		name  string
		q     store.ListQuery
		field string
	}{
		{"limit too small", store.ListQuery{Limit: -1}, "limit"},
		{"limit too large", store.ListQuery{Limit: store.MaxListLimit + 1}, "limit"},
		{"unknown status", store.ListQuery{Status: "DELETED"}, "status"},
		{"lower-case status", store.ListQuery{Status: "active"}, "status"},
		{"not base64", store.ListQuery{Cursor: "!!!"}, "cursor"},
		{"padded", store.ListQuery{Cursor: first.NextCursor + "="}, "cursor"},
		{"too short", store.ListQuery{Cursor: first.NextCursor[:10]}, "cursor"},
		{"tampered version", store.ListQuery{Cursor: string(tampered)}, "cursor"},
		{"unfiltered cursor with a filter", store.ListQuery{Cursor: first.NextCursor, Status: tenant.StatusPending}, "cursor"},
		{"filtered cursor without the filter", store.ListQuery{Cursor: filtered.NextCursor}, "cursor"},
		{"filtered cursor with another filter", store.ListQuery{Cursor: filtered.NextCursor, Status: tenant.StatusActive}, "cursor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := s.List(ctx, tt.q)
			var ve *fault.ValidationError
			if !errors.As(err, &ve) || len(ve.Fields) != 1 || ve.Fields[0].Field != tt.field {
				t.Fatalf("List(%+v) error = %#v, want a ValidationError on %s", tt.q, err, tt.field)
			}
		})
	}
}

func TestFailReservation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	s := store.New(pool)

	t.Run("pending", func(t *testing.T) {
		t.Parallel()
		tn := reserve(t, ctx, s, "Pending Clinic")
		ok, err := s.FailReservation(ctx, tn.ID, "could not start provisioning")
		if !ok || err != nil {
			t.Fatalf("FailReservation = %v, %v; want true", ok, err)
		}
		got, err := s.Get(ctx, tn.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != tenant.StatusFailed || got.ProvisioningError != "could not start provisioning" || got.CompletedAt == nil {
			t.Errorf("tenant = %v, error %q, completed %v", got.Status, got.ProvisioningError, got.CompletedAt)
		}
		// The name is free again: the organisation can be onboarded anew.
		reserve(t, ctx, s, "PENDING clinic")
		if ok, err := s.FailReservation(ctx, tn.ID, "again"); ok || err != nil {
			t.Errorf("second FailReservation = %v, %v; want false", ok, err)
		}
	})

	t.Run("claimed by an execution", func(t *testing.T) {
		t.Parallel()
		tn := reserve(t, ctx, s, "Claimed Clinic")
		if _, err := pool.Exec(ctx, `UPDATE tenants SET status = 'PROVISIONING', execution_arn = 'arn:x' WHERE id = $1`, tn.ID); err != nil {
			t.Fatal(err)
		}
		if ok, err := s.FailReservation(ctx, tn.ID, "could not start provisioning"); ok || err != nil {
			t.Fatalf("FailReservation = %v, %v; want false", ok, err)
		}
		if got, _ := s.Get(ctx, tn.ID); got.Status != tenant.StatusProvisioning || got.ProvisioningError != "" {
			t.Errorf("claimed tenant changed: %v %q", got.Status, got.ProvisioningError)
		}
	})

	t.Run("unknown tenant", func(t *testing.T) {
		t.Parallel()
		if ok, err := s.FailReservation(ctx, uuid.New(), "x"); ok || err != nil {
			t.Errorf("FailReservation = %v, %v; want false, nil", ok, err)
		}
	})

	t.Run("cancelled context is transient", func(t *testing.T) {
		t.Parallel()
		cctx, cancel := context.WithDeadline(ctx, time.Now().Add(-time.Second))
		defer cancel()
		_, err := s.FailReservation(cctx, uuid.New(), "x")
		if !fault.IsTransient(err) {
			t.Errorf("error = %#v, want TransientError", err)
		}
	})
}

// Past the cap the total is the planner's estimate, flagged as such, and still close.
func TestListTotalIsEstimatedPastTheCap(t *testing.T) {
	t.Parallel()
	pool := testdb.New(t)
	ctx := context.Background()
	const n = 1800
	if _, err := pool.Exec(ctx, `
		INSERT INTO tenants (id, name, slug, status, admin_email, admin_first_name, admin_last_name)
		SELECT gen_random_uuid(), 'Many ' || g, 'many-' || g, CASE WHEN g % 3 = 0 THEN 'FAILED' ELSE 'ACTIVE' END,
		       'a' || g || '@many.example', 'A', 'B'
		FROM generate_series(1, $1::int) g`, n); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "ANALYZE tenants"); err != nil {
		t.Fatal(err)
	}
	s := store.New(pool)
	cases := []struct {
		status tenant.Status
		want   int64
	}{{"", n}, {tenant.StatusActive, n - n/3}}
	for _, c := range cases {
		page, err := s.List(ctx, store.ListQuery{Status: c.status, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if !page.TotalEstimated || page.Total < c.want*8/10 || page.Total > c.want*12/10 {
			t.Errorf("status %q: total %d estimated %v, want about %d, estimated", c.status, page.Total, page.TotalEstimated, c.want)
		}
	}
	// Under the cap the count is exact.
	page, err := s.List(ctx, store.ListQuery{Status: tenant.StatusFailed, Limit: 10})
	if err != nil || page.TotalEstimated || page.Total != n/3 {
		t.Errorf("FAILED: total %d estimated %v (%v), want exactly %d", page.Total, page.TotalEstimated, err, n/3)
	}
}

// Where the planner expects far more tenants than the cap, nothing is counted: the total
// is the estimate even when, as here with statistics left stale on purpose, far fewer rows
// are really there. Autovacuum keeps the statistics fresh in a live installation.
func TestListDoesNotCountWhereThePlannerExpectsFarMore(t *testing.T) {
	t.Parallel()
	pool := testdb.New(t)
	ctx := context.Background()
	const n = 3000
	if _, err := pool.Exec(ctx, `
		INSERT INTO tenants (id, name, slug, status, admin_email, admin_first_name, admin_last_name)
		SELECT gen_random_uuid(), 'Many ' || g, 'many-' || g, 'ACTIVE', 'a' || g || '@many.example', 'A', 'B'
		FROM generate_series(1, $1::int) g`, n); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "ANALYZE tenants"); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "DELETE FROM tenants WHERE name NOT IN ('Many 1', 'Many 2', 'Many 3')"); err != nil {
		t.Fatal(err)
	}
	page, err := store.New(pool).List(ctx, store.ListQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if !page.TotalEstimated || page.Total < n*8/10 || len(page.Tenants) != 3 {
		t.Errorf("total %d estimated %v with %d tenants listed; want the planner's ~%d, flagged, beside the 3 rows", page.Total, page.TotalEstimated, len(page.Tenants), n)
	}
}
