package store

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/tenant"
)

// An upgrade run's status.
const (
	RunRunning   = "RUNNING"
	RunSucceeded = "SUCCEEDED"
	RunFailed    = "FAILED"
)

// What an upgrade run did with one tenant.
const (
	OutcomePending  = "PENDING"  // listed; no batch has reported on it yet
	OutcomeUpgraded = "UPGRADED" // migrated to the target version
	OutcomeCurrent  = "CURRENT"  // already at the target version: nothing done
	OutcomeFailed   = "FAILED"   // left at its old version
	OutcomePlanned  = "PLANNED"  // a dry run found it behind
)

// UpgradeRun is one run of the upgrade state machine, named after its id.
type UpgradeRun struct {
	ID            uuid.UUID
	Status        string
	Statuses      []tenant.Status
	DryRun        bool
	TargetVersion int32
	ExecutionArn  string
	Error         string
	CreatedAt     time.Time
	FinishedAt    *time.Time
}

// UpgradeCounts are a run's tenants by outcome.
type UpgradeCounts struct {
	Pending, Upgraded, Current, Failed, Planned int
}

// Total is every tenant the run has counted.
func (c UpgradeCounts) Total() int { return c.Pending + c.Upgraded + c.Current + c.Failed + c.Planned }

// UpgradeFailure is a tenant a run left at its old version, with the sanitised reason.
type UpgradeFailure struct {
	TenantID  uuid.UUID
	ErrorType string
	Error     string
	At        time.Time
}

// ErrUpgradeRunning is the ConflictError's message when a run is already RUNNING.
const ErrUpgradeRunning = "an upgrade run is already running"

const runColumns = `id, status, statuses, dry_run, target_version, coalesce(execution_arn, ''),
	coalesce(error, ''), created_at, finished_at`

func scanRun(row pgx.Row) (UpgradeRun, error) {
	var r UpgradeRun
	var statuses []string
	err := row.Scan(&r.ID, &r.Status, &statuses, &r.DryRun, &r.TargetVersion, &r.ExecutionArn,
		&r.Error, &r.CreatedAt, &r.FinishedAt)
	for _, s := range statuses {
		r.Statuses = append(r.Statuses, tenant.Status(s))
	}
	return r, err
}

// CreateUpgradeRun records a RUNNING run. While another run is RUNNING it is a
// ConflictError (ErrUpgradeRunning) and nothing is written.
func (s *Store) CreateUpgradeRun(ctx context.Context, statuses []tenant.Status, dryRun bool, target int32) (UpgradeRun, error) {
	const op = "create upgrade run"
	id, err := tenant.NewID()
	if err != nil {
		return UpgradeRun{}, &fault.TransientError{Op: op, Msg: "cannot generate id", Err: err}
	}
	r, err := scanRun(s.db.QueryRow(ctx, `
		INSERT INTO upgrade_runs (id, statuses, dry_run, target_version) VALUES ($1, $2, $3, $4)
		RETURNING `+runColumns, id, statusStrings(statuses), dryRun, target))
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "upgrade_runs_one_running" {
		return UpgradeRun{}, &fault.ConflictError{Op: op, Msg: ErrUpgradeRunning}
	}
	return r, fault.FromDB(op, err)
}

// UpgradeRun reads a run; an unknown id is a NotFoundError.
func (s *Store) UpgradeRun(ctx context.Context, id uuid.UUID) (UpgradeRun, error) {
	r, err := scanRun(s.db.QueryRow(ctx, `SELECT `+runColumns+` FROM upgrade_runs WHERE id = $1`, id))
	return r, fault.FromDB("read upgrade run", err)
}

// RunningUpgrade is the RUNNING run, if there is one.
func (s *Store) RunningUpgrade(ctx context.Context) (UpgradeRun, bool, error) {
	r, err := scanRun(s.db.QueryRow(ctx, `SELECT `+runColumns+` FROM upgrade_runs WHERE status = 'RUNNING'`))
	if errors.Is(err, pgx.ErrNoRows) {
		return UpgradeRun{}, false, nil
	}
	return r, err == nil, fault.FromDB("read running upgrade run", err)
}

// SetUpgradeExecution records the execution that runs the upgrade.
func (s *Store) SetUpgradeExecution(ctx context.Context, id uuid.UUID, executionArn string) error {
	_, err := s.db.Exec(ctx, `UPDATE upgrade_runs SET execution_arn = $2 WHERE id = $1`, id, executionArn)
	return fault.FromDB("record upgrade execution", err)
}

// FinishUpgradeRun ends a RUNNING run as status, with a sanitised reason for a failure. A
// run that has already ended keeps its first ending, which is returned.
func (s *Store) FinishUpgradeRun(ctx context.Context, id uuid.UUID, status, reason string) (UpgradeRun, error) {
	const op = "finish upgrade run"
	if status != RunSucceeded && status != RunFailed {
		return UpgradeRun{}, &fault.InvariantError{Op: op, Msg: "a run ends SUCCEEDED or FAILED"}
	}
	_, err := s.db.Exec(ctx, `UPDATE upgrade_runs SET status = $2, error = nullif($3, ''), finished_at = now()
		WHERE id = $1 AND status = 'RUNNING'`, id, status, Truncate(reason, MaxErrorLen))
	if err != nil {
		return UpgradeRun{}, fault.FromDB(op, err)
	}
	return s.UpgradeRun(ctx, id)
}

// ListForUpgrade hands the run its next page of tenants to migrate: up to limit tenants in
// the run's statuses whose recorded version is behind the target (or not recorded), after
// the id after, recorded PENDING for the run. The first page (after = uuid.Nil) also records
// the tenants already at the target CURRENT: the Map never sees them. Listing reads the tenants'
// rows without locking them; each tenant is locked only by its own migration later. A
// repeated call (a Lambda retry) lists and counts the same again.
func (s *Store) ListForUpgrade(ctx context.Context, run UpgradeRun, after uuid.UUID, limit int) ([]uuid.UUID, error) {
	const op = "list tenants to upgrade"
	var ids []uuid.UUID
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		sts := statusStrings(run.Statuses)
		rows, err := tx.Query(ctx, `SELECT id FROM tenants
			WHERE status = ANY($1) AND schema_name IS NOT NULL AND (schema_version IS NULL OR schema_version < $2) AND id > $3
			ORDER BY id LIMIT $4`, sts, run.TargetVersion, after, limit)
		if err != nil {
			return err
		}
		if ids, err = pgx.CollectRows(rows, pgx.RowTo[uuid.UUID]); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO upgrade_results (run_id, tenant_id, outcome)
			SELECT $1, unnest($2::uuid[]), 'PENDING' ON CONFLICT DO NOTHING`, run.ID, ids); err != nil {
			return err
		}
		if after != uuid.Nil {
			return nil
		}
		_, err = tx.Exec(ctx, `INSERT INTO upgrade_results (run_id, tenant_id, outcome, from_version, to_version)
			SELECT $1, id, 'CURRENT', schema_version, schema_version FROM tenants
			WHERE status = ANY($2) AND schema_name IS NOT NULL AND schema_version >= $3
			ON CONFLICT DO NOTHING`, run.ID, sts, run.TargetVersion)
		return err
	})
	return ids, fault.FromDB(op, err)
}

// UpgradeResult is what a run did with one tenant.
type UpgradeResult struct {
	RunID, TenantID uuid.UUID
	Outcome         string
	From, To        int32
	ErrorType       string
	Error           string // sanitised
}

// A tenant's result row is rewritten by each report on it (a retried batch reports its
// tenants again), except an UPGRADED row, which stays: it was written in the transaction
// that moved the schema, and nothing later in the run moves it back. A retry finds such a
// tenant at the target, or fails on it (busy, archived since), and either would otherwise
// turn the run's upgrade into CURRENT or FAILED. A tenant is CURRENT only when it was at
// the target before the run reached it.
const keepUpgraded = `WHERE upgrade_results.outcome <> 'UPGRADED'`

// RecordUpgradeResult writes the tenant's outcome for the run on its own: FAILED, after the
// tenant's migration transaction rolled back, or a dry run's PLANNED or CURRENT. A
// migration's own outcome is RecordMigrated's, in its transaction. An UPGRADED row stays.
func (s *Store) RecordUpgradeResult(ctx context.Context, r UpgradeResult) error {
	_, err := s.db.Exec(ctx, `INSERT INTO upgrade_results (run_id, tenant_id, outcome, from_version, to_version, error_type, error, at)
		VALUES ($1, $2, $3, nullif($4, -1), nullif($5, -1), nullif($6, ''), nullif($7, ''), now())
		ON CONFLICT (run_id, tenant_id) DO UPDATE SET outcome = excluded.outcome, from_version = excluded.from_version,
			to_version = excluded.to_version, error_type = excluded.error_type, error = excluded.error, at = excluded.at
		`+keepUpgraded,
		r.RunID, r.TenantID, r.Outcome, r.From, r.To, r.ErrorType, Truncate(r.Error, MaxErrorLen))
	return fault.FromDB("record upgrade result", err)
}

// RecordMigrated records, in the tenant's migration transaction, the version its schema is
// now at and the run's result (UPGRADED or CURRENT), in one statement: the row is true
// exactly when the schema is. An UPGRADED row stays, with the version the tenant came from.
func (tx *Tx) RecordMigrated(ctx context.Context, r UpgradeResult) error {
	_, err := tx.Exec(ctx, `WITH version AS (UPDATE tenants SET schema_version = $5 WHERE id = $2)
		INSERT INTO upgrade_results (run_id, tenant_id, outcome, from_version, to_version, at)
		VALUES ($1, $2, $3, $4, $5, now())
		ON CONFLICT (run_id, tenant_id) DO UPDATE SET outcome = excluded.outcome, from_version = excluded.from_version,
			to_version = excluded.to_version, error_type = NULL, error = NULL, at = excluded.at
		`+keepUpgraded,
		r.RunID, r.TenantID, r.Outcome, r.From, r.To)
	return fault.FromDB("record upgrade result", err)
}

// UpgradeCounts counts the run's tenants by outcome.
func (s *Store) UpgradeCounts(ctx context.Context, run UpgradeRun) (UpgradeCounts, error) {
	var c UpgradeCounts
	rows, err := s.db.Query(ctx, `SELECT outcome, count(*) FROM upgrade_results WHERE run_id = $1 GROUP BY outcome`, run.ID)
	if err != nil {
		return c, fault.FromDB("count upgrade results", err)
	}
	var outcome string
	var n int
	_, err = pgx.ForEachRow(rows, []any{&outcome, &n}, func() error {
		switch outcome {
		case OutcomePending:
			c.Pending += n
		case OutcomeUpgraded:
			c.Upgraded += n
		case OutcomeCurrent:
			c.Current += n
		case OutcomeFailed:
			c.Failed += n
		case OutcomePlanned:
			c.Planned += n
		}
		return nil
	})
	return c, fault.FromDB("count upgrade results", err)
}

// UpgradeFailures lists up to limit of the run's failed tenants, by tenant id.
func (s *Store) UpgradeFailures(ctx context.Context, runID uuid.UUID, limit int) ([]UpgradeFailure, error) {
	rows, err := s.db.Query(ctx, `SELECT tenant_id, coalesce(error_type, ''), coalesce(error, ''), at FROM upgrade_results
		WHERE run_id = $1 AND outcome = 'FAILED' ORDER BY tenant_id LIMIT $2`, runID, limit)
	if err != nil {
		return nil, fault.FromDB("list upgrade failures", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (UpgradeFailure, error) {
		var f UpgradeFailure
		return f, row.Scan(&f.TenantID, &f.ErrorType, &f.Error, &f.At)
	})
	return out, fault.FromDB("list upgrade failures", err)
}

func statusStrings(statuses []tenant.Status) []string {
	out := make([]string, len(statuses))
	for i, st := range statuses {
		out[i] = string(st)
	}
	return out
}
