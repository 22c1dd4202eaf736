-- Each attempt is logged with the execution it ran for, so a retried tenant's log keeps its
-- executions apart and a rollback undoes what its own execution left. Archive rows, which
-- no execution makes, have none.
ALTER TABLE provisioning_logs ADD COLUMN execution_arn text;

-- How many times an admin has retried the tenant: retry N runs as the execution named
-- <tenantId>-r<N>, the first as <tenantId>. The name is what makes an execution the
-- tenant's own before it has claimed the row.
ALTER TABLE tenants ADD COLUMN retries integer NOT NULL DEFAULT 0 CHECK (retries >= 0);

---- create above / drop below ----

ALTER TABLE tenants DROP COLUMN retries;
ALTER TABLE provisioning_logs DROP COLUMN execution_arn;
