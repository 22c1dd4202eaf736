package pipeline

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/healthstack/tenant-provisioning/internal/catalog"
	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/soroban"
	"github.com/healthstack/tenant-provisioning/internal/tenant"
)

// ContractDeployer deploys a tenant's contract; *soroban.Deployer is the production one.
type ContractDeployer interface {
	Deploy(ctx context.Context, tenantID uuid.UUID) (soroban.Result, error)
}

// WithContracts enables the contract deployment step.
func WithContracts(d ContractDeployer) Option {
	return func(s *Steps) { s.contracts = d }
}

// DeploySorobanContract deploys the tenant's contract, or finds the one an earlier attempt
// deployed (the contract id follows from the tenant id). Its output carries the contract id
// for StoreContractAddress, and the step's log keeps it even if a later step fails.
func (s *Steps) DeploySorobanContract(ctx context.Context, in TenantInput) (soroban.Result, error) {
	op := catalog.DeploySorobanContract.Log
	return run(ctx, s, op, in.TenantID, in.ExecutionArn, func(ctx context.Context, _ pgx.Tx, t tenant.Tenant) (soroban.Result, error) {
		if err := requireStatus(op, t, tenant.StatusProvisioning); err != nil {
			return soroban.Result{}, err
		}
		if s.contracts == nil {
			return soroban.Result{}, &fault.ConfigError{Op: op, Msg: "contract deployment is not configured"}
		}
		return s.contracts.Deploy(ctx, t.ID)
	})
}
