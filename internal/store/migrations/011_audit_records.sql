-- The audit trail (issue 22): one record per admin action and per lifecycle transition,
-- written in the transaction of the change it records. Append-only: the functions' users
-- may insert and read it, never update, delete or truncate (access.sql), and the triggers
-- below stop anyone else who tries, the table's owner included, as a second lock.
-- Records hold ids and statuses, never an admin's e-mail, name, password or token.
--
-- The hash chain that makes the trail tamper-evident is kept apart from the records (its
-- own append-only table, sealed in order after commit), so that no record is ever
-- updated and concurrent onboardings never queue on one chain head. xact is the inserting
-- transaction's id: a sealer seals only records whose transaction is older than every
-- transaction still running, so none can appear behind it.
CREATE TABLE audit_records (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at            timestamptz NOT NULL DEFAULT clock_timestamp(),
    xact          xid8 NOT NULL DEFAULT pg_current_xact_id(),
    -- admin:<issuer>#<sub> for a token's subject, system:<function> for a step, the
    -- reconciler or an upgrade, user:<id> for a tenant's admin redeeming a link.
    actor         text NOT NULL CHECK (actor ~ '^(admin|system|user):' AND char_length(actor) <= 512),
    action        text NOT NULL CHECK (action ~ '^[a-z]+(\.[a-z_]+)+$'),
    outcome       text NOT NULL CHECK (outcome IN ('accepted', 'refused', 'failed')),
    problem       text CHECK (problem ~ '^[a-z][a-z-]*$'), -- the problem type of a refusal
    tenant_id     uuid,
    run_id        uuid,
    request_id    text CHECK (char_length(request_id) <= 128),
    source_ip     inet,
    user_agent    text CHECK (char_length(user_agent) <= 512),
    execution_arn text CHECK (char_length(execution_arn) <= 2048),
    details       jsonb NOT NULL DEFAULT '{}' -- ids and statuses only
);

-- The trail of one tenant, newest first, and everything by time.
CREATE INDEX audit_records_tenant_idx ON audit_records (tenant_id, id DESC) WHERE tenant_id IS NOT NULL;
CREATE INDEX audit_records_at_idx ON audit_records (at DESC, id DESC);

CREATE FUNCTION audit_records_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit records are append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_records_no_change BEFORE UPDATE OR DELETE ON audit_records
    FOR EACH ROW EXECUTE FUNCTION audit_records_append_only();
CREATE TRIGGER audit_records_no_truncate BEFORE TRUNCATE ON audit_records
    FOR EACH STATEMENT EXECUTE FUNCTION audit_records_append_only();

---- create above / drop below ----

DROP TABLE audit_records;
DROP FUNCTION audit_records_append_only();
