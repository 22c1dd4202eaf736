package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/healthstack/tenant-provisioning/internal/api"
	"github.com/healthstack/tenant-provisioning/internal/store"
)

// List targets of the issue: the handler's p99 for a page of 50, and the database's share.
const (
	listHandlerP99 = 5 * time.Millisecond
	listDBP99      = time.Millisecond
	listPage       = 50
)

// seedTenants brings the control plane to size tenants with one INSERT … SELECT, spread
// over statuses and a year of creation times, as a long-lived installation would be.
func seedTenants(ctx context.Context, pool *pgxpool.Pool, size int) error {
	_, err := pool.Exec(ctx, `
		INSERT INTO tenants (id, name, slug, status, admin_email, admin_first_name, admin_last_name, created_at, updated_at)
		SELECT gen_random_uuid(), 'Seeded Clinic ' || g, 'seeded-clinic-' || g,
		       (ARRAY['ACTIVE','ACTIVE','ACTIVE','FAILED','ARCHIVED'])[1 + g % 5],
		       'admin' || g || '@seeded.example', 'Seed', 'Admin',
		       now() - (g * interval '5 minutes'), now()
		FROM generate_series((SELECT count(*) FROM tenants) + 1, $1::int) AS g`, size)
	return err
}

// measureList times the list route at each size: the handler end to end (p99 over reqs
// requests for the first page and for a page deep in the cursor chain) and store.List
// alone, next to a plain database round trip measured in the same run.
func measureList(ctx context.Context, cfg Config, pool *pgxpool.Pool, sizes []int, reqs int) ([]Result, error) {
	h, err := api.New(api.Config{Store: store.New(pool), RequiredScope: "tenants/admin", Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	st := store.New(pool)
	roundTrip, err := timeN(reqs, func() error { _, err := pool.Exec(ctx, "SELECT 1"); return err })
	if err != nil {
		return nil, err
	}
	rtP99 := ms(percentile(roundTrip, 99))
	var out []Result
	for _, size := range sizes {
		cfg.progress("list: seeding %d tenants", size)
		if err := seedTenants(ctx, pool, size); err != nil {
			return nil, err
		}
		// Steady state, as autovacuum keeps a live installation: statistics fresh and the
		// visibility map set (the capped count is an index-only scan). The checkpoint gets
		// the seeding's (and the scale phase's gigabytes of) dirty pages written before the
		// timing, not during it; without the right to checkpoint, the bench goes on.
		if _, err := pool.Exec(ctx, "VACUUM (ANALYZE) tenants"); err != nil {
			return nil, err
		}
		_, _ = pool.Exec(ctx, "CHECKPOINT")
		// The scale phase may have gone past size already: name the figures by what is there.
		if err := pool.QueryRow(ctx, "SELECT count(*) FROM tenants").Scan(&size); err != nil {
			return nil, err
		}
		deep, err := cursorAt(ctx, st, size/2)
		if err != nil {
			return nil, err
		}
		for _, page := range []struct{ name, cursor string }{{"first page", ""}, {"deep page", deep}} {
			cfg.progress("list: %d tenants, %s, %d requests", size, page.name, reqs)
			handler, err := timeN(reqs, func() error { return listOnce(ctx, h, page.cursor) })
			if err != nil {
				return nil, err
			}
			db, err := timeN(reqs, func() error {
				_, err := st.List(ctx, store.ListQuery{Limit: listPage, Cursor: page.cursor})
				return err
			})
			if err != nil {
				return nil, err
			}
			hr := newResult(fmt.Sprintf("list handler p99, %d tenants, %s", size, page.name), ms(percentile(handler, 99)), "ms",
				rtP99, "SELECT 1 round trip p99")
			hr.Target, hr.Margin = "≤ 5 ms", ms(listHandlerP99)-hr.Value
			hr.Met = ptr(hr.Margin >= 0)
			dr := newResult(fmt.Sprintf("list DB p99, %d tenants, %s", size, page.name), ms(percentile(db, 99)), "ms",
				rtP99, "SELECT 1 round trip p99")
			dr.Target, dr.Margin = "≤ 1 ms", ms(listDBP99)-dr.Value
			dr.Met = ptr(dr.Margin >= 0)
			d50 := newResult(fmt.Sprintf("list DB p50, %d tenants, %s", size, page.name), ms(percentile(db, 50)), "ms",
				ms(percentile(roundTrip, 50)), "SELECT 1 round trip p50")
			out = append(out, hr, dr, d50)
		}
	}
	return out, nil
}

// cursorAt walks the cursor chain to about the row'th tenant.
func cursorAt(ctx context.Context, st *store.Store, row int) (string, error) {
	cursor := ""
	for seen := 0; seen+100 <= row; seen += 100 {
		p, err := st.List(ctx, store.ListQuery{Limit: 100, Cursor: cursor})
		if err != nil || p.NextCursor == "" {
			return cursor, err
		}
		cursor = p.NextCursor
	}
	return cursor, nil
}

// adminRequest is a GET as API Gateway hands it over, with an admin's JWT claims.
func adminRequest(path string, query, pathParams map[string]string) events.APIGatewayV2HTTPRequest {
	return events.APIGatewayV2HTTPRequest{
		RawPath: path, QueryStringParameters: query, PathParameters: pathParams,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RequestID: "bench",
			HTTP:      events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: http.MethodGet, Path: path},
			Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{
				Claims: map[string]string{"sub": "bench"}, Scopes: []string{"tenants/admin"},
			}},
		},
	}
}

func listOnce(ctx context.Context, h *api.Handler, cursor string) error {
	q := map[string]string{"limit": fmt.Sprint(listPage)}
	if cursor != "" {
		q["cursor"] = cursor
	}
	resp, err := h.ListTenants(ctx, adminRequest("/admin/tenants", q, nil))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("list answered %d: %s", resp.StatusCode, resp.Body)
	}
	var page struct {
		Tenants []json.RawMessage `json:"tenants"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &page); err != nil || len(page.Tenants) != listPage {
		return fmt.Errorf("list returned %d tenants (%v)", len(page.Tenants), err)
	}
	return nil
}

// timeN times n calls of f, after a collection, as Go's own benchmarks start: what the
// earlier phases left on the heap is not collected in the middle of the timing.
func timeN(n int, f func() error) ([]time.Duration, error) {
	runtime.GC()
	ds := make([]time.Duration, n)
	for i := range ds {
		start := time.Now()
		if err := f(); err != nil {
			return nil, err
		}
		ds[i] = time.Since(start)
	}
	return ds, nil
}

// statusHandlerP99 is the status route's target.
const statusHandlerP99 = 5 * time.Millisecond

// measureStatus times the status route for a tenant the pipeline provisioned: its log holds
// every step, which is the route's full answer.
func measureStatus(ctx context.Context, pool *pgxpool.Pool, reqs int) (Result, error) {
	h, err := api.New(api.Config{Store: store.New(pool), RequiredScope: "tenants/admin", Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		return Result{}, err
	}
	var id string
	if err := pool.QueryRow(ctx, `SELECT id::text FROM tenants WHERE status = 'ACTIVE' AND execution_arn IS NOT NULL
		ORDER BY created_at LIMIT 1`).Scan(&id); err != nil {
		return Result{}, fmt.Errorf("no provisioned tenant to ask about: %w", err)
	}
	roundTrip, err := timeN(reqs, func() error { _, err := pool.Exec(ctx, "SELECT 1"); return err })
	if err != nil {
		return Result{}, err
	}
	req := adminRequest("/admin/tenants/"+id+"/provisioning-status", nil, map[string]string{"id": id})
	ds, err := timeN(reqs, func() error {
		resp, err := h.GetProvisioningStatus(ctx, req)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("status answered %d", resp.StatusCode)
		}
		return err
	})
	if err != nil {
		return Result{}, err
	}
	r := newResult("status handler p99, full log", ms(percentile(ds, 99)), "ms", ms(percentile(roundTrip, 99)), "SELECT 1 round trip p99")
	r.Target, r.Margin = "≤ 5 ms", ms(statusHandlerP99)-r.Value
	r.Met = ptr(r.Margin >= 0)
	return r, nil
}
