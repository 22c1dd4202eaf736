-- When a user last set their password, for the password-age rules many organisations'
-- policies have. Activation sets it. It was the first real work for the upgrade fan-out
-- (every tenant provisioned before it is behind).
--
-- Until the release after it shipped, this migration also built audit_logs_user_created_idx,
-- inside the upgrade's transaction: the tenant's own inserts into audit_logs waited for
-- the whole build. The index is migration 4's now, built concurrently, and a version keeps
-- its meaning for code: 3 is still "users.password_changed_at exists" (PasswordAgeVersion).
-- A tenant that reached 3 before has the index as well, and 4 finds it there.
ALTER TABLE {{.schema}}.users ADD COLUMN password_changed_at timestamptz;

---- create above / drop below ----

ALTER TABLE {{.schema}}.users DROP COLUMN password_changed_at;
-- A tenant that reached 3 before the index moved to 4 has it too; version 2 has none.
DROP INDEX IF EXISTS {{.schema}}.audit_logs_user_created_idx;
