-- The reconciler's backoff. A tenant a reconcile run could not settle (its rollback failed,
-- or its execution SUCCEEDED without activating it) waits here for its next attempt, and
-- the runs take the tenants that have been due longest first: tenants it can never settle
-- no longer fill every run's batch ahead of those it can, nor fail every five minutes.
-- The row holds only while the tenant's row is as it was when the attempt failed
-- (tenant_updated_at): a tenant that has changed since (settled, retried, moved on by its
-- execution) is looked at afresh. tenant_id has no foreign key, for upgrade_results'
-- reason: its check would take a KEY SHARE lock on the tenant's row, which a step's
-- FOR UPDATE blocks.
CREATE TABLE reconcile_backoff (
    tenant_id         uuid PRIMARY KEY,
    tenant_updated_at timestamptz NOT NULL,
    failures          integer NOT NULL CHECK (failures > 0), -- failed attempts since the tenant last changed
    reason            text NOT NULL,                          -- the last one's error type, or NeedsOperator
    failed_at         timestamptz NOT NULL DEFAULT now(),
    next_attempt_at   timestamptz NOT NULL
);

---- create above / drop below ----

DROP TABLE reconcile_backoff;
