-- Who may do what in this database: one user per kind of function (catalog.DBUsers), each
-- with the rights that kind uses and no others. store.Migrate applies this file after the
-- migrations, on every deploy, in one transaction: it is the whole truth, not a history.
-- Every user's table rights are revoked and granted again from what is written here, so a
-- right taken out of this file is taken away by the next deploy. A migration that adds a
-- table grants nothing itself; the table's users are added here (access_test.go checks
-- every user against what its functions do).
--
-- Roles are the cluster's, not the database's: they are created when missing and
-- otherwise left as they are, and two databases of one cluster (the tests' scratch
-- databases) share them. A concurrent creation elsewhere is not an error.
--
-- Tenant schemas belong to tp_tenant_owner, a role no one logs in as. The functions that
-- change a tenant's schema are its members and create objects under SET LOCAL ROLE
-- tp_tenant_owner (tenantdb), so a schema made by provisioning is altered by an upgrade and
-- dropped by a rollback without either user owning it. It holds CREATEROLE for the
-- tenants' own NOLOGIN roles: on PostgreSQL 16 and later (RDS here) that reaches only the
-- roles it created, which is why production must not run an older major version.
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT * FROM (VALUES
        ('tp_tenant_owner', 'NOLOGIN CREATEROLE'),
        ('tp_api_read',     'LOGIN NOCREATEROLE'),
        ('tp_api_write',    'LOGIN NOCREATEROLE'),
        ('tp_activation',   'LOGIN NOCREATEROLE'),
        ('tp_provisioner',  'LOGIN NOCREATEROLE'),
        ('tp_upgrader',     'LOGIN NOCREATEROLE'),
        ('tp_reconciler',   'LOGIN NOCREATEROLE'),
        ('tp_auditor',      'LOGIN NOCREATEROLE'),
        ('tp_publisher',    'LOGIN NOCREATEROLE')) AS v(name, attrs)
    LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r.name) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I %s INHERIT NOSUPERUSER NOCREATEDB NOREPLICATION NOBYPASSRLS', r.name, r.attrs);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL; -- another database's migration created it first
            END;
        END IF;
        -- On RDS a user in rds_iam logs in with an IAM token only: no password exists.
        IF r.attrs LIKE 'LOGIN%' AND EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_iam') THEN
            EXECUTE format('GRANT rds_iam TO %I', r.name);
        END IF;
    END LOOP;
    -- The users that change tenant schemas act with the owner's rights; the master user
    -- too, to hand the schemas over below (on PostgreSQL 16 the creator holds only ADMIN).
    FOR r IN SELECT unnest(ARRAY['tp_api_write', 'tp_provisioner', 'tp_upgrader', 'tp_reconciler', current_user::text]) AS name LOOP
        IF NOT pg_has_role(r.name, 'tp_tenant_owner', 'MEMBER') THEN
            BEGIN
                EXECUTE format('GRANT tp_tenant_owner TO %I', r.name);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;
            END;
        END IF;
    END LOOP;
END
$$;

-- Nothing for everyone: no user creates in this database, in public, or temporary tables.
-- (CONNECT stays PUBLIC's: a database without a right to it is simply unreachable.)
DO $$
BEGIN
    EXECUTE format('REVOKE CREATE, TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
    -- Only provisioning creates schemas, for the owner role (tenantdb.CreateSchema). The
    -- owner itself may not: its other members would inherit the right.
    EXECUTE format('REVOKE CREATE ON DATABASE %I FROM tp_tenant_owner', current_database());
    EXECUTE format('GRANT CREATE ON DATABASE %I TO tp_provisioner', current_database());
END
$$;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA public FROM PUBLIC;

-- Start from nothing, then grant what each user uses.
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM tp_tenant_owner, tp_api_read, tp_api_write, tp_activation, tp_provisioner, tp_upgrader, tp_reconciler,
    tp_auditor, tp_publisher;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM tp_tenant_owner, tp_api_read, tp_api_write, tp_activation, tp_provisioner, tp_upgrader, tp_reconciler,
    tp_auditor, tp_publisher;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM tp_tenant_owner, tp_api_read, tp_api_write, tp_activation, tp_provisioner, tp_upgrader, tp_reconciler,
    tp_auditor, tp_publisher;

-- The GET routes read the control plane and nothing in a tenant's schema.
GRANT SELECT ON tenants, provisioning_logs, upgrade_runs, upgrade_results TO tp_api_read;
GRANT EXECUTE ON FUNCTION tenant_count_estimate(text) TO tp_api_read, tp_api_write;
GRANT EXECUTE ON FUNCTION audit_record_digest(audit_records), audit_link_hash(bytea, bigint, bytea) TO tp_auditor, tp_api_read;
GRANT EXECUTE ON FUNCTION audit_seal(integer) TO tp_auditor;
GRANT EXECUTE ON FUNCTION audit_verify(), audit_verify_after(bigint, bytea) TO tp_api_read;

-- The admin routes that write: reserve, retry and archive tenants, resend activation links
-- (inside the tenant's schema, as its owner), start upgrade runs; and the reads they answer with.
GRANT SELECT, INSERT, UPDATE ON tenants TO tp_api_write;
GRANT SELECT, INSERT, UPDATE ON provisioning_logs TO tp_api_write;
GRANT SELECT, INSERT, UPDATE ON upgrade_runs TO tp_api_write;
GRANT SELECT ON upgrade_results TO tp_api_write;
GRANT SELECT, DELETE ON reconcile_backoff TO tp_api_write;

-- The provisioning steps and the rollback.
GRANT SELECT, INSERT, UPDATE ON tenants TO tp_provisioner;
GRANT SELECT, INSERT, UPDATE ON provisioning_logs TO tp_provisioner;
GRANT SELECT, INSERT, UPDATE, DELETE ON contract_transactions, deployer_leases, tenant_deployers TO tp_provisioner;
GRANT SELECT, DELETE ON reconcile_backoff TO tp_provisioner;

-- The upgrade run's steps.
GRANT SELECT, UPDATE ON tenants TO tp_upgrader;
GRANT SELECT, INSERT, UPDATE ON upgrade_runs, upgrade_results TO tp_upgrader;

-- The reconciler: it reads executions' tenants, fails reservations and rolls back.
GRANT SELECT, UPDATE ON tenants TO tp_reconciler;
GRANT SELECT, INSERT, UPDATE ON provisioning_logs TO tp_reconciler;
GRANT SELECT, INSERT, UPDATE, DELETE ON reconcile_backoff TO tp_reconciler;
GRANT SELECT, INSERT, UPDATE, DELETE ON contract_transactions, deployer_leases, tenant_deployers TO tp_reconciler;

-- The audit trail: appended by every function that changes something, read by the admin
-- routes; updated, deleted or truncated by none (and its triggers refuse anyone who may).
GRANT SELECT, INSERT ON audit_records TO tp_api_write, tp_provisioner, tp_upgrader, tp_reconciler, tp_tenant_owner;
GRANT SELECT ON audit_records TO tp_api_read;
-- The sealer links committed records into the chain and records the digests it signs; the
-- read routes verify the chain (audit_verify), which reads the links.
GRANT SELECT ON audit_records TO tp_auditor;
GRANT SELECT, INSERT ON audit_chain, audit_digests TO tp_auditor;
GRANT SELECT ON audit_chain, audit_digests TO tp_api_read;

-- The lifecycle events' outbox: written by the control plane's triggers as whoever makes
-- the transition (and by redeem_activation as the schemas' owner), read and marked
-- published by the publisher, which touches nothing else.
GRANT INSERT ON event_outbox TO tp_api_write, tp_provisioner, tp_upgrader, tp_reconciler, tp_tenant_owner;
GRANT SELECT, UPDATE (published_at) ON event_outbox TO tp_publisher;

GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO tp_api_write, tp_provisioner, tp_upgrader, tp_reconciler, tp_tenant_owner;

-- The public activation route reaches one thing: the three functions below. They run as the
-- tenant schemas' owner, which reads of the control plane only what they need.
GRANT SELECT (id, status, schema_name, name, slug, admin_email, admin_first_name, admin_last_name) ON tenants TO tp_tenant_owner;

-- activation_pending answers, for a tenant and the SHA-256 of an activation token, the
-- words a new password must not be built from (the tenant's name and slug, the admin's
-- e-mail and name),
-- when the token is the tenant's admin's unexpired one, and no row otherwise: a caller
-- without a valid token learns nothing.
-- (Dropped first: CREATE OR REPLACE cannot change the columns a function returns.)
DROP FUNCTION IF EXISTS activation_pending(uuid, bytea);
CREATE FUNCTION activation_pending(p_tenant uuid, p_token_hash bytea)
RETURNS TABLE (tenant_name text, tenant_slug text, admin_email text, admin_first_name text, admin_last_name text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s text;
BEGIN
    SELECT t.schema_name INTO s FROM public.tenants t
     WHERE t.id = p_tenant AND t.status = 'ACTIVE' AND t.schema_name IS NOT NULL;
    IF s IS NULL OR to_regclass(format('%I.users', s)) IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY EXECUTE format(
        'SELECT t.name, t.slug, t.admin_email, t.admin_first_name, t.admin_last_name FROM public.tenants t
          WHERE t.id = $1 AND EXISTS (SELECT 1 FROM %I.users
                WHERE activation_token_hash = $2 AND status = ''PENDING_ACTIVATION'' AND activation_expires_at > now())', s)
        USING p_tenant, p_token_hash;
END
$$;

-- redeem_activation sets the password (an argon2id hash) of the account whose unexpired
-- token this is, consumes the token and audits it, and returns the user's id; NULL when
-- the token is not (or no longer) valid, so of two concurrent redemptions one wins. It
-- serves every tenant schema version in the fleet: password_changed_at is set where the
-- schema has it (tenant migration 3 added it).
CREATE OR REPLACE FUNCTION redeem_activation(p_tenant uuid, p_token_hash bytea, p_password_hash text)
RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s   text;
    set_changed text := '';
    uid uuid;
BEGIN
    IF p_password_hash NOT LIKE '$argon2id$%' THEN
        RAISE EXCEPTION 'not an argon2id hash' USING ERRCODE = 'check_violation';
    END IF;
    SELECT t.schema_name INTO s FROM public.tenants t
     WHERE t.id = p_tenant AND t.status = 'ACTIVE' AND t.schema_name IS NOT NULL;
    IF s IS NULL OR to_regclass(format('%I.users', s)) IS NULL THEN
        RETURN NULL;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_attribute
                WHERE attrelid = format('%I.users', s)::regclass AND attname = 'password_changed_at' AND NOT attisdropped) THEN
        set_changed := ', password_changed_at = now()';
    END IF;
    EXECUTE format(
        'UPDATE %I.users SET password_hash = $2, status = ''ACTIVE'', activated_at = now()%s,
                activation_token_hash = NULL, activation_expires_at = NULL, updated_at = now()
          WHERE activation_token_hash = $1 AND status = ''PENDING_ACTIVATION'' AND activation_expires_at > now()
          RETURNING id', s, set_changed)
        INTO uid USING p_token_hash, p_password_hash;
    IF uid IS NULL THEN
        RETURN NULL;
    END IF;
    EXECUTE format(
        'INSERT INTO %I.audit_logs (actor, user_id, action, entity_type, entity_id, details)
         VALUES ($1::text, $1, ''user.activated'', ''user'', $1, ''{}''::jsonb)', s)
        USING uid;
    -- And in the control plane's trail, as the tenant's admin, by user id.
    INSERT INTO public.audit_records (actor, action, outcome, tenant_id, request_id, details)
    VALUES ('user:' || uid, 'activation.redeem', 'accepted', p_tenant,
            nullif(current_setting('tp.audit_request', true), ''), jsonb_build_object('userId', uid));
    -- And its lifecycle event (the outbox of migration 016), in this same transaction.
    INSERT INTO public.event_outbox (type, subject, data, request_id)
    VALUES ('com.healthstack.tenant.admin.activated', p_tenant,
            jsonb_build_object('tenantId', p_tenant, 'userId', uid),
            nullif(current_setting('tp.audit_request', true), ''));
    RETURN uid;
END
$$;

-- activation_attempt counts one attempt of a client at the activation route and answers
-- how many seconds it must wait before its next: 0 while it is within p_limit attempts in
-- the current window of p_window seconds. A client's past windows go when it comes back;
-- those of clients that never do, now and then, an hour on.
GRANT SELECT, INSERT, UPDATE, DELETE ON activation_attempts TO tp_tenant_owner;
CREATE OR REPLACE FUNCTION activation_attempt(p_client inet, p_limit integer, p_window integer)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    w timestamptz := to_timestamp(floor(extract(epoch FROM now()) / p_window) * p_window);
    n integer;
BEGIN
    IF p_limit < 1 OR p_window < 1 THEN
        RAISE EXCEPTION 'limit and window must be positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO public.activation_attempts AS a (client, window_start, attempts) VALUES (p_client, w, 1)
    ON CONFLICT (client, window_start) DO UPDATE SET attempts = a.attempts + 1
    RETURNING a.attempts INTO n;
    DELETE FROM public.activation_attempts WHERE client = p_client AND window_start < w;
    IF random() < 0.01 THEN
        DELETE FROM public.activation_attempts WHERE window_start < now() - interval '1 hour';
    END IF;
    IF n <= p_limit THEN
        RETURN 0;
    END IF;
    RETURN greatest(1, ceil(extract(epoch FROM w + make_interval(secs => p_window) - now())))::integer;
END
$$;

ALTER FUNCTION activation_pending(uuid, bytea) OWNER TO tp_tenant_owner;
ALTER FUNCTION activation_attempt(inet, integer, integer) OWNER TO tp_tenant_owner;
ALTER FUNCTION redeem_activation(uuid, bytea, text) OWNER TO tp_tenant_owner;
REVOKE EXECUTE ON FUNCTION activation_pending(uuid, bytea), redeem_activation(uuid, bytea, text),
    activation_attempt(inet, integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION activation_pending(uuid, bytea), redeem_activation(uuid, bytea, text),
    activation_attempt(inet, integer, integer) TO tp_activation;

-- Tenant schemas made before the owner role existed (by the master user) are handed to it,
-- with their tables, and their roles' default grants are made again for objects the owner
-- creates. The owner is made a member of each tenant role (with ADMIN, which PostgreSQL 16
-- needs to drop it) so a rollback's DROP OWNED and DROP ROLE work on it. Idempotent.
DO $$
DECLARE
    sch record;
    tbl record;
BEGIN
    FOR sch IN SELECT n.nspname AS name, r.rolname AS role, pg_get_userbyid(n.nspowner) AS owner
                 FROM pg_namespace n
                 LEFT JOIN pg_roles r ON r.rolname = n.nspname
                WHERE obj_description(n.oid, 'pg_namespace') LIKE 'tenant:%'
    LOOP
        CONTINUE WHEN sch.owner = 'tp_tenant_owner';
        EXECUTE format('ALTER SCHEMA %I OWNER TO tp_tenant_owner', sch.name);
        FOR tbl IN SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname = sch.name AND c.relkind IN ('r', 'p', 'v', 'm') LOOP
            EXECUTE format('ALTER TABLE %I.%I OWNER TO tp_tenant_owner', sch.name, tbl.relname);
        END LOOP;
        IF sch.role IS NOT NULL THEN
            EXECUTE format('GRANT %I TO tp_tenant_owner WITH ADMIN OPTION', sch.role);
            EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE tp_tenant_owner IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO %I', sch.name, sch.role);
            EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE tp_tenant_owner IN SCHEMA %I GRANT USAGE, SELECT ON SEQUENCES TO %I', sch.name, sch.role);
        END IF;
    END LOOP;
END
$$;
