package pipeline

import (
	"context"
	"log/slog"
	"regexp"
	"time"

	"github.com/google/uuid"

	"github.com/healthstack/tenant-provisioning/internal/audit"
	"github.com/healthstack/tenant-provisioning/internal/catalog"
	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/metrics"
	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/tenant"
	"github.com/healthstack/tenant-provisioning/internal/tenantdb"
)

// TenantInput is the state every step receives: the tenant id, nothing personal.
type TenantInput struct {
	TenantID string `json:"tenantId"`
	// ExecutionArn is the execution the step runs in ($$.Execution.Id): a step acts only
	// for the execution that owns the tenant.
	ExecutionArn string `json:"executionArn"`
	// Request is the admin request that started the execution (its input's requestId),
	// which the audit records and events of the step's transitions carry.
	audit.Request
}

// CreateTenantRecordInput adds the execution that claims the tenant ($$.Execution.Id).
type CreateTenantRecordInput struct {
	TenantID     string `json:"tenantId"`
	ExecutionArn string `json:"executionArn"`
	audit.Request
}

// CreateTenantRecordOutput is what the claim did. Step outputs are in the execution's
// history: they hold ids and statuses, never the schema name, which is derived from the
// organisation's name (a sole practitioner's clinic carries a person's name).
type CreateTenantRecordOutput struct {
	TenantID string `json:"tenantId"`
	Status   string `json:"status"`
}

// CreateTenantRecord claims the reserved tenant for this execution: PENDING → PROVISIONING,
// with the execution ARN and the schema name recorded. Claiming again from the same
// execution is a no-op; a tenant claimed by another execution, or no longer PENDING, is a
// ConflictError.
func (s *Steps) CreateTenantRecord(ctx context.Context, in CreateTenantRecordInput) (CreateTenantRecordOutput, error) {
	op := catalog.CreateTenantRecord.Log
	return run(ctx, s, op, in.TenantID, in.ExecutionArn, func(ctx context.Context, tx *store.Tx, t tenant.Tenant) (CreateTenantRecordOutput, error) {
		out := CreateTenantRecordOutput{TenantID: t.ID.String(), Status: string(tenant.StatusProvisioning)}
		switch {
		case t.Status == tenant.StatusPending:
			return out, tx.Claim(ctx, t.ID, in.ExecutionArn, tenant.SchemaName(t.Name, t.ID))
		case t.Status == tenant.StatusProvisioning: // claimed by this execution already (run checks the owner)
			return out, nil
		default:
			return out, &fault.ConflictError{Op: op, Msg: "tenant is " + string(t.Status) + ", not PENDING"}
		}
	})
}

// CreateSchemaOutput says whether this attempt created the schema (false: it was there).
type CreateSchemaOutput struct {
	Created bool `json:"created"`
}

// CreateSchema creates the tenant's schema and its NOLOGIN role limited to that schema.
func (s *Steps) CreateSchema(ctx context.Context, in TenantInput) (CreateSchemaOutput, error) {
	return runInSchema(ctx, s, catalog.CreateSchema.Log, in.TenantID, in.ExecutionArn, tenant.StatusProvisioning, func(ctx context.Context, tx *store.Tx, _ tenant.Tenant, n tenantdb.Names) (CreateSchemaOutput, error) {
		created, err := tenantdb.CreateSchema(ctx, tx, n)
		return CreateSchemaOutput{Created: created}, err
	})
}

// RunMigrationsOutput reports the tenant schema's migration versions.
type RunMigrationsOutput struct {
	FromVersion int32 `json:"fromVersion"`
	ToVersion   int32 `json:"toVersion"`
}

// RunMigrations brings the tenant's tables to the newest migration version, in the step's
// transaction: a new schema takes every migration there, its indexes included (see
// tenantdb.Migrate). A schema another release left behind may lack a no-transaction
// migration (an index built concurrently): then the transaction commits what comes before
// it, with the version reached, the build runs with no transaction open (the step has one
// connection), and a second transaction, under the row lock again, applies what follows
// and logs the attempt.
func (s *Steps) RunMigrations(ctx context.Context, in TenantInput) (RunMigrationsOutput, error) {
	step := catalog.RunMigrations.Log
	return attempt(ctx, s, step, in.TenantID, in.ExecutionArn, func(ctx context.Context, id uuid.UUID, a store.StepRun) (out RunMigrationsOutput, err error) {
		for first := true; ; first = false {
			var n tenantdb.Names
			var res store.MigrationResult
			err = s.store.InTx(ctx, func(tx *store.Tx) error {
				t, err := lockOwned(ctx, tx, step, id, in.ExecutionArn)
				if err != nil {
					return err
				}
				if err := requireStatus(step, t, tenant.StatusProvisioning); err != nil {
					return err
				}
				if n, err = tenantdb.For(t); err != nil {
					return err
				}
				if res, err = tenantdb.Migrate(ctx, tx, n); err != nil {
					return err
				}
				if first {
					out.FromVersion = res.From
				}
				out.ToVersion = res.To
				if err := tx.SetSchemaVersion(ctx, t.ID, res.To); err != nil || res.OutsideTx {
					return err
				}
				return tx.FinishStep(ctx, a, store.LogCompleted, out, "")
			})
			if err != nil || !res.OutsideTx {
				return out, err
			}
			conn, err := s.pool.Acquire(ctx)
			if err != nil {
				return out, err
			}
			_, err = tenantdb.MigrateOutside(ctx, conn.Conn(), n)
			conn.Release()
			if err != nil {
				return out, err
			}
		}
	})
}

// SeedRolesAndUser creates the default roles and the admin user, pending activation.
func (s *Steps) SeedRolesAndUser(ctx context.Context, in TenantInput) (tenantdb.SeedResult, error) {
	return runInSchema(ctx, s, catalog.SeedRolesAndUser.Log, in.TenantID, in.ExecutionArn, tenant.StatusProvisioning, func(ctx context.Context, tx *store.Tx, t tenant.Tenant, n tenantdb.Names) (tenantdb.SeedResult, error) {
		admin := tenantdb.Admin{Email: t.AdminEmail, FirstName: t.AdminFirstName, LastName: t.AdminLastName}
		return tenantdb.Seed(ctx, tx, n, admin, t.ExecutionArn)
	})
}

// StoreContractAddressInput carries the contract id the deploy step produced.
type StoreContractAddressInput struct {
	TenantID     string `json:"tenantId"`
	ExecutionArn string `json:"executionArn"`
	ContractID   string `json:"contractId"`
	audit.Request
}

// StoreContractAddressOutput echoes the stored contract id.
type StoreContractAddressOutput struct {
	ContractID string `json:"contractId"`
}

// contractIDPattern is a Soroban contract address in strkey form ("C" + 55 base32 chars).
var contractIDPattern = regexp.MustCompile(`^C[A-Z2-7]{55}$`)

// StoreContractAddress records the tenant's contract id. Storing the same id again is a
// no-op; a different id for a tenant that already has one is an InvariantError (a second
// contract would mean the deploy step broke its idempotency).
func (s *Steps) StoreContractAddress(ctx context.Context, in StoreContractAddressInput) (StoreContractAddressOutput, error) {
	op := catalog.StoreContractAddress.Log
	if !contractIDPattern.MatchString(in.ContractID) {
		if _, err := parseTenantID(op, in.TenantID); err != nil {
			return StoreContractAddressOutput{}, err
		}
		return StoreContractAddressOutput{}, &fault.ValidationError{Op: op, Fields: []fault.FieldError{{Field: "contractId", Message: "must be a Soroban contract address (C…, 56 characters)"}}}
	}
	return run(ctx, s, op, in.TenantID, in.ExecutionArn, func(ctx context.Context, tx *store.Tx, t tenant.Tenant) (StoreContractAddressOutput, error) {
		out := StoreContractAddressOutput{ContractID: in.ContractID}
		if err := requireStatus(op, t, tenant.StatusProvisioning); err != nil {
			return out, err
		}
		switch t.ContractID {
		case in.ContractID:
			return out, nil
		case "":
			return out, tx.SetContract(ctx, t.ID, in.ContractID)
		default:
			return out, &fault.InvariantError{Op: op, Msg: "tenant already has a different contract"}
		}
	})
}

// ActivateTenantOutput reports the final status.
type ActivateTenantOutput struct {
	TenantID string `json:"tenantId"`
	Status   string `json:"status"`
}

// ActivateTenant marks the tenant ACTIVE; an ACTIVE tenant stays as it is.
func (s *Steps) ActivateTenant(ctx context.Context, in TenantInput) (ActivateTenantOutput, error) {
	op := catalog.ActivateTenant.Log
	var reservedAt time.Time // set when this attempt activates; the metric waits for the commit
	var log *slog.Logger
	out, err := run(ctx, s, op, in.TenantID, in.ExecutionArn, func(ctx context.Context, tx *store.Tx, t tenant.Tenant) (ActivateTenantOutput, error) {
		out := ActivateTenantOutput{TenantID: t.ID.String(), Status: string(tenant.StatusActive)}
		if t.Status == tenant.StatusActive {
			return out, nil
		}
		if err := requireTransition(op, t, tenant.StatusActive); err != nil {
			return out, err
		}
		if err := readyToActivate(ctx, tx, t); err != nil {
			return out, err
		}
		if err := tx.Activate(ctx, t.ID); err != nil {
			return out, err
		}
		reservedAt, log = t.CreatedAt, s.tenantLog(t)
		return out, nil
	})
	if err == nil && !reservedAt.IsZero() {
		metrics.Provisioned(ctx, log, time.Since(reservedAt))
	}
	return out, err
}

// readyToActivate checks what an ACTIVE tenant must have, so that no retry, manual
// invocation or reordered definition can activate a half-provisioned tenant.
func readyToActivate(ctx context.Context, tx *store.Tx, t tenant.Tenant) error {
	op := catalog.ActivateTenant.Log
	n, err := tenantdb.For(t)
	if err != nil {
		return err
	}
	v, err := tenantdb.Version(ctx, tx, n)
	if fault.IsTransient(err) {
		return err
	}
	if err != nil || v < tenantdb.OldestSupportedVersion {
		// A missing schema or version table reads as an error here: it is the same broken
		// invariant as a schema never migrated. A version this release does not know is a
		// later release's (an execution whose RunMigrations ran the newer code), which
		// this one serves too.
		return &fault.InvariantError{Op: op, Msg: "tenant schema is not migrated"}
	}
	admins, err := tenantdb.AdminCount(ctx, tx, n)
	switch {
	case err != nil:
		return err
	case admins == 0:
		return &fault.InvariantError{Op: op, Msg: "tenant has no admin user"}
	case t.ContractID == "":
		return &fault.InvariantError{Op: op, Msg: "tenant has no contract recorded"}
	}
	return nil
}

// runInSchema is run for the steps that work inside the tenant's schema. The tenant must
// be in status (PROVISIONING for all but the welcome e-mail, which follows activation): a
// step that runs late, after a rollback, must not recreate what the rollback removed.
func runInSchema[Out any](ctx context.Context, s *Steps, step, rawID, executionArn string, status tenant.Status,
	work func(ctx context.Context, tx *store.Tx, t tenant.Tenant, n tenantdb.Names) (Out, error),
) (Out, error) {
	return run(ctx, s, step, rawID, executionArn, func(ctx context.Context, tx *store.Tx, t tenant.Tenant) (Out, error) {
		var zero Out
		if err := requireStatus(step, t, status); err != nil {
			return zero, err
		}
		n, err := tenantdb.For(t)
		if err != nil {
			return zero, err
		}
		return work(ctx, tx, t, n)
	})
}
