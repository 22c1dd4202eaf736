-- An upgrade run brings existing tenants' schemas to the newest tenant migration: one
-- execution of the upgrade state machine, named after the run's id. The run's options live
-- here, so the execution's input is the id alone; its progress lives here too, so an admin
-- can follow a run of thousands of tenants while it runs, in any environment.
CREATE TABLE upgrade_runs (
    id             uuid PRIMARY KEY,
    status         text NOT NULL DEFAULT 'RUNNING' CHECK (status IN ('RUNNING', 'SUCCEEDED', 'FAILED')),
    statuses       text[] NOT NULL CHECK (cardinality(statuses) > 0),
    dry_run        boolean NOT NULL DEFAULT false,
    target_version integer NOT NULL CHECK (target_version > 0),
    execution_arn  text,
    error          text CHECK (length(error) <= 500), -- sanitised: why the run failed
    created_at     timestamptz NOT NULL DEFAULT now(),
    finished_at    timestamptz
);

-- One run at a time: two runs would only fight over the same tenants' row locks.
CREATE UNIQUE INDEX upgrade_runs_one_running ON upgrade_runs ((true)) WHERE status = 'RUNNING';
CREATE INDEX upgrade_runs_created_idx ON upgrade_runs (created_at DESC);

-- One row per tenant a run counted: CURRENT for those the lister found already at the
-- target (the Map never sees them), PENDING for those it handed the Map, until their batch
-- reports. UPGRADED is written in the tenant's own migration transaction, so it is true
-- exactly when the schema moved; a re-run of a batch (a Lambda retry) overwrites its
-- tenants' rows, so a tenant is counted once. tenant_id has no foreign key on purpose:
-- its check would take a KEY SHARE lock on the tenant's row, which a provisioning step's
-- FOR UPDATE blocks, so recording a busy tenant's failure (or listing it) would wait on
-- the very lock the upgrade gave up on. Tenants are never deleted (archiving is soft).
CREATE TABLE upgrade_results (
    run_id       uuid NOT NULL REFERENCES upgrade_runs (id) ON DELETE CASCADE,
    tenant_id    uuid NOT NULL,
    outcome      text NOT NULL CHECK (outcome IN ('PENDING', 'UPGRADED', 'CURRENT', 'FAILED', 'PLANNED')),
    from_version integer,
    to_version   integer,
    error_type   text,
    error        text CHECK (length(error) <= 500),
    at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, tenant_id)
);

CREATE INDEX upgrade_results_outcome_idx ON upgrade_results (run_id, outcome);

---- create above / drop below ----

DROP TABLE upgrade_results;
DROP TABLE upgrade_runs;
