package pipeline

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/healthstack/tenant-provisioning/internal/catalog"
	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/tenant"
	"github.com/healthstack/tenant-provisioning/internal/tenantdb"
)

// ArchiveResult is the outcome of archiving a tenant.
type ArchiveResult struct {
	TenantID        string    `json:"tenantId"`
	Status          string    `json:"status"`
	ArchivedAt      time.Time `json:"archivedAt"`
	AlreadyArchived bool      `json:"alreadyArchived"`
	AccessRevoked   bool      `json:"accessRevoked"`
}

// Archive soft-deletes a tenant for the admin API (it is not a pipeline step): the row and
// the schema stay for the audit trail, the status becomes ARCHIVED and the tenant's role
// loses every privilege. Archiving twice is harmless; a tenant still PENDING or
// PROVISIONING is a ConflictError, since its execution would race the archive.
func (s *Steps) Archive(ctx context.Context, id uuid.UUID) (ArchiveResult, error) {
	op := catalog.ArchiveTenant.Log
	res := ArchiveResult{TenantID: id.String(), Status: string(tenant.StatusArchived)}
	err := s.store.InTx(ctx, func(tx *store.Tx) error {
		t, err := tx.Lock(ctx, id)
		if err != nil {
			return err
		}
		switch {
		case t.Status == tenant.StatusArchived:
			res.AlreadyArchived, res.ArchivedAt = true, *t.ArchivedAt
			return nil
		case !t.Status.CanBecome(tenant.StatusArchived):
			// PENDING or PROVISIONING: its execution would race the archive.
			return &fault.ConflictError{Op: op, Msg: "tenant is still being provisioned"}
		}
		if t.SchemaName != "" {
			n, err := tenantdb.For(t)
			if err != nil {
				return err
			}
			if res.AccessRevoked, err = tenantdb.RevokeAccess(ctx, tx, n); err != nil {
				return err
			}
		}
		if res.ArchivedAt, err = tx.Archive(ctx, id); err != nil {
			return err
		}
		// The archive is logged with the provisioning steps so the tenant's history is in
		// one place; only a successful archive is, a refused one changed nothing.
		attempt, err := tx.StartStepIn(ctx, id, op)
		if err != nil {
			return err
		}
		return tx.FinishStep(ctx, attempt, store.LogCompleted, res, "")
	})
	if err != nil {
		return ArchiveResult{}, fault.FromDB(op, err)
	}
	s.log.InfoContext(ctx, "tenant archived", "tenantId", id.String(), "alreadyArchived", res.AlreadyArchived)
	return res, nil
}
