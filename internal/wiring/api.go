package wiring

import (
	"context"
	"errors"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/healthstack/tenant-provisioning/internal/api"
	"github.com/healthstack/tenant-provisioning/internal/catalog"
	"github.com/healthstack/tenant-provisioning/internal/config"
	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/workflow"
)

// API builds the admin API handler for a route's main.
func API(id string) (*api.Handler, func()) {
	return start(id, func(ctx context.Context, log *slog.Logger, f catalog.Function) (*api.Handler, *pgxpool.Pool, error) {
		return NewAPI(ctx, log, f)
	})
}

// NewAPI reads the configuration, then builds the handler and its pool. Only the routes
// that start or describe executions are given STATE_MACHINE_ARN, or the upgrade route
// UPGRADE_STATE_MACHINE_ARN (and the IAM permission that goes with it): unset, the route
// runs without Step Functions; set but malformed, it is a ConfigError naming the variable.
//
// f is the route's function: its pool logs in as f's database user, and its capabilities
// give it clients (catalog.Email gives the route that sends activation links its e-mail).
func NewAPI(ctx context.Context, log *slog.Logger, f catalog.Function) (*api.Handler, *pgxpool.Pool, error) {
	wf, err := config.LoadWorkflow()
	hasWorkflow := err == nil
	if err != nil && !errors.Is(err, config.ErrNotSet) {
		return nil, nil, err
	}
	upgrades, err := config.LoadUpgradeWorkflow()
	hasUpgrades := err == nil
	if err != nil && !errors.Is(err, config.ErrNotSet) {
		return nil, nil, err
	}
	awsCfg, err := AWSConfig(ctx)
	if err != nil {
		return nil, nil, err
	}
	steps, pool, err := newSteps(ctx, log, awsCfg, f)
	if err != nil {
		return nil, nil, err
	}
	apiCfg := config.LoadAPI()
	cfg := api.Config{Store: store.New(pool), Archiver: steps, Activations: steps, Log: log, RequiredScope: apiCfg.RequiredScope, ReadScope: apiCfg.ReadScope}
	if hasWorkflow {
		client, err := workflow.New(sfn.NewFromConfig(awsCfg), wf.StateMachineARN)
		if err != nil {
			pool.Close()
			return nil, nil, err
		}
		cfg.Starter, cfg.Describer = Starter(client), Describer(client)
	}
	if hasUpgrades {
		client, err := workflow.New(sfn.NewFromConfig(awsCfg), upgrades.StateMachineARN)
		if err != nil {
			pool.Close()
			return nil, nil, err
		}
		cfg.Upgrades = Upgrades(client)
	}
	if f.Uses(catalog.VerifyAudit) {
		ac, err := config.LoadAuditChain()
		if err != nil {
			pool.Close()
			return nil, nil, err
		}
		cfg.AuditVerifier = AuditVerifier(awsCfg, ac, cfg.Store)
	}
	h, err := api.New(cfg)
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	return h, pool, nil
}

// Starter starts provisioning executions on c's state machine for the admin API.
func Starter(c *workflow.Client) api.Starter { return workflowStarter{c} }

// Describer reads executions through c for the admin API's status route.
func Describer(c *workflow.Client) api.ExecutionDescriber { return workflowDescriber{c} }

// Upgrades starts and follows upgrade runs' executions on c's state machine.
func Upgrades(c *workflow.Client) api.Upgrades { return workflowUpgrades{c} }

type workflowStarter struct{ c *workflow.Client }

func (w workflowStarter) Start(ctx context.Context, id uuid.UUID, name string) (api.Started, error) {
	e, err := w.c.StartNamed(ctx, id, name)
	return api.Started{ExecutionArn: e.Arn, AlreadyStarted: e.AlreadyStarted}, err
}

type workflowDescriber struct{ c *workflow.Client }

func (w workflowDescriber) Describe(ctx context.Context, arn string) (api.ExecutionStatus, error) {
	s, err := w.c.Describe(ctx, arn)
	return api.ExecutionStatus{Status: s.Status, StartedAt: s.StartedAt, StoppedAt: s.StoppedAt, Error: s.Error, Cause: s.Cause}, err
}

type workflowUpgrades struct{ c *workflow.Client }

func (w workflowUpgrades) StartUpgrade(ctx context.Context, runID uuid.UUID) (api.Started, error) {
	e, err := w.c.StartUpgrade(ctx, runID)
	return api.Started{ExecutionArn: e.Arn}, err
}

func (w workflowUpgrades) UpgradeStatus(ctx context.Context, runID uuid.UUID) (string, error) {
	return w.c.ExecutionStatus(ctx, runID.String())
}
