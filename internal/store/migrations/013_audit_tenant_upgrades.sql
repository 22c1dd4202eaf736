-- A tenant's schema moved to a newer version by an upgrade run is a lifecycle transition
-- too (tenant.upgraded, from and to versions), recorded as the others are (012): by the
-- database, in the transaction that records the new version, as the actor that
-- transaction named. What provisioning migrates (the tenant PROVISIONING) and a rollback's
-- clearing (to none) are not upgrades: their status transitions record them. A tenant
-- provisioned before the control plane recorded versions has none, and its first upgrade
-- is recorded from none. A step that builds an index concurrently records two versions,
-- each committed on its own, and so two upgrades.
CREATE FUNCTION audit_tenant_upgrade() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.audit_records (actor, action, outcome, tenant_id, request_id, execution_arn, details)
    VALUES (coalesce(nullif(current_setting('tp.audit_actor', true), ''), 'system:unattributed'),
            'tenant.upgraded', 'accepted', NEW.id,
            nullif(current_setting('tp.audit_request', true), ''),
            NEW.execution_arn,
            jsonb_build_object('fromVersion', OLD.schema_version, 'toVersion', NEW.schema_version));
    RETURN NULL;
END
$$;

CREATE TRIGGER tenants_audit_upgraded AFTER UPDATE OF schema_version ON tenants
    FOR EACH ROW WHEN (NEW.status <> 'PROVISIONING' AND NEW.schema_version IS NOT NULL
                       AND NEW.schema_version IS DISTINCT FROM OLD.schema_version)
    EXECUTE FUNCTION audit_tenant_upgrade();

---- create above / drop below ----

DROP TRIGGER tenants_audit_upgraded ON tenants;
DROP FUNCTION audit_tenant_upgrade();
