-- The control plane: one row per tenant and one row per step attempt.
CREATE TABLE tenants (
    id                  uuid PRIMARY KEY,
    name                text NOT NULL CHECK (char_length(name) BETWEEN 3 AND 255),
    slug                text NOT NULL,
    -- Set when an execution claims the tenant; also the name of the tenant's role.
    schema_name         text UNIQUE CHECK (schema_name ~ '^t_[a-z0-9_]*$' AND octet_length(schema_name) <= 63),
    status              text NOT NULL DEFAULT 'PENDING'
                        CHECK (status IN ('PENDING', 'PROVISIONING', 'ACTIVE', 'FAILED', 'ARCHIVED')),
    admin_email         text NOT NULL CHECK (octet_length(admin_email) <= 254),
    admin_first_name    text NOT NULL CHECK (char_length(admin_first_name) BETWEEN 1 AND 100),
    admin_last_name     text NOT NULL CHECK (char_length(admin_last_name) BETWEEN 1 AND 100),
    soroban_contract_id text,
    execution_arn       text,
    provisioning_error  text CHECK (char_length(provisioning_error) <= 500),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    completed_at        timestamptz,
    archived_at         timestamptz
);

-- A name is taken while its tenant is live. A FAILED or ARCHIVED tenant keeps its row for
-- the audit trail but frees the name, so an organisation can be onboarded again.
CREATE UNIQUE INDEX tenants_live_name_key ON tenants (lower(name))
    WHERE status NOT IN ('FAILED', 'ARCHIVED');

-- Keyset pagination for the admin list, newest first, with and without a status filter.
CREATE INDEX tenants_created_idx ON tenants (created_at DESC, id DESC);
CREATE INDEX tenants_status_created_idx ON tenants (status, created_at DESC, id DESC);

CREATE TABLE provisioning_logs (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    step        text NOT NULL CHECK (step ~ '^[A-Z][A-Z_]*$'),
    status      text NOT NULL CHECK (status IN ('IN_PROGRESS', 'COMPLETED', 'FAILED', 'ROLLED_BACK')),
    attempt     integer NOT NULL CHECK (attempt >= 1),
    result      jsonb,
    error       text CHECK (char_length(error) <= 500),
    duration_ms integer CHECK (duration_ms >= 0),
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE INDEX provisioning_logs_tenant_idx ON provisioning_logs (tenant_id, id);

---- create above / drop below ----

DROP TABLE provisioning_logs;
DROP TABLE tenants;
