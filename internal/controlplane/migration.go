// Package controlplane is the migrate function: it brings the control plane to the newest
// migration version when invoked directly, and as a CloudFormation custom resource on every
// deploy, so a new release never runs against an old schema.
package controlplane

import (
	"context"
	"encoding/json"
	"log/slog"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/healthstack/tenant-provisioning/internal/store"
)

// PhysicalID names the custom resource: one per stack, whatever the version.
const PhysicalID = "control-plane-migrations"

// Handler is the migrate function.
type Handler struct {
	Pool *pgxpool.Pool
	Log  *slog.Logger
	// respond answers CloudFormation; tests replace it to see the answer.
	respond func(cfn.CustomResourceFunction) cfn.CustomResourceLambdaFunction
}

// New returns the handler on pool.
func New(pool *pgxpool.Pool, log *slog.Logger) *Handler {
	return &Handler{Pool: pool, Log: log, respond: cfn.LambdaWrap}
}

// Handle migrates. A CloudFormation custom-resource event (it has a RequestType) is
// answered through its ResponseURL, as CloudFormation waits for that; anything else is a
// plain invocation (`aws lambda invoke`, `make migrate`) answered with the versions.
func (h *Handler) Handle(ctx context.Context, raw json.RawMessage) (any, error) {
	var ev cfn.Event
	if json.Unmarshal(raw, &ev) == nil && ev.RequestType != "" {
		reason, err := h.respond(h.customResource)(ctx, ev)
		return map[string]string{"reason": reason}, err
	}
	return h.migrate(ctx)
}

func (h *Handler) migrate(ctx context.Context) (store.MigrationResult, error) {
	res, err := store.Migrate(ctx, h.Pool)
	if err == nil {
		h.Log.InfoContext(ctx, "control plane migrated", "fromVersion", res.From, "toVersion", res.To)
	}
	return res, err
}

func (h *Handler) customResource(ctx context.Context, ev cfn.Event) (string, map[string]any, error) {
	if ev.RequestType == cfn.RequestDelete {
		// Deleting the stack (or replacing this resource) must never touch the data.
		return PhysicalID, nil, nil
	}
	res, err := h.migrate(ctx)
	if err != nil {
		return PhysicalID, nil, err
	}
	return PhysicalID, map[string]any{"FromVersion": res.From, "ToVersion": res.To}, nil
}
