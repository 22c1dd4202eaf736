-- The tenants the sample events refer to, reserved as the admin API reserves a tenant
-- (PENDING, no schema yet), with their fixed ids. For local databases only; running it
-- again changes nothing. events_test.go runs this very file.
--
--   psql "$DATABASE_URL" -f events/seed.sql
--
-- No real personal data: example.org addresses and made-up names.
INSERT INTO tenants (id, name, slug, status, admin_email, admin_first_name, admin_last_name)
VALUES
    -- The example tenant: every pipeline step's event, and the API's get, status and
    -- archive events.
    ('01936f2e-6d7a-7c3b-9a4e-2b8f0c1d2e3f', 'Example Community Clinic', 'example-community-clinic',
     'PENDING', 'clinic-admin@example.org', 'Alex', 'Example'),
    -- RollbackFunction's tenant: its provisioning failed at DeploySorobanContract.
    ('01936f2e-9b1c-7d2e-8f3a-4b5c6d7e8f90', 'Example Lakeside Clinic', 'example-lakeside-clinic',
     'PENDING', 'lakeside-admin@example.org', 'Sam', 'Example')
ON CONFLICT DO NOTHING;

-- The upgrade run the upgrade steps' events and GetUpgradeFunction's are about, recorded as
-- POST /admin/upgrades with no body records one (RUNNING, over the ACTIVE tenants, to the
-- newest tenant migration: target_version is the number of files in
-- internal/tenantdb/migrations, which events_test.go checks) with its execution, named
-- after the run, on the upgrade state machine. One run is RUNNING at a time: while another
-- is, this records nothing, and the upgrade events fail with "is not an upgrade run".
INSERT INTO upgrade_runs (id, status, statuses, dry_run, target_version, execution_arn)
VALUES ('01936f64-3b20-7b4e-9d1f-5a6b7c8d9e0f', 'RUNNING', '{ACTIVE}', false, 4,
        'arn:aws:states:us-east-1:123456789012:execution:tenant-provisioning-upgrade:01936f64-3b20-7b4e-9d1f-5a6b7c8d9e0f')
ON CONFLICT DO NOTHING;
