package wiring

import (
	"context"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/healthstack/tenant-provisioning/internal/catalog"
	"github.com/healthstack/tenant-provisioning/internal/config"
	"github.com/healthstack/tenant-provisioning/internal/reconcile"
	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/workflow"
)

// Reconciler builds the reconciler for its main.
func Reconciler(id string) (*reconcile.Reconciler, func()) {
	return start(id, func(ctx context.Context, log *slog.Logger, f catalog.Function) (*reconcile.Reconciler, *pgxpool.Pool, error) {
		return NewReconciler(ctx, log, f)
	})
}

// NewReconciler reads the configuration, then builds the reconciler of function f: the
// control plane as f's database user, the pipeline's rollback with the clients of f's
// capabilities (the catalogue gives it e-mail, for its failure notices) and the
// executions of the provisioning state machine (STATE_MACHINE_ARN, required here).
func NewReconciler(ctx context.Context, log *slog.Logger, f catalog.Function) (*reconcile.Reconciler, *pgxpool.Pool, error) {
	wf, err := config.LoadWorkflow()
	if err != nil {
		return nil, nil, err
	}
	awsCfg, err := AWSConfig(ctx)
	if err != nil {
		return nil, nil, err
	}
	client, err := workflow.New(sfn.NewFromConfig(awsCfg), wf.StateMachineARN)
	if err != nil {
		return nil, nil, err
	}
	steps, pool, err := newSteps(ctx, log, awsCfg, f)
	if err != nil {
		return nil, nil, err
	}
	return &reconcile.Reconciler{Store: store.New(pool), Rollback: steps, Executions: client, Log: log}, pool, nil
}
