package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/healthstack/tenant-provisioning/internal/catalog"
	"github.com/healthstack/tenant-provisioning/internal/fault"
)

// Log statuses.
const (
	LogInProgress = "IN_PROGRESS"
	LogCompleted  = "COMPLETED"
	LogFailed     = "FAILED"
	LogRolledBack = "ROLLED_BACK"
)

// MaxErrorLen bounds every stored error text (provisioning_logs.error, tenants.provisioning_error).
const MaxErrorLen = 500

// StepRun is one attempt of one step, opened by StartStep (or StartStepIn).
type StepRun struct {
	ID           int64
	TenantID     uuid.UUID
	Step         string
	ExecutionArn string // empty for an attempt no execution makes (archiving)
	Attempt      int
	Started      time.Time
}

// StepLog is one provisioning_logs row.
type StepLog struct {
	ID           int64
	Step         string
	Status       string
	Attempt      int
	ExecutionArn string // empty for an attempt no execution made (archiving)
	Result       json.RawMessage
	Error        string
	DurationMS   *int
	CreatedAt    time.Time
}

// StartStep records an IN_PROGRESS attempt of step for the execution executionArn,
// committed on its own so that an attempt that dies mid-way stays visible. Only the
// tenant's own execution gets one (tenant.Tenant.OwnedBy, the same rule in SQL): for any
// other, nothing is written and the answer is a ConflictError. A missing tenant is a
// NotFoundError. Attempts are counted per step and execution.
//
// This commit alone does not wait for its WAL flush (synchronous_commit off, for this
// transaction only). The row is a progress marker: the step's own commit, synchronous,
// flushes the WAL up to and including it, and what a server crash in between can lose is
// the marker of an attempt that the crash ended anyway. Each step saves one flush, which on
// a busy disk costs milliseconds. So call it on the pool's Store, never on a Tx: there it
// would not commit on its own, and would turn off synchronous commit for the whole
// transaction.
func (s *Store) StartStep(ctx context.Context, tenantID uuid.UUID, step, executionArn string) (StepRun, error) {
	op := "start " + step
	run := StepRun{TenantID: tenantID, Step: step, ExecutionArn: executionArn, Started: time.Now()}
	err := s.db.QueryRow(ctx, `
		INSERT INTO provisioning_logs (tenant_id, step, status, attempt, execution_arn)
		SELECT t.id, $2, $4,
		       (SELECT count(*) + 1 FROM provisioning_logs l WHERE l.tenant_id = $1 AND l.step = $2 AND l.execution_arn = $3),
		       $3
		FROM tenants t
		WHERE t.id = $1
		  AND (t.execution_arn = $3
		       OR t.execution_arn IS NULL
		          AND $3 LIKE '%:' || t.id::text || CASE WHEN t.retries = 0 THEN '' ELSE '-r' || t.retries END)
		  AND set_config('synchronous_commit', 'off', true) IS NOT NULL
		RETURNING id, attempt`, tenantID, step, executionArn, LogInProgress).Scan(&run.ID, &run.Attempt)
	if errors.Is(err, pgx.ErrNoRows) {
		var exists bool
		if err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM tenants WHERE id = $1)`, tenantID).Scan(&exists); err != nil {
			return run, fault.FromDB(op, err)
		}
		if !exists {
			return run, &fault.NotFoundError{Op: op, Msg: "tenant not found"}
		}
		return run, &fault.ConflictError{Op: op, Msg: "the tenant belongs to another execution"}
	}
	return run, fault.FromDB(op, err)
}

// StartStepIn records an attempt that no execution makes (archiving) inside the
// transaction: it commits, durably, with the rest of it.
func (tx *Tx) StartStepIn(ctx context.Context, tenantID uuid.UUID, step string) (StepRun, error) {
	run := StepRun{TenantID: tenantID, Step: step, Started: time.Now()}
	err := tx.QueryRow(ctx, `
		INSERT INTO provisioning_logs (tenant_id, step, status, attempt)
		SELECT $1, $2, $3, count(*) + 1 FROM provisioning_logs WHERE tenant_id = $1 AND step = $2
		RETURNING id, attempt`, tenantID, step, LogInProgress).Scan(&run.ID, &run.Attempt)
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23503" { // foreign_key_violation: no such tenant
			return run, &fault.NotFoundError{Op: "start " + step, Msg: "tenant not found"}
		}
		return run, fault.FromDB("start "+step, err)
	}
	return run, nil
}

// FinishStep closes an attempt with its outcome. Call it on the step's Tx for a success, so
// the log and the work commit together, and on the pool's Store for a failure, written on
// its own after the step's transaction rolled back.
func (s *Store) FinishStep(ctx context.Context, run StepRun, status string, result any, errText string) error {
	var raw []byte
	if result != nil {
		var err error
		if raw, err = json.Marshal(result); err != nil {
			return &fault.InvariantError{Op: "finish " + run.Step, Msg: "result not serialisable", Err: err}
		}
	}
	_, err := s.db.Exec(ctx, `
		UPDATE provisioning_logs SET status = $2, result = $3, error = nullif($4, ''), duration_ms = $5
		WHERE id = $1`,
		run.ID, status, raw, Truncate(errText, MaxErrorLen), time.Since(run.Started).Milliseconds())
	return fault.FromDB("finish "+run.Step, err)
}

// CloseOpenSteps marks attempts that never finished (a timed-out or crashed invocation) as
// FAILED, so the log does not show them running forever after a rollback. It runs in the
// rollback's transaction, under the tenant's row lock, so no attempt starts meanwhile.
func (tx *Tx) CloseOpenSteps(ctx context.Context, tenantID uuid.UUID, executionArn, reason string) error {
	_, err := tx.Exec(ctx, `
		UPDATE provisioning_logs SET status = $3, error = $2
		WHERE tenant_id = $1 AND execution_arn = $6 AND status = $4 AND step <> $5`,
		tenantID, reason, LogFailed, LogInProgress, catalog.Rollback.Log, executionArn)
	return fault.FromDB("close open steps", err)
}

// LastFailedStep is the step of the execution's newest failed attempt, or "" when none failed.
func (s *Store) LastFailedStep(ctx context.Context, tenantID uuid.UUID, executionArn string) (string, error) {
	var step string
	err := s.db.QueryRow(ctx, `
		SELECT step FROM provisioning_logs
		WHERE tenant_id = $1 AND execution_arn = $6 AND status IN ($2, $3) AND step NOT IN ($4, $5)
		ORDER BY id DESC LIMIT 1`, tenantID, LogFailed, LogInProgress, catalog.Rollback.Log, catalog.ArchiveTenant.Log, executionArn).Scan(&step)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return step, fault.FromDB("find failed step", err)
}

// Logs returns a tenant's provisioning log, oldest first.
func (s *Store) Logs(ctx context.Context, tenantID uuid.UUID) ([]StepLog, error) {
	rows, err := s.db.Query(ctx, `
		SELECT id, step, status, attempt, coalesce(execution_arn, ''), result, coalesce(error, ''), duration_ms, created_at
		FROM provisioning_logs WHERE tenant_id = $1 ORDER BY id`, tenantID)
	if err != nil {
		return nil, fault.FromDB("read provisioning log", err)
	}
	logs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (StepLog, error) {
		var l StepLog
		err := row.Scan(&l.ID, &l.Step, &l.Status, &l.Attempt, &l.ExecutionArn, &l.Result, &l.Error, &l.DurationMS, &l.CreatedAt)
		return l, err
	})
	return logs, fault.FromDB("read provisioning log", err)
}

// Truncate cuts s to at most n characters without splitting a UTF-8 sequence.
func Truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// RollbackNotified reports whether an earlier rollback of the execution already sent the
// admin the failure notice (a retry's failure is news again).
func (s *Store) RollbackNotified(ctx context.Context, tenantID uuid.UUID, executionArn string) (bool, error) {
	var notified bool
	err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM provisioning_logs
		WHERE tenant_id = $1 AND execution_arn = $4 AND step = $2 AND status = $3 AND result @> '{"adminNotified": true}')`,
		tenantID, catalog.Rollback.Log, LogRolledBack, executionArn).Scan(&notified)
	return notified, fault.FromDB("check failure notice", err)
}

// DeployedContract is the contract id the newest completed deployment of the tenant
// reported, or "" when none completed.
func (s *Store) DeployedContract(ctx context.Context, tenantID uuid.UUID) (string, error) {
	var id string
	err := s.db.QueryRow(ctx, `SELECT coalesce(result->>'contractId', '') FROM provisioning_logs
		WHERE tenant_id = $1 AND step = $2 AND status = $3
		ORDER BY id DESC LIMIT 1`, tenantID, catalog.DeploySorobanContract.Log, LogCompleted).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return id, fault.FromDB("find deployed contract", err)
}
