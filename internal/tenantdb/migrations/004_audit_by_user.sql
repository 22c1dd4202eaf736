---- tern: disable-tx ----
-- The audit trail read per user, newest first: "what did this user do, and when?", the
-- question HIPAA access reviews ask.
--
-- Built concurrently, outside the upgrade's transaction, so that the tenant's own inserts
-- into audit_logs go on while it builds (a plain CREATE INDEX holds them for the whole
-- build). A no-transaction migration is this one statement and nothing else; the runner
-- resumes it when a build stopped half-way (see internal/tenantdb/README.md). IF NOT
-- EXISTS: tenants that reached version 3 before this release built it there already.
CREATE INDEX CONCURRENTLY IF NOT EXISTS audit_logs_user_created_idx ON {{.schema}}.audit_logs (user_id, created_at DESC);

---- create above / drop below ----

-- Inside the revert's transaction, as every down half runs: only tests and the bench move
-- a tenant back, and a drop needs no table scan, so DROP INDEX CONCURRENTLY's extra
-- transactions would buy nothing but a revert that could half-fail.
DROP INDEX IF EXISTS {{.schema}}.audit_logs_user_created_idx;
