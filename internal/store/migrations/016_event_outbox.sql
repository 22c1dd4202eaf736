-- Lifecycle events (issue 22), through a transactional outbox: the database writes one row
-- per lifecycle transition in the transaction that makes it, as it writes the audit record
-- (012), so a transition that rolls back leaves no event and one that commits cannot lose
-- its event. The publisher (internal/outbox) sends the rows to EventBridge after commit, in
-- seq order, and marks them published; a crash in between sends them again, with the same
-- id, which consumers deduplicate on (at least once). Rows hold ids and statuses only:
-- never an admin's e-mail, name, password or token, nor an error's text (its type only).
CREATE TABLE event_outbox (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(), -- the CloudEvents id
    -- The order of insertion: within one tenant (whose transitions take its row lock) the
    -- order of its transitions too.
    seq          bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    type         text NOT NULL CHECK (type ~ '^com\.healthstack\.[a-z]+(\.[a-z]+)+$'),
    subject      uuid NOT NULL, -- the tenant, or the upgrade run
    time         timestamptz NOT NULL DEFAULT clock_timestamp(),
    data         jsonb NOT NULL,
    request_id   text CHECK (char_length(request_id) <= 128), -- the API request's, when one made it
    published_at timestamptz
);
-- What the publisher claims: the unpublished rows, in order.
CREATE INDEX event_outbox_unpublished_idx ON event_outbox (seq) WHERE published_at IS NULL;

-- One event per tenant status transition, by the same triggers' rule as the audit record
-- (012): reserved on insert, then the status it moved to. The request is what the
-- transaction named (store.InTx from the invocation's context).
CREATE FUNCTION outbox_tenant_transition() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    request text := nullif(current_setting('tp.audit_request', true), '');
    kind    text;
    data    jsonb := jsonb_build_object('tenantId', NEW.id, 'status', NEW.status);
BEGIN
    kind := CASE
        WHEN TG_OP = 'INSERT' THEN 'reserved'
        WHEN NEW.status = 'PENDING' THEN 'retried'
        WHEN NEW.status = 'PROVISIONING' THEN 'provisioning.started'
        WHEN NEW.status = 'ACTIVE' THEN 'activated'
        WHEN NEW.status = 'FAILED' THEN 'failed'
        WHEN NEW.status = 'ARCHIVED' THEN 'archived'
    END;
    IF TG_OP = 'UPDATE' THEN
        data := data || jsonb_build_object('previousStatus', OLD.status);
    END IF;
    IF NEW.execution_arn IS NOT NULL THEN
        data := data || jsonb_build_object('executionArn', NEW.execution_arn);
    END IF;
    IF NEW.status = 'FAILED' THEN
        -- The type of the error, never its text: the error type name the rollback stored
        -- first (pipeline.SanitizeError writes "<Error>: <message>") when it is one of the
        -- taxonomy's or Step Functions' own, else Unclassified. Only known names pass, so a
        -- message that happens to start with a word and a colon never reaches an event. A
        -- reservation failed from PENDING never had an execution (the API could not start
        -- one, or the reconciler found none): its reason is a sentence of ours. (Inline: the
        -- functions' users may execute no function of ours they are not granted.)
        data := data || jsonb_build_object('errorType', CASE
            WHEN TG_OP = 'UPDATE' AND OLD.status = 'PENDING' THEN 'ProvisioningNotStarted'
            ELSE coalesce(substring(NEW.provisioning_error FROM
                '^((?:Transient|Validation|Conflict|NotFound|Invariant|Config)Error|(?:States|Lambda|Sandbox)\.[A-Za-z]+)(?:: |$)'),
                'Unclassified') END);
    END IF;
    INSERT INTO public.event_outbox (type, subject, data, request_id)
    VALUES ('com.healthstack.tenant.' || kind, NEW.id, data, request);
    RETURN NULL;
END
$$;

-- A row inserted in another status than PENDING (a tool's seed or import) was reserved by
-- no one: no event.
CREATE TRIGGER tenants_outbox_reserved AFTER INSERT ON tenants
    FOR EACH ROW WHEN (NEW.status = 'PENDING') EXECUTE FUNCTION outbox_tenant_transition();
CREATE TRIGGER tenants_outbox_transition AFTER UPDATE OF status ON tenants
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION outbox_tenant_transition();

-- One event per upgrade run, when it ends, with its tenants counted by outcome (the
-- counts GET /admin/upgrades/{id} answers with).
CREATE FUNCTION outbox_upgrade_run_finished() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    counts jsonb;
BEGIN
    SELECT jsonb_build_object(
               'upgraded', count(*) FILTER (WHERE outcome = 'UPGRADED'),
               'current',  count(*) FILTER (WHERE outcome = 'CURRENT'),
               'failed',   count(*) FILTER (WHERE outcome = 'FAILED'),
               'planned',  count(*) FILTER (WHERE outcome = 'PLANNED'),
               'pending',  count(*) FILTER (WHERE outcome = 'PENDING'))
      INTO counts FROM public.upgrade_results WHERE run_id = NEW.id;
    INSERT INTO public.event_outbox (type, subject, data, request_id)
    VALUES ('com.healthstack.upgrade.run.finished', NEW.id,
            jsonb_build_object('runId', NEW.id, 'status', NEW.status, 'dryRun', NEW.dry_run,
                               'targetVersion', NEW.target_version, 'counts', counts),
            nullif(current_setting('tp.audit_request', true), ''));
    RETURN NULL;
END
$$;

CREATE TRIGGER upgrade_runs_outbox_finished AFTER UPDATE OF status ON upgrade_runs
    FOR EACH ROW WHEN (OLD.status = 'RUNNING' AND NEW.status <> 'RUNNING')
    EXECUTE FUNCTION outbox_upgrade_run_finished();

-- The admin's activation (redeem_activation, in access.sql) writes its own row.

---- create above / drop below ----

DROP TRIGGER upgrade_runs_outbox_finished ON upgrade_runs;
DROP FUNCTION outbox_upgrade_run_finished();
DROP TRIGGER tenants_outbox_transition ON tenants;
DROP TRIGGER tenants_outbox_reserved ON tenants;
DROP FUNCTION outbox_tenant_transition();
DROP TABLE event_outbox;
