package tenantdb

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/store"
)

// ActivationTokenBytes is the token's entropy: 256 bits, far beyond guessing.
const ActivationTokenBytes = 32

// Activation is a freshly issued activation token. Token is the only copy of the secret:
// it goes into the welcome e-mail and nowhere else.
type Activation struct {
	UserID    uuid.UUID
	Token     string
	ExpiresAt time.Time
	// What it replaced, for WithdrawActivation.
	previousHash    []byte
	previousExpires *time.Time
}

// HashActivationToken is how a token is stored and looked up. The token is 256 random
// bits, so a fast hash is right here (unlike passwords, there is nothing to brute-force).
func HashActivationToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// IssueActivation gives the tenant's admin (pending activation) a new single-use token
// valid for ttl, replacing any earlier one: only the newest e-mailed link works. The
// issue is audited without the token.
func IssueActivation(ctx context.Context, tx pgx.Tx, n Names, adminEmail, executionArn string, ttl time.Duration) (Activation, error) {
	const op = "issue activation token"
	raw := make([]byte, ActivationTokenBytes)
	if _, err := rand.Read(raw); err != nil {
		return Activation{}, &fault.TransientError{Op: op, Msg: "cannot generate random token", Err: err}
	}
	// Microsecond precision: what PostgreSQL stores, so the value returned is the one kept.
	a := Activation{Token: base64.RawURLEncoding.EncodeToString(raw), ExpiresAt: time.Now().Add(ttl).UTC().Truncate(time.Microsecond)}
	s := n.schemaIdent()
	err := tx.QueryRow(ctx, `UPDATE `+s+`.users u
		SET activation_token_hash = $2, activation_expires_at = $3, updated_at = now()
		FROM (SELECT id, activation_token_hash, activation_expires_at FROM `+s+`.users
		      WHERE lower(email) = lower($1) AND status = 'PENDING_ACTIVATION' FOR UPDATE) old
		WHERE u.id = old.id
		RETURNING u.id, old.activation_token_hash, old.activation_expires_at`, oneShot,
		adminEmail, HashActivationToken(a.Token), a.ExpiresAt).Scan(&a.UserID, &a.previousHash, &a.previousExpires)
	if errors.Is(err, pgx.ErrNoRows) {
		return Activation{}, &fault.InvariantError{Op: op, Msg: "no admin user pending activation"}
	}
	if err != nil {
		return Activation{}, fault.FromDB(op, err)
	}
	_, err = tx.Exec(ctx, `INSERT INTO `+s+`.audit_logs (actor, user_id, action, entity_type, entity_id, details)
		VALUES ($1, $2, 'user.activation_issued', 'user', $2, $3::text::jsonb)`, oneShot,
		systemActor, a.UserID, jsonText(map[string]any{"executionArn": executionArn, "expiresAt": a.ExpiresAt.UTC().Format(time.RFC3339)}))
	return a, fault.FromDB(op, err)
}

// WithdrawActivation takes back, inside tx, an issued token whose e-mail was never sent, and
// puts back the one it replaced: the admin keeps the link they had, and no token exists
// that no one received. It changes nothing once another issue or an activation followed.
func WithdrawActivation(ctx context.Context, tx pgx.Tx, n Names, a Activation, reason string) error {
	const op = "withdraw activation token"
	s := n.schemaIdent()
	tag, err := tx.Exec(ctx, `UPDATE `+s+`.users SET activation_token_hash = $3, activation_expires_at = $4, updated_at = now()
		WHERE id = $1 AND activation_token_hash = $2 AND status = 'PENDING_ACTIVATION'`, oneShot,
		a.UserID, HashActivationToken(a.Token), a.previousHash, a.previousExpires)
	if err != nil || tag.RowsAffected() == 0 {
		return fault.FromDB(op, err)
	}
	_, err = tx.Exec(ctx, `INSERT INTO `+s+`.audit_logs (actor, user_id, action, entity_type, entity_id, details)
		VALUES ($1, $2, 'user.activation_withdrawn', 'user', $2, $3::text::jsonb)`, oneShot,
		systemActor, a.UserID, jsonText(map[string]any{"reason": reason}))
	return fault.FromDB(op, err)
}

// ErrInvalidActivation means a token matches no account pending activation, or has
// expired, or was used. Callers answer every such case alike, so that an answer never tells
// which one it was.
var ErrInvalidActivation = errors.New("invalid or expired activation token")

// PendingAdmin is what activation may know of a tenant whose admin holds a valid link:
// the words the new password must not be built from.
type PendingAdmin struct {
	TenantName, TenantSlug          string
	AdminEmail, FirstName, LastName string
}

// PendingActivation answers, when token is the unexpired activation token of tenant's
// admin, the words their password must avoid; ErrInvalidActivation otherwise. It goes
// through the control plane's activation_pending function (internal/store/access.sql),
// the one read the activation route's database user may make, which runs as the schemas'
// owner: that user reads no table itself.
func PendingActivation(ctx context.Context, db store.DB, tenantID uuid.UUID, token string) (PendingAdmin, error) {
	var p PendingAdmin
	err := db.QueryRow(ctx, `SELECT tenant_name, tenant_slug, admin_email, admin_first_name, admin_last_name
		FROM activation_pending($1, $2)`, tenantID, HashActivationToken(token)).
		Scan(&p.TenantName, &p.TenantSlug, &p.AdminEmail, &p.FirstName, &p.LastName)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, ErrInvalidActivation
	}
	return p, fault.FromDB("find activation", err)
}

// Redeem activates the tenant's account whose token this is with passwordHash
// (HashPassword's), consuming the token, through the redeem_activation function (as
// PendingActivation): of two concurrent redemptions one wins, the other is
// ErrInvalidActivation. The activation is audited in the tenant's schema, without the
// token or the hash. It serves every supported schema version: password_changed_at
// (PasswordAgeVersion) is set where the schema has it.
func Redeem(ctx context.Context, db store.DB, tenantID uuid.UUID, token, passwordHash string) (uuid.UUID, error) {
	var id *uuid.UUID
	err := db.QueryRow(ctx, `SELECT redeem_activation($1, $2, $3)`,
		tenantID, HashActivationToken(token), passwordHash).Scan(&id)
	if err != nil {
		return uuid.Nil, fault.FromDB("redeem activation", err)
	}
	if id == nil {
		return uuid.Nil, ErrInvalidActivation
	}
	return *id, nil
}

// AdminPending reports whether the tenant's admin (by e-mail) is still pending activation.
func AdminPending(ctx context.Context, db store.DB, n Names, adminEmail string) (bool, error) {
	var pending bool
	err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+n.schemaIdent()+`.users
		WHERE lower(email) = lower($1) AND status = 'PENDING_ACTIVATION')`, oneShot, adminEmail).Scan(&pending)
	return pending, fault.FromDB("check admin activation", err)
}
