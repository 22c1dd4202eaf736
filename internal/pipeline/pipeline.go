// Package pipeline holds the provisioning steps that Step Functions runs as Lambda tasks,
// the rollback that its Catch routes to, and the archive operation the admin API calls.
//
// Each step is a method with explicit JSON input and output (the contract with
// statemachine/provisioning.asl.json): ids in, small non-sensitive results out. Each loads
// what it needs from PostgreSQL, locks the tenant row for its whole transaction, is
// idempotent, and returns only fault taxonomy errors, whose type names the ASL matches.
package pipeline

import (
	"context"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/healthstack/tenant-provisioning/internal/catalog"
	"github.com/healthstack/tenant-provisioning/internal/config"
	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/metrics"
	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/tenant"
)

// Steps runs the pipeline steps on one pool. Build it once per container.
type Steps struct {
	pool      *pgxpool.Pool // for the tenant schemas' SQL outside a step's transaction
	store     *store.Store  // on pool
	log       *slog.Logger
	mailer    Mailer       // nil: e-mail is not configured
	email     config.Email // the links and addresses the e-mails carry
	contracts ContractDeployer
}

// Option configures Steps.
type Option func(*Steps)

// New returns the steps on pool, logging to log.
func New(pool *pgxpool.Pool, log *slog.Logger, opts ...Option) *Steps {
	s := &Steps{pool: pool, store: store.New(pool), log: log}
	for _, o := range opts {
		o(s)
	}
	return s
}

// FailureLogTimeout bounds the write of a FAILED log row. It runs on a context detached
// from the invocation's, because the invocation's deadline may be the very failure.
const FailureLogTimeout = 5 * time.Second

func parseTenantID(op, raw string) (uuid.UUID, error) {
	id, err := uuid.Parse(raw)
	if err != nil || id == uuid.Nil {
		return uuid.Nil, &fault.ValidationError{Op: op, Fields: []fault.FieldError{{Field: "tenantId", Message: "must be a UUID"}}}
	}
	return id, nil
}

// run executes one attempt of step for the tenant: it logs IN_PROGRESS, runs work in a
// transaction holding the tenant's row lock, commits the COMPLETED log row with the work,
// or records FAILED on its own. The returned error is always a fault taxonomy value.
func run[Out any](ctx context.Context, s *Steps, step, rawID, executionArn string,
	work func(ctx context.Context, tx *store.Tx, t tenant.Tenant) (Out, error),
) (Out, error) {
	return attempt(ctx, s, step, rawID, executionArn, func(ctx context.Context, id uuid.UUID, a store.StepRun) (out Out, err error) {
		err = s.store.InTx(ctx, func(tx *store.Tx) error {
			t, err := lockOwned(ctx, tx, step, id, executionArn)
			if err != nil {
				return err
			}
			if out, err = work(ctx, tx, t); err != nil {
				return err
			}
			return tx.FinishStep(ctx, a, doneStatus(step), out, "")
		})
		return out, err
	})
}

// runOutside is run for a step whose work waits on the network (the contract step's RPCs
// and ledger closes): no transaction stays open, and no row lock or connection is held,
// while it waits. It checks the tenant (its execution's, in status) in one short
// transaction, does the work with none open, and records the attempt in a second short
// transaction that checks again. A rollback that moved the tenant meanwhile wins: the
// result is refused and the work, which is idempotent and journals what it sends, is
// found again by whatever runs next.
func runOutside[Out any](ctx context.Context, s *Steps, step, rawID, executionArn string, status tenant.Status,
	work func(ctx context.Context, t tenant.Tenant) (Out, error),
) (Out, error) {
	return runAround(ctx, s, step, rawID, executionArn, status,
		func(context.Context, *store.Tx, tenant.Tenant) (struct{}, error) { return struct{}{}, nil },
		func(ctx context.Context, t tenant.Tenant, _ struct{}) (Out, error) { return work(ctx, t) })
}

// runAround is runOutside with a first part that writes: prepare runs in the first short
// transaction, under the tenant's row lock, and what it returns is handed to work, which
// runs with no transaction open (the welcome e-mail: the activation token is stored, then
// the e-mail sent through SES, then the attempt recorded with the message id).
func runAround[P, Out any](ctx context.Context, s *Steps, step, rawID, executionArn string, status tenant.Status,
	prepare func(ctx context.Context, tx *store.Tx, t tenant.Tenant) (P, error),
	work func(ctx context.Context, t tenant.Tenant, p P) (Out, error),
) (Out, error) {
	return attempt(ctx, s, step, rawID, executionArn, func(ctx context.Context, id uuid.UUID, a store.StepRun) (out Out, err error) {
		var t tenant.Tenant
		var p P
		if err := s.store.InTx(ctx, func(tx *store.Tx) error {
			if t, err = lockOwned(ctx, tx, step, id, executionArn); err != nil {
				return err
			}
			if err := requireStatus(step, t, status); err != nil {
				return err
			}
			p, err = prepare(ctx, tx, t)
			return err
		}); err != nil {
			return out, err
		}
		if out, err = work(ctx, t, p); err != nil {
			return out, err
		}
		return out, s.store.InTx(ctx, func(tx *store.Tx) error {
			t, err := lockOwned(ctx, tx, step, id, executionArn)
			if err != nil {
				return err
			}
			if err := requireStatus(step, t, status); err != nil {
				return err
			}
			return tx.FinishStep(ctx, a, doneStatus(step), out, "")
		})
	})
}

// lockOwned locks the tenant's row for tx and refuses a tenant another execution has
// claimed since the attempt began.
func lockOwned(ctx context.Context, tx *store.Tx, step string, id uuid.UUID, executionArn string) (tenant.Tenant, error) {
	t, err := tx.Lock(ctx, id)
	if err != nil {
		return t, err
	}
	if !t.OwnedBy(executionArn) {
		return t, &fault.ConflictError{Op: step, Msg: "the tenant belongs to another execution"}
	}
	return t, nil
}

// attempt is one attempt of step, around body: it checks the input, logs IN_PROGRESS
// (only for the tenant's own execution), and records FAILED when body fails, with the
// step's metric line either way.
func attempt[Out any](ctx context.Context, s *Steps, step, rawID, executionArn string,
	body func(ctx context.Context, id uuid.UUID, a store.StepRun) (Out, error),
) (Out, error) {
	var out Out
	id, err := parseTenantID(step, rawID)
	if err != nil {
		return out, err
	}
	if executionArn == "" {
		return out, &fault.ValidationError{Op: step, Fields: []fault.FieldError{{Field: "executionArn", Message: "is required"}}}
	}
	// Only the tenant's own execution gets an attempt: a second execution started with the
	// same input is refused here, before anything is written.
	a, err := s.store.StartStep(ctx, id, step, executionArn)
	if err != nil {
		return out, err
	}
	log := s.log.With("tenantId", id.String(), "executionArn", executionArn, "step", step, "attempt", a.Attempt)
	out, err = body(ctx, id, a)
	if err != nil {
		err = fault.FromDB(step, err)
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), FailureLogTimeout)
		defer cancel()
		if logErr := s.store.FinishStep(fctx, a, store.LogFailed, nil, err.Error()); logErr != nil {
			log.WarnContext(ctx, "could not record step failure", "error", logErr.Error())
		}
		// The runtime records the returned error; this line adds what it cannot see.
		metrics.Step(ctx, log, "step failed", step, metrics.Failure, time.Since(a.Started), slog.String("errorType", fault.Name(err)))
		return out, err
	}
	metrics.Step(ctx, log, "step completed", step, metrics.Success, time.Since(a.Started))
	return out, nil
}

// tenantLog is the logger for lines about t as a whole (provisioned, rolled back): they
// carry the tenant and its execution, as every step attempt's line does.
func (s *Steps) tenantLog(t tenant.Tenant) *slog.Logger {
	return s.log.With("tenantId", t.ID.String(), "executionArn", t.ExecutionArn)
}

// doneStatus is how a successful attempt is logged: the rollback's success is that the
// tenant was rolled back.
func doneStatus(step string) string {
	if step == catalog.Rollback.Log {
		return store.LogRolledBack
	}
	return store.LogCompleted
}

func requireStatus(op string, t tenant.Tenant, allowed ...tenant.Status) error {
	for _, st := range allowed {
		if t.Status == st {
			return nil
		}
	}
	return &fault.InvariantError{Op: op, Msg: "tenant is " + string(t.Status) + ", expected " + string(allowed[0])}
}

// requireTransition refuses, before any work, a move the tenant lifecycle does not allow.
func requireTransition(op string, t tenant.Tenant, to tenant.Status) error {
	if t.Status.CanBecome(to) {
		return nil
	}
	return &fault.InvariantError{Op: op, Msg: "tenant is " + string(t.Status) + " and cannot become " + string(to)}
}
