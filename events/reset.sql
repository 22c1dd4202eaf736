-- Removes what running the sample events left behind, so that they can run again from
-- events/seed.sql: the example tenants (by id, and the one CreateTenantFunction's event
-- registers, by name) with their schemas and roles, and the example upgrade run with the runs
-- started after it (StartUpgradeFunction's event's: one run at a time, so none can start
-- before the example run has ended) and their results. Like the rollback, it drops only a
-- schema or role marked as the tenant's ('tenant:<id>' comment). For local databases only;
-- events_test.go runs this very file.
--
--   psql "$DATABASE_URL" -f events/reset.sql -f events/seed.sql
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN
        SELECT id, schema_name FROM tenants
        WHERE id IN ('01936f2e-6d7a-7c3b-9a4e-2b8f0c1d2e3f', '01936f2e-9b1c-7d2e-8f3a-4b5c6d7e8f90')
           OR lower(name) IN ('example community clinic', 'example lakeside clinic', 'example riverside clinic')
    LOOP
        IF t.schema_name IS NOT NULL THEN
            IF EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = t.schema_name
                       AND obj_description(oid, 'pg_namespace') = 'tenant:' || t.id) THEN
                EXECUTE format('DROP SCHEMA %I CASCADE', t.schema_name);
            END IF;
            IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = t.schema_name
                       AND shobj_description(oid, 'pg_authid') = 'tenant:' || t.id) THEN
                -- Revokes what the role was granted in this database; it owns nothing.
                EXECUTE format('DROP OWNED BY %I', t.schema_name);
                EXECUTE format('DROP ROLE %I', t.schema_name);
            END IF;
        END IF;
        DELETE FROM contract_transactions WHERE tenant_id = t.id;
        DELETE FROM tenant_deployers WHERE tenant_id = t.id;
        DELETE FROM reconcile_backoff WHERE tenant_id = t.id;
        DELETE FROM tenants WHERE id = t.id; -- its provisioning_logs go with it
    END LOOP;
END
$$;

DELETE FROM upgrade_runs -- their upgrade_results go with them
WHERE id = '01936f64-3b20-7b4e-9d1f-5a6b7c8d9e0f'
   OR created_at >= (SELECT created_at FROM upgrade_runs WHERE id = '01936f64-3b20-7b4e-9d1f-5a6b7c8d9e0f');
