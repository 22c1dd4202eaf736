// Package reconcile closes what no execution will: a reservation whose execution never
// started, or ended before claiming it, and a tenant left PROVISIONING by an execution
// that ended ABORTED, TIMED_OUT or FAILED without a rollback that went through. It runs
// on a schedule (EventBridge Scheduler in AWS, a timer in make dev), acts through the
// pipeline's own rollback as the execution that owned the tenant, and is idempotent: a
// second run finds nothing more to do. A tenant it cannot settle waits longer after each
// failure and then queues behind the others, so it never holds up the rest.
package reconcile

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/metrics"
	"github.com/healthstack/tenant-provisioning/internal/pipeline"
	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/tenant"
)

// The execution statuses the reconciler tells apart, as Step Functions reports them; any
// other (FAILED, TIMED_OUT, ABORTED) means the execution ended unfinished.
const (
	Running   = "RUNNING"
	Succeeded = "SUCCEEDED"
)

// Executions reports on the provisioning state machine's executions by name.
// workflow.Client is one, on Step Functions; make dev's is the local engine's.
type Executions interface {
	// ExecutionStatus is the execution's status, or "" when no execution has that name.
	ExecutionStatus(ctx context.Context, name string) (string, error)
	// ExecutionArn is the ARN of the execution called name.
	ExecutionArn(name string) (string, error)
}

// Rollbacker is the pipeline's rollback (pipeline.Steps.Rollback).
type Rollbacker interface {
	Rollback(ctx context.Context, in pipeline.RollbackInput) (pipeline.RollbackOutput, error)
}

// Defaults: a tenant is looked at once its row has not changed for StaleAfter (an
// execution claims its reservation within seconds, and a running one is left alone anyway),
// and at most Batch tenants per run, those due longest first, so one run stays well inside
// its timeout.
const (
	DefaultStaleAfter = 5 * time.Minute
	DefaultBatch      = 100
)

// A tenant a run could not settle is not due again for RetryAfter, doubled with each
// further failure, up to MaxRetryAfter. At the schedule's five minutes, its first three
// retries come at the next run, as a passing fault needs; one that keeps failing is tried
// less and less often, down to once an hour, and logs as often.
const (
	RetryAfter    = time.Minute
	MaxRetryAfter = time.Hour
)

// Reconciler is the reconcile function.
type Reconciler struct {
	Store      *store.Store
	Rollback   Rollbacker
	Executions Executions
	Log        *slog.Logger
	StaleAfter time.Duration // 0: DefaultStaleAfter
	Batch      int           // 0: DefaultBatch
}

// Input is what the schedule sends: nothing the run depends on.
type Input struct{}

// Report says what one run did, by tenant id only (no personal data).
type Report struct {
	Checked            int      `json:"checked"`
	ReservationsFailed []string `json:"reservationsFailed"` // PENDING, no execution ever started: now FAILED
	RolledBack         []string `json:"rolledBack"`         // the execution ended without finishing: rolled back
	StillRunning       int      `json:"stillRunning"`
	// NeedsOperator lists tenants in a state no rule here resolves (an execution that
	// SUCCEEDED without activating its tenant): the log line says which and why.
	NeedsOperator []string      `json:"needsOperator"`
	Errors        []TenantError `json:"errors"`
	// Unsettled counts the tenants this run or an earlier one could not settle and that
	// have not changed since, whether this run looked at them or not: the
	// ReconcileUnsettled metric.
	Unsettled int `json:"unsettled"`
}

// TenantError is a tenant the run could not settle; a later run tries again.
type TenantError struct {
	TenantID  string `json:"tenantId"`
	ErrorType string `json:"errorType"`
}

// NewReport is an empty report (JSON arrays, not nulls).
func NewReport() Report {
	return Report{ReservationsFailed: []string{}, RolledBack: []string{}, NeedsOperator: []string{}, Errors: []TenantError{}}
}

// reasonNeverStarted becomes the provisioning_error of a reservation no execution took.
const reasonNeverStarted = "provisioning was never started"

// errNeedsOperator is settle's answer for a tenant no rule here resolves.
var errNeedsOperator = errors.New("needs an operator")

// reasonNeedsOperator is what Postpone records for such a tenant.
const reasonNeedsOperator = "NeedsOperator"

// Run settles every due stale PENDING or PROVISIONING tenant it can. A tenant it cannot
// settle now is reported in Errors (or NeedsOperator) and postponed: a later run tries it
// again, after the others due before it. The run itself fails only when it cannot list
// the tenants.
func (r *Reconciler) Run(ctx context.Context, _ Input) (Report, error) {
	rep := NewReport()
	stale, err := r.Store.Stale(ctx, r.staleAfter(), r.batch())
	if err != nil {
		return rep, err
	}
	for _, t := range stale {
		rep.Checked++
		id := t.ID.String()
		err := r.settle(ctx, t.Tenant, &rep)
		switch {
		case err == nil:
			if t.Failures > 0 { // an earlier attempt failed; this one settled it, or found it running
				r.forget(ctx, t)
			}
		case errors.Is(err, errNeedsOperator):
			rep.NeedsOperator = append(rep.NeedsOperator, id)
			r.postpone(ctx, t, reasonNeedsOperator)
		default:
			errorType := fault.Name(fault.Classify("reconcile", err))
			rep.Errors = append(rep.Errors, TenantError{TenantID: id, ErrorType: errorType})
			r.Log.WarnContext(ctx, "reconcile: tenant not settled", "tenantId", id, "status", string(t.Status),
				"errorType", errorType, "failures", t.Failures+1)
			r.postpone(ctx, t, errorType)
		}
	}
	// The tenants postponed by this run and by earlier ones, which this run may not have
	// looked at: the alarm must see a tenant that stays unsettled, however rarely it is tried.
	rep.Unsettled = len(rep.NeedsOperator) + len(rep.Errors)
	if n, err := r.Store.Unsettled(ctx); err != nil {
		r.Log.WarnContext(ctx, "reconcile: unsettled tenants not counted", "errorType", fault.Name(err))
	} else {
		rep.Unsettled = max(rep.Unsettled, n) // at least this run's, should a postponement not have been recorded
	}
	metrics.Reconciled(ctx, r.Log, rep.Checked, len(rep.ReservationsFailed), len(rep.RolledBack), rep.Unsettled)
	return rep, nil
}

// postpone puts off the tenant's next attempt: RetryAfter after its first failure, twice as
// long after each further one, at most MaxRetryAfter. Unrecorded, the tenant is simply due
// at the next run, as before its failure.
func (r *Reconciler) postpone(ctx context.Context, t store.StaleTenant, reason string) {
	wait := min(RetryAfter<<min(t.Failures, 16), MaxRetryAfter)
	if err := r.Store.Postpone(ctx, t, reason, wait); err != nil {
		r.Log.WarnContext(ctx, "reconcile: tenant not postponed", "tenantId", t.ID.String(), "errorType", fault.Name(err))
	}
}

// forget clears the tenant's earlier failures.
func (r *Reconciler) forget(ctx context.Context, t store.StaleTenant) {
	if err := r.Store.ClearPostponed(ctx, t.ID); err != nil {
		r.Log.WarnContext(ctx, "reconcile: earlier failures not cleared", "tenantId", t.ID.String(), "errorType", fault.Name(err))
	}
}

func (r *Reconciler) settle(ctx context.Context, t tenant.Tenant, rep *Report) error {
	id := t.ID.String()
	// The execution that owns the tenant: the claimant, or the one named for its attempt.
	name := t.ExecutionName()
	arn := t.ExecutionArn
	if arn == "" {
		var err error
		if arn, err = r.Executions.ExecutionArn(name); err != nil {
			return err
		}
	}
	status, err := r.Executions.ExecutionStatus(ctx, name)
	if err != nil {
		return err
	}
	log := r.Log.With("tenantId", id, "executionArn", arn, "status", string(t.Status), "executionStatus", status)
	switch {
	case status == Running:
		rep.StillRunning++
		return nil
	case status == "" && t.Status == tenant.StatusPending:
		// Reserved, but the API never got its execution started (it died in between).
		failed, err := r.Store.FailReservation(ctx, t.ID, reasonNeverStarted)
		if err != nil {
			return err
		}
		if failed {
			rep.ReservationsFailed = append(rep.ReservationsFailed, id)
			log.InfoContext(ctx, "reconcile: reservation never started, marked FAILED")
		}
		return nil
	case status == Succeeded:
		log.ErrorContext(ctx, "reconcile: the execution succeeded but the tenant is not ACTIVE; needs an operator")
		return errNeedsOperator
	}
	// The execution ended (FAILED, TIMED_OUT, ABORTED) or no longer exists, and the tenant
	// is still in its hands: roll it back as that execution would have.
	cause := "the execution ended " + status + " before it finished; rolled back by the reconciler"
	if status == "" {
		cause = "the execution no longer exists; rolled back by the reconciler"
	}
	out, err := r.Rollback.Rollback(ctx, pipeline.RollbackInput{TenantID: id, ExecutionArn: arn,
		Error: &pipeline.CaughtError{Error: "ExecutionEnded", Cause: cause}})
	if err != nil {
		return err
	}
	if out.Outcome != pipeline.OutcomeSkipped {
		rep.RolledBack = append(rep.RolledBack, id)
		log.InfoContext(ctx, "reconcile: rolled back", "outcome", out.Outcome)
	}
	return nil
}

func (r *Reconciler) staleAfter() time.Duration {
	if r.StaleAfter > 0 {
		return r.StaleAfter
	}
	return DefaultStaleAfter
}

func (r *Reconciler) batch() int {
	if r.Batch > 0 {
		return r.Batch
	}
	return DefaultBatch
}
