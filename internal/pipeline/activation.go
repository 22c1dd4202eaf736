package pipeline

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/google/uuid"

	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/password"
	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/tenant"
	"github.com/healthstack/tenant-provisioning/internal/tenantdb"
)

// ErrInvalidActivation is every reason an activation link does not work: no such tenant,
// a tenant not ACTIVE, a forged, used, replaced or expired token. The public route answers
// them all alike.
var ErrInvalidActivation = tenantdb.ErrInvalidActivation

// The per-client limit on the public activation route: a client (source IP) may make
// ActivationClientLimit attempts per ActivationClientWindow. An admin who mistypes a password
// a few times stays well within it; a script trying tokens or flooding the database does not.
const (
	ActivationClientLimit  = 10
	ActivationClientWindow = time.Minute
)

// AdmitActivation counts an attempt of client at the activation route and answers how long
// it must wait before trying again: 0 while it is within the per-client limit.
func (s *Steps) AdmitActivation(ctx context.Context, client netip.Addr) (time.Duration, error) {
	return s.store.ActivationAttempt(ctx, client, ActivationClientLimit, ActivationClientWindow)
}

// RedeemActivation sets the password of the tenant admin whose activation token this is
// and activates the account, once: the token is consumed. The token is checked before the
// password is hashed, so junk tokens cost a query, not an argon2id hash.
func (s *Steps) RedeemActivation(ctx context.Context, tenantID uuid.UUID, token, password string) error {
	const op = "redeem activation"
	admin, err := tenantdb.PendingActivation(ctx, s.pool, tenantID, token)
	if err != nil {
		return err
	}
	if err := checkPassword(password, admin); err != nil {
		return err
	}
	hash, err := tenantdb.HashPassword(password)
	if err != nil {
		return &fault.TransientError{Op: op, Msg: "cannot generate salt", Err: err}
	}
	// In a transaction that names the request (store.InTx), which redeem_activation writes
	// into its audit record and its lifecycle event.
	var userID uuid.UUID
	err = s.store.InTx(ctx, func(tx *store.Tx) (err error) {
		userID, err = tenantdb.Redeem(ctx, tx, tenantID, token, hash)
		return err
	})
	if err != nil {
		return err
	}
	s.log.InfoContext(ctx, "admin account activated", "tenantId", tenantID.String(), "userId", userID.String())
	return nil
}

// checkPassword holds the new password to the policy (internal/password), with the
// tenant's and its admin's own words as context. The reason is the field's message; it
// never repeats the password.
func checkPassword(p string, a tenantdb.PendingAdmin) error {
	err := password.Check(p, password.Context{OrganisationName: a.TenantName, OrganisationSlug: a.TenantSlug,
		Email: a.AdminEmail, FirstName: a.FirstName, LastName: a.LastName})
	if err != nil {
		return &fault.ValidationError{Op: "check password", Fields: []fault.FieldError{{Field: "password", Message: err.Error()}}}
	}
	return nil
}

// ActivationSent is a resent activation link's e-mail.
type ActivationSent = SendWelcomeEmailOutput

// Errors of ResendActivation a caller answers with a conflict.
var (
	ErrNotActive        = errors.New("tenant is not ACTIVE")
	ErrAlreadyActivated = errors.New("the admin account is already activated")
)

// ResendActivation e-mails the admin of an ACTIVE tenant a new activation link, which
// voids the earlier one (after a WelcomeEmailNotSent, or when the 72 h ran out). An admin
// who has activated already gets nothing: ErrAlreadyActivated; a tenant not ACTIVE is
// ErrNotActive. requestedBy (who asked, e.g. the admin API's request id) goes into the audit row.
//
// The new token is stored in one short transaction and the e-mail sent after it, with no
// transaction open while SES is called; an e-mail SES refuses leaves the old link void and
// the new one unsent (the error is transient: ask again).
func (s *Steps) ResendActivation(ctx context.Context, tenantID uuid.UUID, requestedBy string) (ActivationSent, error) {
	var w welcome
	var t tenant.Tenant
	err := s.store.InTx(ctx, func(tx *store.Tx) (err error) {
		if t, err = tx.Lock(ctx, tenantID); err != nil {
			return err
		}
		if t.Status != tenant.StatusActive {
			return ErrNotActive
		}
		n, err := tenantdb.For(t)
		if err != nil {
			return err
		}
		pending, err := tenantdb.AdminPending(ctx, tx, n, t.AdminEmail)
		if err != nil {
			return err
		}
		if !pending {
			return ErrAlreadyActivated
		}
		w, err = s.issueWelcome(ctx, tx, t, n, requestedBy)
		return err
	})
	switch {
	case errors.Is(err, ErrNotActive), errors.Is(err, ErrAlreadyActivated):
		return ActivationSent{}, err
	case err != nil:
		return ActivationSent{}, fault.FromDB("resend activation", err)
	}
	out, err := s.sendWelcome(ctx, t, w)
	if err != nil {
		return ActivationSent{}, fault.Classify("resend activation", err)
	}
	s.log.InfoContext(ctx, "activation link sent again", "tenantId", tenantID.String())
	return out, nil
}
