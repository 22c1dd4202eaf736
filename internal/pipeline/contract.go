package pipeline

import (
	"context"

	"github.com/google/uuid"

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
// for StoreContractAddress, and the step's log keeps it even if a later step fails. The
// deployment's RPCs and ledger closes run with no transaction open (runOutside): the
// tenant's row lock and a connection are held for two short checks, not for the seconds a
// real network takes.
func (s *Steps) DeploySorobanContract(ctx context.Context, in TenantInput) (soroban.Result, error) {
	op := catalog.DeploySorobanContract.Log
	return runOutside(ctx, s, op, in.TenantID, in.ExecutionArn, tenant.StatusProvisioning, func(ctx context.Context, t tenant.Tenant) (soroban.Result, error) {
		if s.contracts == nil {
			return soroban.Result{}, &fault.ConfigError{Op: op, Msg: "contract deployment is not configured"}
		}
		return s.contracts.Deploy(ctx, t.ID)
	})
}
