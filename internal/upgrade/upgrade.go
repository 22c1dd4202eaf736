// Package upgrade brings existing tenants' schemas to the newest tenant migration: a batch
// of tenants at a time, one transaction per tenant, so a tenant whose migration fails stays
// at its old version, untouched, while the others move on. It is the item processor of the
// upgrade fan-out (a Distributed Map over the tenants behind); re-running it upgrades only
// what is left.
package upgrade

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/tenant"
	"github.com/healthstack/tenant-provisioning/internal/tenantdb"
)

// Item is one tenant to upgrade, as the Map's ItemReader or ItemsPath hands it over.
type Item struct {
	TenantID string `json:"tenantId"`
}

// Batch is what the Map's ItemBatcher sends one invocation.
type Batch struct {
	Items []Item `json:"Items"`
}

// Result is one batch's outcome, by tenant id only (no personal data).
type Result struct {
	ToVersion int32     `json:"toVersion"`
	Upgraded  []string  `json:"upgraded"`
	Current   []string  `json:"current"` // already at ToVersion: nothing done
	Failed    []Failure `json:"failed"`
}

// Failure is a tenant left at its old version, with the sanitised reason.
type Failure struct {
	TenantID  string `json:"tenantId"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
}

// DefaultLockTimeout bounds the wait for one tenant's row: a tenant that a provisioning
// step holds is reported failed, to be picked up by the next run, rather than stalling
// the batch.
const DefaultLockTimeout = 5 * time.Second

// Upgrader migrates tenants on pool.
type Upgrader struct {
	Pool *pgxpool.Pool
	Log  *slog.Logger
	// Statuses are the tenant statuses an upgrade may touch; empty means ACTIVE only.
	Statuses []tenant.Status
	// LockTimeout is how long to wait for a tenant's row (0: DefaultLockTimeout).
	LockTimeout time.Duration
	// migrate is tenantdb.Migrate; tests replace it to make chosen tenants' migrations fail.
	migrate func(ctx context.Context, tx pgx.Tx, n tenantdb.Names) (store.MigrationResult, error)
}

// New returns an Upgrader for ACTIVE tenants.
func New(pool *pgxpool.Pool, log *slog.Logger) *Upgrader {
	return &Upgrader{Pool: pool, Log: log, migrate: tenantdb.Migrate}
}

// MigrateBatch upgrades each tenant of the batch in its own transaction. A batch never fails
// as a whole for one tenant: its failures are in the result, and the Map's
// ToleratedFailurePercentage applies to batches whose invocation failed outright.
func (u *Upgrader) MigrateBatch(ctx context.Context, in Batch) (Result, error) {
	res := Result{ToVersion: tenantdb.LatestVersion(), Upgraded: []string{}, Current: []string{}, Failed: []Failure{}}
	for _, it := range in.Items {
		upgraded, err := u.one(ctx, it.TenantID)
		switch {
		case err != nil:
			ferr := fault.Classify("upgrade tenant", err)
			res.Failed = append(res.Failed, Failure{TenantID: it.TenantID, ErrorType: fault.Name(ferr),
				Error: store.Truncate(ferr.Error(), store.MaxErrorLen)})
			u.Log.WarnContext(ctx, "tenant not upgraded", "tenantId", it.TenantID, "errorType", fault.Name(ferr))
		case upgraded:
			res.Upgraded = append(res.Upgraded, it.TenantID)
		default:
			res.Current = append(res.Current, it.TenantID)
		}
		if ctx.Err() != nil { // the invocation is ending: what is left is left for a re-run
			return res, &fault.TransientError{Op: "upgrade batch", Msg: "out of time", Err: ctx.Err()}
		}
	}
	u.Log.InfoContext(ctx, "upgrade batch", "toVersion", res.ToVersion, "upgraded", len(res.Upgraded),
		"current", len(res.Current), "failed", len(res.Failed))
	return res, nil
}

// one upgrades one tenant under its row lock (and no other tenant's), reporting whether it
// had anything to do. It refuses a tenant in a status the upgrade may not touch.
func (u *Upgrader) one(ctx context.Context, rawID string) (upgraded bool, err error) {
	id, err := uuid.Parse(rawID)
	if err != nil {
		return false, &fault.ValidationError{Op: "upgrade tenant", Fields: []fault.FieldError{{Field: "tenantId", Message: "must be a UUID"}}}
	}
	err = pgx.BeginFunc(ctx, u.Pool, func(tx pgx.Tx) error {
		wait := u.LockTimeout
		if wait <= 0 {
			wait = DefaultLockTimeout
		}
		if _, err := tx.Exec(ctx, `SELECT set_config('lock_timeout', $1, true)`, strconv.FormatInt(wait.Milliseconds(), 10)); err != nil {
			return err
		}
		t, err := store.Lock(ctx, tx, id)
		if err != nil {
			return err
		}
		if !u.allowed(t.Status) {
			return &fault.ConflictError{Op: "upgrade tenant", Msg: "tenant is " + string(t.Status) + "; this upgrade does not touch it"}
		}
		n, err := tenantdb.For(t)
		if err != nil {
			return err
		}
		mig, err := u.migrate(ctx, tx, n)
		if err != nil {
			return err
		}
		upgraded = mig.To != mig.From
		return store.SetSchemaVersion(ctx, tx, t.ID, mig.To)
	})
	// lock_not_available (a provisioning step holds the tenant) is a TransientError there.
	return upgraded, fault.FromDB("upgrade tenant", err)
}

func (u *Upgrader) allowed(s tenant.Status) bool {
	if len(u.Statuses) == 0 {
		return s == tenant.StatusActive
	}
	for _, a := range u.Statuses {
		if a == s {
			return true
		}
	}
	return false
}
