package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"github.com/healthstack/tenant-provisioning/internal/catalog"
	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/tenant"
)

type listBody struct {
	Total      int64         `json:"total"`
	Estimated  bool          `json:"totalIsEstimate"`
	Tenants    []summaryBody `json:"tenants"`
	NextCursor *string       `json:"nextCursor"`
}

// summaryBody is a list item. It has no admin personal data: a list is read in bulk,
// exported and cached far more readily than a single record.
type summaryBody struct {
	ID            uuid.UUID     `json:"id"`
	Name          string        `json:"name"`
	Status        tenant.Status `json:"status"`
	SchemaName    *string       `json:"schemaName"`
	SchemaVersion *int32        `json:"schemaVersion"`
	SchemaCurrent bool          `json:"schemaCurrent"`
	CreatedAt     time.Time     `json:"createdAt"`
	UpdatedAt     time.Time     `json:"updatedAt"`
}

// ListTenants serves GET /admin/tenants?limit=&cursor=&status=, newest first, one keyset
// page at a time (see store.List).
func (h *Handler) ListTenants(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	ctx = withActor(ctx, req)
	return h.serve(ctx, req, catalog.ListTenants, func(c *call) (reply, error) {
		q, err := listQuery(req.QueryStringParameters)
		if err != nil {
			return reply{}, err
		}
		page, err := h.store.List(ctx, q)
		if err != nil {
			return reply{}, err
		}
		body := listBody{Total: page.Total, Estimated: page.TotalEstimated, Tenants: make([]summaryBody, 0, len(page.Tenants)), NextCursor: optional(page.NextCursor)}
		for _, t := range page.Tenants {
			body.Tenants = append(body.Tenants, summaryBody{ID: t.ID, Name: t.Name, Status: t.Status,
				SchemaName: optional(t.SchemaName), SchemaVersion: t.SchemaVersion, SchemaCurrent: current(t.SchemaVersion),
				CreatedAt: t.CreatedAt.UTC(), UpdatedAt: t.UpdatedAt.UTC()})
		}
		return reply{status: http.StatusOK, body: body}, nil
	})
}

// listQuery reads the query string. An empty parameter counts as absent; an unknown one is
// refused, so that a misspelt filter does not silently list everything.
func listQuery(params map[string]string) (store.ListQuery, error) {
	q := store.ListQuery{Cursor: params["cursor"]}
	var errs []fault.FieldError
	if v := params["limit"]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > store.MaxListLimit {
			errs = append(errs, fault.FieldError{Field: "limit", Message: "must be an integer from 1 to " + strconv.Itoa(store.MaxListLimit)})
		}
		q.Limit = n
	}
	if v := params["status"]; v != "" {
		st, err := tenant.ParseStatus(v)
		if ve, ok := errors.AsType[*fault.ValidationError](err); ok {
			errs = append(errs, ve.Fields...)
		}
		q.Status = st
	}
	for k, v := range params {
		if v != "" && k != "limit" && k != "status" && k != "cursor" {
			errs = append(errs, fault.FieldError{Field: "query", Message: "only limit, cursor and status are accepted"})
			break
		}
	}
	if errs != nil {
		return q, &fault.ValidationError{Op: "parse list query", Fields: errs}
	}
	return q, nil
}
