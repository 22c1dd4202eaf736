-- Two things a healthcare tenant's own app needs and its first schema lacked, and the first
-- real work for the upgrade fan-out (every tenant provisioned before it is behind):
-- an audit trail read per user, newest first ("what did this user do, and when?", the
-- question HIPAA access reviews ask), and when a user last set their password, for the
-- password-age rules many organisations' policies have. Activation sets it.
CREATE INDEX audit_logs_user_created_idx ON {{.schema}}.audit_logs (user_id, created_at DESC);
ALTER TABLE {{.schema}}.users ADD COLUMN password_changed_at timestamptz;

---- create above / drop below ----

ALTER TABLE {{.schema}}.users DROP COLUMN password_changed_at;
DROP INDEX {{.schema}}.audit_logs_user_created_idx;
