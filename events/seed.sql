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
