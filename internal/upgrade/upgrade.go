// Package upgrade brings existing tenants' schemas to the newest tenant migration. It is
// the three steps of the upgrade state machine (statemachine/upgrade.asl.json): List hands
// the Distributed Map a page of the tenants behind, MigrateBatch is the Map's item
// processor (a batch of tenants, one transaction per tenant, so a tenant whose migration
// fails stays at its old version, untouched, while the others move on) and Summarize ends
// the run. Every outcome is recorded per tenant in the control plane as it happens, so a
// run of thousands of tenants can be followed while it runs, and re-running after a
// partial failure upgrades only what is left.
package upgrade

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/tenant"
	"github.com/healthstack/tenant-provisioning/internal/tenantdb"
)

// Upgradable are the statuses a run may touch: an ACTIVE tenant, and an ARCHIVED one,
// whose schema is kept for the audit trail. Any other status has no schema to upgrade
// (PENDING, FAILED) or is being migrated by its provisioning (PROVISIONING).
var Upgradable = []tenant.Status{tenant.StatusActive, tenant.StatusArchived}

// DefaultStatuses are a run's statuses when the admin names none.
var DefaultStatuses = []tenant.Status{tenant.StatusActive}

// DefaultLockTimeout bounds the wait for one tenant's row: a tenant that a provisioning
// step holds is reported failed, to be picked up by the next run, rather than stalling
// the batch.
const DefaultLockTimeout = 5 * time.Second

// DefaultPageSize is how many tenant ids List hands the Map at once. 1,000 UUIDs are
// about 40 KB of state, well inside Step Functions' 256 KiB payload limit, and the state
// machine loops over pages, so the number of tenants has no limit.
const DefaultPageSize = 1000

// Upgrader runs the upgrade's steps on one pool. Build it with New.
type Upgrader struct {
	pool  *pgxpool.Pool // for reading tenant schemas' versions in a dry run
	store *store.Store  // on pool
	Log   *slog.Logger
	// LockTimeout is how long to wait for a tenant's row (0: DefaultLockTimeout).
	LockTimeout time.Duration
	// PageSize is List's page (0: DefaultPageSize).
	PageSize int
	// migrate is tenantdb.Migrate and outside tenantdb.MigrateOutside; tests replace them
	// to make chosen tenants' migrations fail, or to watch them.
	migrate func(ctx context.Context, tx pgx.Tx, n tenantdb.Names) (store.MigrationResult, error)
	outside func(ctx context.Context, conn *pgx.Conn, n tenantdb.Names) (store.MigrationResult, error)
}

// New returns an Upgrader on pool.
func New(pool *pgxpool.Pool, log *slog.Logger) *Upgrader {
	return &Upgrader{pool: pool, store: store.New(pool), Log: log, migrate: tenantdb.Migrate, outside: tenantdb.MigrateOutside}
}

// Page asks List for the page after Cursor (none: the first).
type Page struct {
	RunID  uuid.UUID  `json:"runId"`
	Cursor *uuid.UUID `json:"cursor,omitempty"`
}

// Listed is a page of tenants for the Map, and where the next one starts.
type Listed struct {
	TenantIDs []uuid.UUID `json:"tenantIds"`
	Cursor    *uuid.UUID  `json:"cursor,omitempty"`
	More      bool        `json:"more"` // another page may follow
}

// List is the upgrade's first step and the head of its loop: the next page of the run's
// tenants whose recorded version is behind, recorded PENDING for the run. Tenants already
// recorded at the target are recorded CURRENT, not listed: the Map has nothing to do for
// them.
func (u *Upgrader) List(ctx context.Context, p Page) (Listed, error) {
	run, err := u.running(ctx, "list tenants to upgrade", p.RunID)
	if err != nil {
		return Listed{}, err
	}
	size := u.PageSize
	if size <= 0 {
		size = DefaultPageSize
	}
	after := uuid.Nil
	if p.Cursor != nil {
		after = *p.Cursor
	}
	ids, err := u.store.ListForUpgrade(ctx, run, after, size)
	if err != nil {
		return Listed{}, err
	}
	out := Listed{TenantIDs: ids, More: len(ids) == size}
	if len(ids) > 0 {
		out.Cursor = &ids[len(ids)-1]
	}
	u.Log.InfoContext(ctx, "upgrade page listed", "runId", run.ID.String(), "tenants", len(ids), "more", out.More)
	return out, nil
}

// Item is one tenant of a batch, as the Map's ItemSelector builds it.
type Item struct {
	TenantID string `json:"tenantId"`
}

// Batch is what the Map's ItemBatcher sends one invocation: the items and the run.
type Batch struct {
	Items      []Item     `json:"Items"`
	BatchInput BatchInput `json:"BatchInput"`
}

// BatchInput is the part of a batch every batch shares.
type BatchInput struct {
	RunID uuid.UUID `json:"runId"`
}

// Counts is one batch's outcome, as this invocation found it: a repeated delivery finds
// the tenants an earlier one upgraded current (the run's own record keeps them UPGRADED).
// Which tenant had which outcome is in the control plane: thousands of batches' tenant
// lists would overflow the Map's result.
type Counts struct {
	ToVersion int32 `json:"toVersion"`
	Upgraded  int   `json:"upgraded"`
	Current   int   `json:"current"`
	Planned   int   `json:"planned"`
	Failed    int   `json:"failed"`
}

// MigrateBatch upgrades each tenant of the batch in its own transaction (in a dry run, it
// reads each one's version instead). A batch never fails as a whole for one tenant: its
// failures are recorded, and the Map's ToleratedFailurePercentage applies to batches whose
// invocation failed outright (their tenants stay PENDING, for the next run).
func (u *Upgrader) MigrateBatch(ctx context.Context, in Batch) (Counts, error) {
	const op = "upgrade batch"
	run, err := u.running(ctx, op, in.BatchInput.RunID)
	if err != nil {
		return Counts{}, err
	}
	res := Counts{ToVersion: tenantdb.LatestVersion()}
	for _, it := range in.Items {
		outcome, err := u.one(ctx, run, it.TenantID)
		switch outcome {
		case store.OutcomeUpgraded:
			res.Upgraded++
		case store.OutcomeCurrent:
			res.Current++
		case store.OutcomePlanned:
			res.Planned++
		default:
			res.Failed++
			u.Log.WarnContext(ctx, "tenant not upgraded", "runId", run.ID.String(), "tenantId", it.TenantID,
				"errorType", fault.Name(err))
		}
		if ctx.Err() != nil { // the invocation is ending: what is left stays PENDING for a re-run
			return res, &fault.TransientError{Op: op, Msg: "out of time", Err: ctx.Err()}
		}
	}
	u.Log.InfoContext(ctx, "upgrade batch", "runId", run.ID.String(), "toVersion", res.ToVersion, "upgraded", res.Upgraded,
		"current", res.Current, "planned", res.Planned, "failed", res.Failed)
	return res, nil
}

// running reads the run a step works for, which must still be RUNNING: a straggling batch
// of a run that has ended does nothing.
func (u *Upgrader) running(ctx context.Context, op string, id uuid.UUID) (store.UpgradeRun, error) {
	if id == uuid.Nil {
		return store.UpgradeRun{}, &fault.ValidationError{Op: op, Fields: []fault.FieldError{{Field: "runId", Message: "is required"}}}
	}
	run, err := u.store.UpgradeRun(ctx, id)
	if _, ok := errors.AsType[*fault.NotFoundError](err); ok {
		return run, &fault.ValidationError{Op: op, Fields: []fault.FieldError{{Field: "runId", Message: "is not an upgrade run"}}}
	}
	if err != nil {
		return run, err
	}
	if run.Status != store.RunRunning {
		return run, &fault.ConflictError{Op: op, Msg: "the upgrade run has ended (" + run.Status + ")"}
	}
	return run, nil
}

// one upgrades one tenant under its row lock (and no other tenant's) and records the
// outcome; a failure is recorded as FAILED with the sanitised reason.
func (u *Upgrader) one(ctx context.Context, run store.UpgradeRun, rawID string) (string, error) {
	id, err := uuid.Parse(rawID)
	if err != nil { // no tenant to record it against
		return store.OutcomeFailed, &fault.ValidationError{Op: "upgrade tenant", Fields: []fault.FieldError{{Field: "tenantId", Message: "must be a UUID"}}}
	}
	r := store.UpgradeResult{RunID: run.ID, TenantID: id, From: -1, To: -1}
	if run.DryRun {
		err = u.plan(ctx, run, &r)
	} else {
		err = u.upgrade(ctx, run, &r)
		// lock_not_available (a provisioning step holds the tenant) is a TransientError there.
		err = fault.FromDB("upgrade tenant", err)
	}
	if err == nil {
		return r.Outcome, nil
	}
	ferr := fault.Classify("upgrade tenant", err)
	failed := store.UpgradeResult{RunID: run.ID, TenantID: id, Outcome: store.OutcomeFailed, From: r.From, To: -1,
		ErrorType: fault.Name(ferr), Error: ferr.Error()}
	if rerr := u.store.RecordUpgradeResult(context.WithoutCancel(ctx), failed); rerr != nil {
		u.Log.ErrorContext(ctx, "upgrade failure not recorded", "runId", run.ID.String(), "tenantId", id.String(),
			"errorType", fault.Name(rerr))
	}
	return store.OutcomeFailed, ferr
}

// upgrade migrates one tenant, in one transaction under its row lock when every migration
// it lacks is transactional. A no-transaction migration (an index built concurrently, so
// that the tenant's own writes go on meanwhile) can run neither inside that transaction
// nor while it is open: the function has one connection, and the build waits for every
// transaction that touched its table. So the transaction commits what comes before it,
// with the version reached, the build runs with none open, and a new transaction under the
// lock again applies what follows and records the outcome. Each round moves the version
// on or fails, so the loop ends.
func (u *Upgrader) upgrade(ctx context.Context, run store.UpgradeRun, r *store.UpgradeResult) error {
	for first := true; ; first = false {
		var n tenantdb.Names
		var outside bool
		err := u.store.InTx(ctx, func(tx *store.Tx) (err error) {
			n, outside, err = u.migrateTenant(ctx, tx, run, r, first)
			return err
		})
		if err != nil || !outside {
			return err
		}
		conn, err := u.pool.Acquire(ctx)
		if err != nil {
			return err
		}
		_, err = u.outside(ctx, conn.Conn(), n)
		conn.Release()
		if err != nil {
			return err
		}
	}
}

// migrateTenant is one transaction of upgrade: it locks the tenant, applies what Migrate
// applies in a transaction and records it. It reports outside when a no-transaction
// migration comes next: then the result is not known yet and stays PENDING, and only the
// version reached is recorded.
func (u *Upgrader) migrateTenant(ctx context.Context, tx *store.Tx, run store.UpgradeRun, r *store.UpgradeResult, first bool) (n tenantdb.Names, outside bool, err error) {
	wait := u.LockTimeout
	if wait <= 0 {
		wait = DefaultLockTimeout
	}
	t, err := tx.LockWaiting(ctx, r.TenantID, wait)
	if err != nil {
		return n, false, err
	}
	if n, err = u.names(run, t); err != nil {
		return n, false, err
	}
	mig, err := u.migrate(ctx, tx, n)
	if err != nil {
		return n, false, err
	}
	if first {
		r.From = mig.From
	}
	r.To = mig.To
	if mig.OutsideTx {
		return n, true, tx.SetSchemaVersion(ctx, t.ID, mig.To)
	}
	r.Outcome = store.OutcomeCurrent
	if r.To != r.From {
		r.Outcome = store.OutcomeUpgraded
	}
	return n, false, tx.RecordMigrated(ctx, *r)
}

// plan is a dry run's look at one tenant: its schema's version, read without a lock.
func (u *Upgrader) plan(ctx context.Context, run store.UpgradeRun, r *store.UpgradeResult) error {
	t, err := u.store.Get(ctx, r.TenantID)
	if err != nil {
		return err
	}
	n, err := u.names(run, t)
	if err != nil {
		return err
	}
	v, err := tenantdb.Version(ctx, u.pool, n)
	if err != nil {
		return err
	}
	r.From, r.To, r.Outcome = v, v, store.OutcomeCurrent
	if v < tenantdb.LatestVersion() {
		r.To, r.Outcome = tenantdb.LatestVersion(), store.OutcomePlanned
	}
	return u.store.RecordUpgradeResult(ctx, *r)
}

// names refuses a tenant in a status the run does not touch (it may have moved since it
// was listed) and names its schema.
func (u *Upgrader) names(run store.UpgradeRun, t tenant.Tenant) (tenantdb.Names, error) {
	if !slices.Contains(run.Statuses, t.Status) {
		return tenantdb.Names{}, &fault.ConflictError{Op: "upgrade tenant", Msg: "tenant is " + string(t.Status) + "; this upgrade does not touch it"}
	}
	return tenantdb.For(t)
}
