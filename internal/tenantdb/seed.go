package tenantdb

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/healthstack/tenant-provisioning/internal/fault"
)

// Admin is the tenant's first user, as registered.
type Admin struct {
	Email     string
	FirstName string
	LastName  string
}

// defaultRoles are created in every tenant. Permissions are coarse on purpose: the tenant
// application refines them; provisioning only has to make the admin able to start.
var defaultRoles = []struct {
	name, description string
	permissions       []string
}{
	{"admin", "Full administration of the tenant", []string{"tenant:admin", "users:manage", "records:read", "records:write", "audit:read"}},
	{"user", "Works with records", []string{"records:read", "records:write"}},
	{"viewer", "Read-only access to records", []string{"records:read"}},
}

// SeedResult says what Seed created; it holds no personal data.
type SeedResult struct {
	RolesCreated int    `json:"rolesCreated"`
	AdminUserID  string `json:"adminUserId"`
	AdminCreated bool   `json:"adminCreated"`
}

const systemActor = "system:provisioning"

// Seed creates the default roles and the admin user (pending activation, no usable
// password), writing an audit_logs row for each thing it creates. Idempotent: existing
// rows are kept, and nothing that already existed is audited again.
func Seed(ctx context.Context, tx pgx.Tx, n Names, admin Admin, executionArn string) (SeedResult, error) {
	const op = "seed roles and user"
	var res SeedResult
	s := n.schemaIdent()
	details := map[string]any{"executionArn": executionArn}
	audit := func(action, entity string, id uuid.UUID, extra map[string]any) error {
		d := map[string]any{}
		for k, v := range details {
			d[k] = v
		}
		for k, v := range extra {
			d[k] = v
		}
		_, err := tx.Exec(ctx, `INSERT INTO `+s+`.audit_logs (actor, action, entity_type, entity_id, details)
			VALUES ($1, $2, $3, $4, $5::text::jsonb)`, oneShot, systemActor, action, entity, id, jsonText(d))
		return fault.FromDB(op, err)
	}

	var adminRole uuid.UUID
	for _, r := range defaultRoles {
		var id uuid.UUID
		var inserted bool
		// xmax = 0 tells a fresh insert from the conflict path, which DO UPDATE needs to
		// return the existing id without changing the row.
		err := tx.QueryRow(ctx, `INSERT INTO `+s+`.roles (name, description, permissions) VALUES ($1, $2, $3)
			ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name
			RETURNING id, (xmax = 0)`, oneShot, r.name, r.description, r.permissions).Scan(&id, &inserted)
		if err != nil {
			return res, fault.FromDB(op, err)
		}
		if inserted {
			res.RolesCreated++
			if err := audit("role.created", "role", id, map[string]any{"role": r.name}); err != nil {
				return res, err
			}
		}
		if r.name == "admin" {
			adminRole = id
		}
	}

	var userID uuid.UUID
	err := tx.QueryRow(ctx, `SELECT id FROM `+s+`.users WHERE lower(email) = lower($1)`, oneShot, admin.Email).Scan(&userID)
	switch {
	case err == nil:
		res.AdminUserID = userID.String()
		return res, nil
	case !errors.Is(err, pgx.ErrNoRows):
		return res, fault.FromDB(op, err)
	}
	hash, err := UnusablePassword() // no password until the admin activates the account
	if err != nil {
		return res, &fault.TransientError{Op: op, Msg: "cannot generate random marker", Err: err}
	}
	err = tx.QueryRow(ctx, `INSERT INTO `+s+`.users (email, first_name, last_name, password_hash, role_id, status)
		VALUES ($1, $2, $3, $4, $5, 'PENDING_ACTIVATION') RETURNING id`,
		oneShot, admin.Email, admin.FirstName, admin.LastName, hash, adminRole).Scan(&userID)
	if err != nil {
		return res, fault.FromDB(op, err)
	}
	res.AdminUserID, res.AdminCreated = userID.String(), true
	return res, audit("user.created", "user", userID, map[string]any{"role": "admin", "status": "PENDING_ACTIVATION"})
}

// jsonText is an audit row's details as JSON text, for a statement sent without preparing
// (oneShot), where pgx has no column type to encode a map by. The values are strings.
func jsonText(details map[string]any) string {
	b, _ := json.Marshal(details)
	return string(b)
}
