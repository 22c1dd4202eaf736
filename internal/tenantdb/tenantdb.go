// Package tenantdb manages one tenant's own database objects: its schema, the NOLOGIN role
// that may use only that schema, the tables inside it (migrations) and their seed data.
//
// Every identifier goes through pgx.Identifier.Sanitize; names are also checked against
// tenant.ValidSchemaName before use, so no raw input ever reaches SQL text.
package tenantdb

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/tenant"
)

// Names identifies one tenant's database objects. The role has the schema's name: both are
// unique per tenant and at most 63 bytes.
type Names struct {
	TenantID uuid.UUID
	Schema   string
}

// For returns the names of t's objects; the tenant must have been claimed.
func For(t tenant.Tenant) (Names, error) {
	if !tenant.ValidSchemaName(t.SchemaName) {
		return Names{}, &fault.InvariantError{Op: "tenant names", Msg: "tenant has no valid schema name"}
	}
	return Names{TenantID: t.ID, Schema: t.SchemaName}, nil
}

// oneShot, as a query's first argument, makes pgx send a statement that names one
// tenant's schema without preparing it first: its text is unique to the tenant, so a
// prepared statement would cost a round trip of its own, be used once or twice, and take
// a place in the connection's statement cache (and the server's memory) per tenant.
const oneShot = pgx.QueryExecModeExec

// Role is the name of the tenant's role.
func (n Names) Role() string { return n.Schema }

func (n Names) schemaIdent() string { return pgx.Identifier{n.Schema}.Sanitize() }
func (n Names) roleIdent() string   { return pgx.Identifier{n.Role()}.Sanitize() }

// owner is the comment that marks a schema or role as this tenant's. Rollback and archive
// touch only objects that carry it, so a name clash can never make us drop someone else's.
// COMMENT takes no bind parameters; the text is built from a UUID, whose string form is
// only hex digits and dashes.
func (n Names) owner() string { return "tenant:" + n.TenantID.String() }

func (n Names) ownerLiteral() string { return "'" + n.owner() + "'" }

// marker returns the ownership comment of the schema or role (kind "schema" or "role"),
// whether it exists at all.
func marker(ctx context.Context, tx pgx.Tx, kind, name string) (comment string, exists bool, err error) {
	var q string
	switch kind {
	case "schema":
		q = `SELECT coalesce(obj_description(oid, 'pg_namespace'), '') FROM pg_namespace WHERE nspname = $1`
	case "role":
		q = `SELECT coalesce(shobj_description(oid, 'pg_authid'), '') FROM pg_roles WHERE rolname = $1`
	}
	err = tx.QueryRow(ctx, q, name).Scan(&comment)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fault.FromDB("inspect "+kind, err)
	}
	return comment, true, nil
}

// CreateSchema creates the schema and the role, both the owner role's (OwnerRole), with the
// role limited to its own schema. It is idempotent; a same-named schema or role that is not
// marked as this tenant's is an InvariantError and is left alone.
func CreateSchema(ctx context.Context, tx pgx.Tx, n Names) (created bool, err error) {
	const op = "create schema"
	schemaComment, schemaExists, err := marker(ctx, tx, "schema", n.Schema)
	if err != nil {
		return false, err
	}
	roleComment, roleExists, err := marker(ctx, tx, "role", n.Role())
	if err != nil {
		return false, err
	}
	if (schemaExists && schemaComment != n.owner()) || (roleExists && roleComment != n.owner()) {
		return false, &fault.InvariantError{Op: op, Msg: "a schema or role with the tenant's name exists and belongs to someone else"}
	}
	s, r := n.schemaIdent(), n.roleIdent()
	var stmts []string
	if !schemaExists {
		// Created as the session's user, whose right it is to create schemas (the
		// provisioning steps'), for the owner, which has no such right: the other users
		// that act as the owner cannot create one.
		if _, err := tx.Exec(ctx, `CREATE SCHEMA `+s+` AUTHORIZATION `+OwnerRole); err != nil {
			return false, fault.FromDB(op, err)
		}
		stmts = append(stmts, `COMMENT ON SCHEMA `+s+` IS `+n.ownerLiteral())
	}
	if !roleExists {
		stmts = append(stmts,
			`CREATE ROLE `+r+` NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS`,
			`COMMENT ON ROLE `+r+` IS `+n.ownerLiteral(),
			// The owner holds the role's privileges, so a rollback's DROP OWNED BY works.
			`GRANT `+r+` TO `+OwnerRole)
	}
	// Grants are re-applied on every run: they are idempotent, and this repairs a role
	// that lost them.
	stmts = append(stmts,
		// Nobody but the owner and the tenant role may even look up names in the schema.
		`REVOKE ALL ON SCHEMA `+s+` FROM PUBLIC`,
		`GRANT USAGE ON SCHEMA `+s+` TO `+r,
		// Tables and sequences the owner role creates later (the migrations) are usable by
		// the tenant role; migrations narrow this per table where needed.
		`ALTER DEFAULT PRIVILEGES IN SCHEMA `+s+` GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO `+r,
		`ALTER DEFAULT PRIVILEGES IN SCHEMA `+s+` GRANT USAGE, SELECT ON SEQUENCES TO `+r,
	)
	if err := asOwner(ctx, tx, stmts...); err != nil {
		return false, fault.FromDB(op, err)
	}
	return !schemaExists || !roleExists, nil
}

// DropResult says what Drop removed.
type DropResult struct {
	SchemaDropped bool `json:"schemaDropped"`
	RoleDropped   bool `json:"roleDropped"`
}

// Drop removes the tenant's schema (with everything in it) and its role, if they exist and
// carry this tenant's marker. Objects with the name but another owner are left alone and
// reported as an InvariantError after the tenant's own objects are gone.
func Drop(ctx context.Context, tx pgx.Tx, n Names) (DropResult, error) {
	const op = "drop tenant objects"
	var res DropResult
	var foreign []string
	comment, exists, err := marker(ctx, tx, "schema", n.Schema)
	if err != nil {
		return res, err
	}
	switch {
	case exists && comment == n.owner():
		if err := asOwner(ctx, tx, `DROP SCHEMA IF EXISTS `+n.schemaIdent()+` CASCADE`); err != nil {
			return res, fault.FromDB(op, err)
		}
		res.SchemaDropped = true
	case exists:
		foreign = append(foreign, "schema")
	}
	comment, exists, err = marker(ctx, tx, "role", n.Role())
	if err != nil {
		return res, err
	}
	switch {
	case exists && comment == n.owner():
		// DROP OWNED revokes whatever the role was granted in this database (default
		// privileges included); the role owns nothing itself.
		if err := asOwner(ctx, tx, `DROP OWNED BY `+n.roleIdent(), `DROP ROLE `+n.roleIdent()); err != nil {
			return res, fault.FromDB(op, err)
		}
		res.RoleDropped = true
	case exists:
		foreign = append(foreign, "role")
	}
	if len(foreign) > 0 {
		return res, &fault.InvariantError{Op: op, Msg: "refusing to drop a " + foreign[0] + " that is not marked as the tenant's"}
	}
	return res, nil
}

// RevokeAccess takes every privilege in the tenant's schema away from its role: an archived
// tenant's data stays for the audit trail but cannot be used. Idempotent.
func RevokeAccess(ctx context.Context, tx pgx.Tx, n Names) (revoked bool, err error) {
	const op = "revoke tenant access"
	comment, schemaExists, err := marker(ctx, tx, "schema", n.Schema)
	if err != nil || !schemaExists {
		return false, err
	}
	if comment != n.owner() {
		return false, &fault.InvariantError{Op: op, Msg: "schema is not marked as the tenant's"}
	}
	if _, roleExists, err := marker(ctx, tx, "role", n.Role()); err != nil || !roleExists {
		return false, err
	}
	s, r := n.schemaIdent(), n.roleIdent()
	err = asOwner(ctx, tx,
		`REVOKE ALL ON ALL TABLES IN SCHEMA `+s+` FROM `+r,
		`REVOKE ALL ON ALL SEQUENCES IN SCHEMA `+s+` FROM `+r,
		`ALTER DEFAULT PRIVILEGES IN SCHEMA `+s+` REVOKE ALL ON TABLES FROM `+r,
		`ALTER DEFAULT PRIVILEGES IN SCHEMA `+s+` REVOKE ALL ON SEQUENCES FROM `+r,
		`REVOKE ALL ON SCHEMA `+s+` FROM `+r,
	)
	return err == nil, fault.FromDB(op, err)
}

// OwnerRole owns every tenant's schema, objects and role (internal/store/access.sql makes
// it). No one logs in as it: the users of the functions that change tenant schemas are its
// members and take it on, for the statements that create or drop, with asOwner.
const OwnerRole = "tp_tenant_owner"

// asOwner runs stmts in tx as OwnerRole, then goes back to the session's user. SET LOCAL
// lasts until the transaction ends at most: behind RDS Proxy it pins the session to its
// database connection for that transaction only.
//
// Run as the owner, what the statements create is the owner's, whichever function's user
// made it: the schema provisioning creates is altered by an upgrade and dropped by a
// rollback, which log in as other users. Roles need the owner too, as the role
// attributes CREATEROLE is one of are not inherited by members.
func asOwner(ctx context.Context, tx pgx.Tx, stmts ...string) error {
	return asOwnerDo(ctx, tx, func() error {
		for _, q := range stmts {
			if _, err := tx.Exec(ctx, q); err != nil {
				return err
			}
		}
		return nil
	})
}

// asOwnerDo is asOwner for work that is not a list of statements (the migrations).
func asOwnerDo(ctx context.Context, tx pgx.Tx, work func() error) error {
	if _, err := tx.Exec(ctx, `SET LOCAL ROLE `+OwnerRole); err != nil {
		return err
	}
	if err := work(); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `SET LOCAL ROLE NONE`)
	return err
}
