package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/healthstack/tenant-provisioning/internal/api"
	"github.com/healthstack/tenant-provisioning/internal/pipeline"
	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/tenantdb"
)

// measureActivation times the public activation route on provisioned tenants, one request
// per tenant: each redeems a token issued here as the welcome e-mail's is, so every request
// does the route's whole work (tenant, token lookup, argon2id hash, single-use update,
// audit row). The baseline is the argon2id hash alone, which no database work can remove.
func measureActivation(ctx context.Context, pool *pgxpool.Pool, reqs int, hashMs float64) ([]Result, error) {
	h, err := api.New(api.Config{Store: store.New(pool), Activations: pipeline.New(pool, slog.New(slog.DiscardHandler)),
		RequiredScope: "tenants/admin", Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	st := store.New(pool)
	rows, err := pool.Query(ctx, `SELECT id FROM tenants WHERE status = 'ACTIVE' AND execution_arn LIKE '%:tenant-provisioning:%'
		ORDER BY created_at LIMIT $1`, reqs)
	if err != nil {
		return nil, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("bench: no provisioned tenant to activate")
	}
	requests := make([]events.APIGatewayV2HTTPRequest, len(ids))
	for i, id := range ids {
		t, err := st.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		n, err := tenantdb.For(t)
		if err != nil {
			return nil, err
		}
		var a tenantdb.Activation
		if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			a, err = tenantdb.IssueActivation(ctx, tx, n, t.AdminEmail, "bench", time.Hour)
			return err
		}); err != nil {
			return nil, fmt.Errorf("bench: issue activation: %w", err)
		}
		body, _ := json.Marshal(map[string]string{"tenantId": id.String(), "token": a.Token, "password": "violet kettle drums at noon"})
		requests[i] = events.APIGatewayV2HTTPRequest{
			RawPath: "/activation", Body: string(body), Headers: map[string]string{"content-type": "application/json"},
			RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "bench",
				// Admins activate from their own addresses: one each, within the per-client limit.
				HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: http.MethodPost, Path: "/activation",
					SourceIP: fmt.Sprintf("198.18.%d.%d", i/256%256, i%256)}},
		}
	}
	i := 0
	ds, err := timeN(len(requests), func() error {
		resp, err := h.Activate(ctx, requests[i])
		i++
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("bench: activation answered %d: %s", resp.StatusCode, resp.Body)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return []Result{
		newResult("activation route p50", ms(percentile(ds, 50)), "ms", hashMs, "argon2id hash alone"),
		newResult("activation route p99", ms(percentile(ds, 99)), "ms", hashMs, "argon2id hash alone"),
	}, nil
}
