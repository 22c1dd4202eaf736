package api

import (
	"context"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"github.com/healthstack/tenant-provisioning/internal/catalog"
	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/tenant"
	"github.com/healthstack/tenant-provisioning/internal/tenantdb"
)

// tenantBody is the tenant's whole record. It is the one response with the admin's personal
// data: the record itself, shown to an authenticated platform admin.
type tenantBody struct {
	ID                uuid.UUID     `json:"id"`
	Name              string        `json:"name"`
	SchemaName        *string       `json:"schemaName"`
	SchemaVersion     *int32        `json:"schemaVersion"`
	SchemaCurrent     bool          `json:"schemaCurrent"`
	Status            tenant.Status `json:"status"`
	AdminEmail        string        `json:"adminEmail"`
	AdminFirstName    string        `json:"adminFirstName"`
	AdminLastName     string        `json:"adminLastName"`
	SorobanContractID *string       `json:"sorobanContractId"`
	ExecutionArn      *string       `json:"executionArn"`
	CreatedAt         time.Time     `json:"createdAt"`
	UpdatedAt         time.Time     `json:"updatedAt"`
	CompletedAt       *time.Time    `json:"completedAt"`
	ArchivedAt        *time.Time    `json:"archivedAt"`
	ProvisioningError *string       `json:"provisioningError"`
	// CreatedBy and ArchivedBy are who the audit trail says created and archived the
	// tenant: actors (ids), never names or e-mail. Null for a tenant created, or archived,
	// before the trail existed.
	CreatedBy  *actorAtBody `json:"createdBy"`
	ArchivedBy *actorAtBody `json:"archivedBy"`
}

// actorAtBody is an actor of the audit trail and when it acted.
type actorAtBody struct {
	Actor string    `json:"actor"`
	At    time.Time `json:"at"`
}

func actorAt(a *store.ActorAt) *actorAtBody {
	if a == nil {
		return nil
	}
	return &actorAtBody{Actor: a.Actor, At: a.At.UTC()}
}

// current reports whether a recorded schema version is the newest tenant migration this
// release knows, or a later release's: an admin finds the tenants behind (false) before or
// after an upgrade.
func current(v *int32) bool { return v != nil && *v >= tenantdb.LatestVersion() }

// GetTenant serves GET /admin/tenants/{id}.
func (h *Handler) GetTenant(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	ctx = withActor(ctx, req)
	return h.serve(ctx, req, catalog.GetTenant, func(c *call) (reply, error) {
		t, err := h.pathTenant(c)
		if err != nil {
			return reply{}, err
		}
		body := tenantBody{
			ID: t.ID, Name: t.Name, SchemaName: optional(t.SchemaName), Status: t.Status,
			SchemaVersion: t.SchemaVersion, SchemaCurrent: current(t.SchemaVersion),
			AdminEmail: t.AdminEmail, AdminFirstName: t.AdminFirstName, AdminLastName: t.AdminLastName,
			SorobanContractID: optional(t.ContractID), ExecutionArn: optional(t.ExecutionArn),
			CreatedAt: t.CreatedAt.UTC(), UpdatedAt: t.UpdatedAt.UTC(),
			CompletedAt: utc(t.CompletedAt), ArchivedAt: utc(t.ArchivedAt),
		}
		trail, err := h.store.Trail(c.ctx, t.ID)
		if err != nil {
			return reply{}, err
		}
		body.CreatedBy, body.ArchivedBy = actorAt(trail.CreatedBy), actorAt(trail.ArchivedBy)
		// An error kept from an earlier failure means nothing once a tenant is, say, ARCHIVED.
		if t.Status == tenant.StatusFailed {
			body.ProvisioningError = optional(t.ProvisioningError)
		}
		return reply{status: http.StatusOK, body: body}, nil
	})
}
