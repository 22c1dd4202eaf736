-- The migration version each tenant's schema is at, as the step or the upgrade that last
-- migrated it recorded it with the same transaction: an admin can find the tenants behind
-- without reading every schema. NULL until recorded (tenants from before this column; the
-- upgrade reads the schema's own version table for them, one tenant at a time).
ALTER TABLE tenants ADD COLUMN schema_version integer CHECK (schema_version >= 0);

CREATE INDEX tenants_schema_version_idx ON tenants (status, schema_version);

---- create above / drop below ----

DROP INDEX tenants_schema_version_idx;
ALTER TABLE tenants DROP COLUMN schema_version;
