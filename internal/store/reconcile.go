package store

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/tenant"
)

// StaleTenant is a tenant for the reconciler to look at, with the number of its attempts
// that failed to settle the tenant as it is now (0: none since it last changed).
type StaleTenant struct {
	tenant.Tenant
	Failures int
}

// Stale lists up to limit PENDING or PROVISIONING tenants whose row has not changed for
// olderThan and that are due, those due longest first: the reconciler's work list. A
// tenant is due olderThan after its last change, or, once Postpone has put it off, at its
// next attempt. So a tenant the reconciler failed on waits, then queues behind those due
// before it, and tenants it can never settle cannot fill every batch.
func (s *Store) Stale(ctx context.Context, olderThan time.Duration, limit int) ([]StaleTenant, error) {
	const op = "list stale tenants"
	rows, err := s.db.Query(ctx, `SELECT `+tenantColumns+`, coalesce(b.failures, 0) FROM tenants t
		LEFT JOIN reconcile_backoff b ON b.tenant_id = t.id AND b.tenant_updated_at = t.updated_at
		WHERE t.status IN ($1, $2) AND t.updated_at < now() - $3::interval
			AND (b.next_attempt_at IS NULL OR b.next_attempt_at <= now())
		ORDER BY coalesce(b.next_attempt_at, t.updated_at + $3::interval) LIMIT $4`,
		string(tenant.StatusPending), string(tenant.StatusProvisioning), olderThan, limit)
	if err != nil {
		return nil, fault.FromDB(op, err)
	}
	ts, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (StaleTenant, error) {
		var failures int
		t, err := scanTenant(row, &failures)
		return StaleTenant{Tenant: t, Failures: failures}, err
	})
	return ts, fault.FromDB(op, err)
}

// Postpone records one more failed attempt to settle the tenant as Stale listed it: why
// (an error type, or NeedsOperator), and that it is not due again for wait. The count
// starts again for a tenant that has changed since an earlier failure.
func (s *Store) Postpone(ctx context.Context, t StaleTenant, reason string, wait time.Duration) error {
	_, err := s.db.Exec(ctx, `INSERT INTO reconcile_backoff (tenant_id, tenant_updated_at, failures, reason, failed_at, next_attempt_at)
		VALUES ($1, $2, $3, $4, now(), now() + $5::interval)
		ON CONFLICT (tenant_id) DO UPDATE SET tenant_updated_at = excluded.tenant_updated_at, failures = excluded.failures,
			reason = excluded.reason, failed_at = excluded.failed_at, next_attempt_at = excluded.next_attempt_at`,
		t.ID, t.UpdatedAt, t.Failures+1, reason, wait)
	return fault.FromDB("postpone stale tenant", err)
}

// ClearPostponed forgets the tenant's failed attempts: a later attempt settled it, or found
// its execution running again.
func (s *Store) ClearPostponed(ctx context.Context, id uuid.UUID) error {
	_, err := s.db.Exec(ctx, `DELETE FROM reconcile_backoff WHERE tenant_id = $1`, id)
	return fault.FromDB("clear postponed tenant", err)
}

// Unsettled counts the PENDING or PROVISIONING tenants whose last reconcile attempt failed
// and that have not changed since, whether or not they are due again.
func (s *Store) Unsettled(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT count(*) FROM reconcile_backoff b
		JOIN tenants t ON t.id = b.tenant_id AND t.updated_at = b.tenant_updated_at
		WHERE t.status IN ($1, $2)`, string(tenant.StatusPending), string(tenant.StatusProvisioning)).Scan(&n)
	return n, fault.FromDB("count unsettled tenants", err)
}
