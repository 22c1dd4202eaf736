// Package store is the control plane in PostgreSQL's public schema: the tenants table and
// the provisioning log, with the embedded migrations that create them. Every operation is a
// method: on a Store for what runs on a pool, on a Tx for what needs a transaction.
package store

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/healthstack/tenant-provisioning/internal/audit"
	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/tenant"
)

// DB is what a Store runs on: a pool, a connection or a transaction.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Store reads and writes the control plane. On a pool, each method is its own short
// statement or transaction; InTx runs several in one.
type Store struct {
	db DB
	// inTx says db is a transaction InTx opened, which holds the actor already.
	inTx bool
}

// New returns a Store on db, usually the container's pool.
func New(db DB) *Store { return &Store{db: db} }

// Tx is the store inside one transaction, which InTx opens and ends. It has every Store
// method, run in the transaction, and those that need one: row locks held until it ends,
// and the status moves made under them. It is the pgx.Tx too, so other packages' SQL (a
// tenant schema's DDL in tenantdb) commits or rolls back with the control plane's.
type Tx struct {
	pgx.Tx
	*Store
}

// InTx runs fn in a transaction (pgx.BeginFunc): committed if fn returns nil, rolled back
// otherwise, on one connection of the store's pool for its whole life. Keep network calls
// out of fn: the transaction, its row locks and its connection are held until fn returns.
// On a Tx, InTx runs fn in a savepoint.
func (s *Store) InTx(ctx context.Context, fn func(tx *Tx) error) error {
	in := func(tx pgx.Tx) error { return fn(&Tx{Tx: tx, Store: &Store{db: tx, inTx: true}}) }
	b, begins := s.db.(txBeginner)
	if s.inTx || !begins { // a nested InTx is a savepoint of a transaction that named its actor
		return pgx.BeginFunc(ctx, s.db, in)
	}
	return pgx.BeginTxFunc(ctx, b, pgx.TxOptions{BeginQuery: beginAs(ctx)}, in)
}

// txBeginner is a pool or a connection: what begins a transaction with options.
type txBeginner interface {
	BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error)
}

// beginAs is the statement that begins a transaction naming the actor and request ctx
// carries (audit.From): the control plane's triggers write them into the audit record of
// every tenant transition the transaction makes. set_config's third argument makes them
// the transaction's alone (behind RDS Proxy the session is pinned for that transaction, no
// longer). They go with BEGIN, in one simple-protocol round trip, rather than in a
// statement of their own: the trail costs onboarding no round trip per transaction. Without
// an actor it is a plain BEGIN, and the triggers record the change as unattributed.
func beginAs(ctx context.Context) string {
	a, ok := audit.From(ctx)
	if !ok {
		return "begin"
	}
	name, request, ip, agent := actorColumns(a)
	return "begin; select set_config('tp.audit_actor', " + literal(name) + ", true), set_config('tp.audit_request', " +
		literal(request) + ", true), set_config('tp.audit_source_ip', " + literal(ip) + ", true), set_config('tp.audit_user_agent', " +
		literal(agent) + ", true)"
}

// literal quotes s as an escape string constant (E'…'), which reads the same whatever
// standard_conforming_strings says: backslashes and quotes doubled. A user agent is the
// caller's to choose, so nothing of it may end the literal. NUL, which no text value can
// hold, is dropped, and bytes that are not UTF-8 (which the server would refuse, and the
// transaction with them) become U+FFFD.
func literal(s string) string {
	s = strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
	return "E'" + strings.NewReplacer(`\`, `\\`, "'", "''").Replace(s) + "'"
}

func actorColumns(a audit.Actor) (name, request, ip, agent string) {
	if a.SourceIP.IsValid() {
		ip = a.SourceIP.String()
	}
	return Truncate(a.Name, 512), Truncate(a.RequestID, 128), ip, Truncate(a.UserAgent, 512)
}

// audited runs fn, a change the triggers record, in a transaction that names ctx's actor:
// the store's own when it is in one, else a new one (when there is an actor to name).
func (s *Store) audited(ctx context.Context, fn func(DB) error) error {
	if _, ok := audit.From(ctx); !ok || s.inTx {
		return fn(s.db)
	}
	return s.InTx(ctx, func(tx *Tx) error { return fn(tx.Tx) })
}

const tenantColumns = `id, name, slug, coalesce(schema_name, ''), status, admin_email, admin_first_name,
	admin_last_name, coalesce(soroban_contract_id, ''), coalesce(execution_arn, ''),
	coalesce(provisioning_error, ''), created_at, updated_at, completed_at, archived_at, retries, schema_version`

// scanTenant reads tenantColumns, then into more the columns a query selects after them.
func scanTenant(row pgx.Row, more ...any) (tenant.Tenant, error) {
	var t tenant.Tenant
	err := row.Scan(append([]any{&t.ID, &t.Name, &t.Slug, &t.SchemaName, &t.Status, &t.AdminEmail, &t.AdminFirstName,
		&t.AdminLastName, &t.ContractID, &t.ExecutionArn, &t.ProvisioningError, &t.CreatedAt, &t.UpdatedAt,
		&t.CompletedAt, &t.ArchivedAt, &t.Retries, &t.SchemaVersion}, more...)...)
	return t, err
}

// Reserve inserts a PENDING tenant for a normalized registration. A live tenant with the
// same name (case-insensitively) makes it a ConflictError; nothing is written then.
func (s *Store) Reserve(ctx context.Context, reg tenant.Registration) (tenant.Tenant, error) {
	const op = "reserve tenant"
	id, err := tenant.NewID()
	if err != nil {
		return tenant.Tenant{}, &fault.TransientError{Op: op, Msg: "cannot generate id", Err: err}
	}
	var t tenant.Tenant
	err = s.audited(ctx, func(db DB) (err error) {
		t, err = scanTenant(db.QueryRow(ctx, `
		INSERT INTO tenants (id, name, slug, status, admin_email, admin_first_name, admin_last_name)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		RETURNING `+tenantColumns,
			id, reg.Name, tenant.Slug(reg.Name), string(tenant.StatusPending), reg.AdminEmail, reg.AdminFirstName, reg.AdminLastName))
		return err
	})
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "tenants_live_name_key" {
			return tenant.Tenant{}, &fault.ConflictError{Op: op, Msg: "a tenant with this name already exists", Err: err}
		}
		return tenant.Tenant{}, fault.FromDB(op, err)
	}
	return t, nil
}

// Get returns one tenant; a missing one is a NotFoundError.
func (s *Store) Get(ctx context.Context, id uuid.UUID) (tenant.Tenant, error) {
	t, err := scanTenant(s.db.QueryRow(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return t, &fault.NotFoundError{Op: "get tenant", Msg: "tenant not found"}
	}
	return t, fault.FromDB("get tenant", err)
}

// Lock reads a tenant and holds its row lock until the transaction ends: every step and
// the rollback lock the tenant first, so they never interleave on the same tenant.
func (tx *Tx) Lock(ctx context.Context, id uuid.UUID) (tenant.Tenant, error) {
	t, err := scanTenant(tx.QueryRow(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE id = $1 FOR UPDATE`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return t, &fault.NotFoundError{Op: "lock tenant", Msg: "tenant not found"}
	}
	return t, fault.FromDB("lock tenant", err)
}

// LockWaiting is Lock that waits at most wait for the row (lock_timeout, for the rest of
// the transaction), in one round trip: a tenant another transaction holds longer is a
// TransientError (lock_not_available).
func (tx *Tx) LockWaiting(ctx context.Context, id uuid.UUID, wait time.Duration) (tenant.Tenant, error) {
	b := &pgx.Batch{}
	b.Queue(`SELECT set_config('lock_timeout', $1, true)`, strconv.FormatInt(max(wait.Milliseconds(), 1), 10))
	row := b.Queue(`SELECT `+tenantColumns+` FROM tenants WHERE id = $1 FOR UPDATE`, id)
	var t tenant.Tenant
	var err error
	row.QueryRow(func(r pgx.Row) error { t, err = scanTenant(r); return nil })
	if berr := tx.SendBatch(ctx, b).Close(); berr != nil && err == nil {
		err = berr
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return t, &fault.NotFoundError{Op: "lock tenant", Msg: "tenant not found"}
	}
	return t, fault.FromDB("lock tenant", err)
}

// Claim moves a PENDING tenant to PROVISIONING for one execution. Like every status move,
// it expects the caller to hold the tenant's row lock (Lock) and to have checked the status.
func (tx *Tx) Claim(ctx context.Context, id uuid.UUID, executionArn, schemaName string) error {
	_, err := tx.move(ctx, "claim tenant", id, tenant.StatusProvisioning,
		`execution_arn = $4, schema_name = $5`, executionArn, schemaName)
	return err
}

// SetContract records the tenant's Soroban contract id, under the tenant's row lock.
func (tx *Tx) SetContract(ctx context.Context, id uuid.UUID, contractID string) error {
	_, err := tx.Exec(ctx, `UPDATE tenants SET soroban_contract_id = $2, updated_at = now() WHERE id = $1`, id, contractID)
	return fault.FromDB("store contract address", err)
}

// Activate marks the tenant ACTIVE and provisioning complete.
func (tx *Tx) Activate(ctx context.Context, id uuid.UUID) error {
	_, err := tx.move(ctx, "activate tenant", id, tenant.StatusActive,
		`provisioning_error = NULL, completed_at = now()`)
	return err
}

// MarkFailed marks the tenant FAILED with a sanitised error. The first recorded error is
// kept: a re-run rollback must not replace the cause with its own. The schema version is
// cleared: the rollback drops the schema in the same transaction, and a version recorded
// for it would show a schema that no longer exists.
func (tx *Tx) MarkFailed(ctx context.Context, id uuid.UUID, sanitizedErr string) error {
	_, err := tx.move(ctx, "mark tenant failed", id, tenant.StatusFailed,
		`provisioning_error = coalesce(provisioning_error, $4), completed_at = coalesce(completed_at, now()),
		schema_version = NULL`, sanitizedErr)
	return err
}

// Retry re-reserves a FAILED tenant for an admin's retry: PENDING again, its retry count
// up by one (so its next execution is <id>-r<N>, which alone may claim it), the earlier
// execution and error cleared; the log keeps every earlier attempt. A tenant in any other
// status is a ConflictError, as is a name another live tenant has taken meanwhile; a
// missing one is a NotFoundError.
func (s *Store) Retry(ctx context.Context, id uuid.UUID) (tenant.Tenant, error) {
	const op = "retry tenant"
	var t tenant.Tenant
	err := s.audited(ctx, func(db DB) (err error) {
		t, err = scanTenant(db.QueryRow(ctx, `
		UPDATE tenants SET status = $2, retries = retries + 1, execution_arn = NULL, provisioning_error = NULL,
			completed_at = NULL, updated_at = now()
		WHERE id = $1 AND status = $3
		RETURNING `+tenantColumns, id, string(tenant.StatusPending), string(tenant.StatusFailed)))
		return err
	})
	var pgErr *pgconn.PgError
	switch {
	case err == nil:
		return t, nil
	case errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "tenants_live_name_key":
		now, gerr := s.Get(ctx, id) // still FAILED: the caller tells this conflict by it
		if gerr != nil {
			return now, gerr
		}
		return now, &fault.ConflictError{Op: op, Msg: "another live tenant has this name now", Err: err}
	case !errors.Is(err, pgx.ErrNoRows):
		return t, fault.FromDB(op, err)
	}
	now, err := s.Get(ctx, id)
	if err != nil {
		return now, err
	}
	return now, &fault.ConflictError{Op: op, Msg: "tenant is " + string(now.Status) + "; only a FAILED tenant can be retried"}
}

// SetSchemaVersion records the migration version the tenant's schema is at, in the
// transaction that migrated it.
func (tx *Tx) SetSchemaVersion(ctx context.Context, id uuid.UUID, version int32) error {
	_, err := tx.Exec(ctx, `UPDATE tenants SET schema_version = $2 WHERE id = $1`, id, version)
	return fault.FromDB("record schema version", err)
}

// Archive soft-deletes the tenant.
func (tx *Tx) Archive(ctx context.Context, id uuid.UUID) (time.Time, error) {
	at, err := tx.move(ctx, "archive tenant", id, tenant.StatusArchived, `archived_at = now()`)
	if err != nil {
		return time.Time{}, err
	}
	return *at, nil
}

// move sets the tenant's status to `to`, with the further assignments in set (whose
// parameters start at $4), only from a status the lifecycle table allows (tenant.Sources),
// and returns the row's archived_at. A tenant in any other status is left as it is: that
// is an InvariantError, since every caller checked the status under the row lock first.
func (tx *Tx) move(ctx context.Context, op string, id uuid.UUID, to tenant.Status, set string, args ...any) (archivedAt *time.Time, err error) {
	var from []string
	for _, st := range tenant.Sources(to) {
		from = append(from, string(st))
	}
	err = tx.QueryRow(ctx, `
		UPDATE tenants SET status = $2, updated_at = now(), `+set+`
		WHERE id = $1 AND status = ANY($3)
		RETURNING archived_at`, append([]any{id, string(to), from}, args...)...).Scan(&archivedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, &fault.InvariantError{Op: op, Msg: "the tenant's status does not allow it to become " + string(to)}
	}
	return archivedAt, fault.FromDB(op, err)
}
