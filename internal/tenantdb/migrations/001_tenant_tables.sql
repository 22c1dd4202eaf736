-- A tenant's own tables. {{.schema}} and {{.role}} are quoted identifiers supplied by the
-- migrator, never raw input.
CREATE TABLE {{.schema}}.roles (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL UNIQUE CHECK (name ~ '^[a-z][a-z0-9_]*$'),
    description text NOT NULL DEFAULT '',
    permissions text[] NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE {{.schema}}.users (
    id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email                 text NOT NULL CHECK (octet_length(email) <= 254),
    first_name            text NOT NULL,
    last_name             text NOT NULL,
    -- A slow, salted hash (argon2id). Until activation, from migration 2 on, an unusable
    -- marker instead (see 002_unusable_password.sql).
    password_hash         text NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    role_id               uuid NOT NULL REFERENCES {{.schema}}.roles (id),
    status                text NOT NULL DEFAULT 'PENDING_ACTIVATION'
                          CHECK (status IN ('PENDING_ACTIVATION', 'ACTIVE', 'DISABLED')),
    -- Single-use activation: only a hash of the token is stored, with its expiry.
    activation_token_hash bytea,
    activation_expires_at timestamptz,
    activated_at          timestamptz,
    last_login_at         timestamptz,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    CHECK ((activation_token_hash IS NULL) = (activation_expires_at IS NULL))
);

CREATE UNIQUE INDEX users_email_key ON {{.schema}}.users (lower(email));
CREATE UNIQUE INDEX users_activation_token_key ON {{.schema}}.users (activation_token_hash)
    WHERE activation_token_hash IS NOT NULL;

CREATE TABLE {{.schema}}.audit_logs (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- Who acted: a user id, or "system:<component>" for automated actions.
    actor       text NOT NULL,
    user_id     uuid REFERENCES {{.schema}}.users (id) ON DELETE SET NULL,
    action      text NOT NULL,
    entity_type text NOT NULL,
    entity_id   uuid,
    details     jsonb NOT NULL DEFAULT '{}',
    ip_address  inet,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX audit_logs_created_idx ON {{.schema}}.audit_logs (created_at);
CREATE INDEX audit_logs_entity_idx ON {{.schema}}.audit_logs (entity_type, entity_id);

-- The tenant role received DML on every table through the schema's default privileges.
-- The audit trail is append-only for it, and the migration bookkeeping is read-only.
REVOKE UPDATE, DELETE, TRUNCATE ON {{.schema}}.audit_logs FROM {{.role}};
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {{.schema}}.schema_version FROM {{.role}};

---- create above / drop below ----

DROP TABLE {{.schema}}.audit_logs;
DROP TABLE {{.schema}}.users;
DROP TABLE {{.schema}}.roles;
