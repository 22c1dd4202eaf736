package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"github.com/healthstack/tenant-provisioning/internal/catalog"
	"github.com/healthstack/tenant-provisioning/internal/fault"
)

type archivedBody struct {
	TenantID        uuid.UUID `json:"tenantId"`
	Status          string    `json:"status"` // "archived": the outcome of the request
	ArchivedAt      time.Time `json:"archivedAt"`
	AlreadyArchived bool      `json:"alreadyArchived"`
}

// ArchiveTenant serves DELETE /admin/tenants/{id}: a soft delete (see pipeline.Steps.Archive)
// that answers the same whether or not the tenant was already archived.
func (h *Handler) ArchiveTenant(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	ctx = withActor(ctx, req)
	return h.serve(ctx, req, catalog.ArchiveTenant, func(c *call) (reply, error) {
		if h.archiver == nil {
			return reply{}, &fault.ConfigError{Op: "archive tenant", Msg: "no Archiver configured"}
		}
		id, err := c.pathID()
		if err != nil {
			return reply{}, err
		}
		res, err := h.archiver.Archive(ctx, id)
		if _, ok := errors.AsType[*fault.ConflictError](err); ok {
			return reply{}, newProblem(http.StatusConflict, ProblemStillProvisioning,
				"The tenant is still being provisioned; archive it once provisioning has finished or failed.").because(err)
		}
		if err != nil {
			return reply{}, err
		}
		return reply{status: http.StatusOK, body: archivedBody{TenantID: id, Status: "archived",
			ArchivedAt: res.ArchivedAt.UTC(), AlreadyArchived: res.AlreadyArchived}}, nil
	})
}
