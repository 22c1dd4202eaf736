-- One audit record per tenant lifecycle transition, written by the database itself in the
-- transaction that makes it: whatever the code path (a step, a route, the reconciler, a
-- tool), no transition lands without its record, and none is recorded twice. The actor and
-- request are what the transaction named (store.InTx from the invocation's context, with
-- set_config's transaction-local settings); a change made without one is recorded as
-- system:unattributed, which a test of the product's own paths never finds.
CREATE FUNCTION audit_tenant_transition() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    action text;
BEGIN
    action := CASE
        WHEN TG_OP = 'INSERT' THEN 'tenant.reserved'
        WHEN NEW.status = 'PENDING' THEN 'tenant.retried'
        WHEN NEW.status = 'PROVISIONING' THEN 'tenant.provisioning'
        WHEN NEW.status = 'ACTIVE' THEN 'tenant.activated'
        WHEN NEW.status = 'FAILED' THEN 'tenant.failed'
        WHEN NEW.status = 'ARCHIVED' THEN 'tenant.archived'
    END;
    INSERT INTO public.audit_records (actor, action, outcome, tenant_id, request_id, source_ip, user_agent, execution_arn, details)
    VALUES (coalesce(nullif(current_setting('tp.audit_actor', true), ''), 'system:unattributed'),
            action, 'accepted', NEW.id,
            nullif(current_setting('tp.audit_request', true), ''),
            nullif(current_setting('tp.audit_source_ip', true), '')::inet,
            nullif(current_setting('tp.audit_user_agent', true), ''),
            NEW.execution_arn,
            jsonb_build_object('from', CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END, 'to', NEW.status));
    RETURN NULL;
END
$$;

CREATE TRIGGER tenants_audit_reserved AFTER INSERT ON tenants
    FOR EACH ROW EXECUTE FUNCTION audit_tenant_transition();
CREATE TRIGGER tenants_audit_transition AFTER UPDATE OF status ON tenants
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION audit_tenant_transition();

---- create above / drop below ----

DROP TRIGGER tenants_audit_transition ON tenants;
DROP TRIGGER tenants_audit_reserved ON tenants;
DROP FUNCTION audit_tenant_transition();
