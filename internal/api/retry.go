package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/healthstack/tenant-provisioning/internal/catalog"
	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/tenant"
)

// RetryTenant serves POST /admin/tenants/{id}/retry: it re-provisions a FAILED tenant. The
// tenant is reserved again (PENDING, its retry count up by one) and a new execution named
// <id>-r<N> is started; the earlier attempts stay in its log. It answers 202 as create
// does; any other status is 409, since only a FAILED tenant has nothing running on it.
func (h *Handler) RetryTenant(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	ctx = withActor(ctx, req)
	return h.serve(ctx, req, catalog.RetryTenant, func(c *call) (reply, error) {
		if h.starter == nil {
			return reply{}, &fault.ConfigError{Op: "retry tenant", Msg: "no Starter configured"}
		}
		id, err := c.pathID()
		if err != nil {
			return reply{}, err
		}
		t, err := h.store.Retry(ctx, id)
		if _, ok := errors.AsType[*fault.ConflictError](err); ok {
			detail := "Only a FAILED tenant can be retried."
			if t.Status == tenant.StatusFailed {
				detail = "Another live tenant has taken this tenant's name since it failed."
			}
			return reply{}, newProblem(http.StatusConflict, ProblemNotRetryable, detail).because(err)
		}
		if err != nil {
			return reply{}, err
		}
		started, err := h.start(c, t)
		if err != nil {
			return reply{}, err
		}
		prefix := stagePrefixOf(req.RawPath, "/admin/tenants/"+id.String()+"/retry")
		return accepted(prefix, t.ID, started, "Provisioning restarted; follow it at statusUrl."), nil
	})
}
