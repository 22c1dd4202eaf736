package api

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"github.com/healthstack/tenant-provisioning/internal/catalog"
	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/store"
)

type auditListBody struct {
	Records    []auditRecordBody `json:"records"`
	NextCursor *string           `json:"nextCursor"`
}

// auditRecordBody is one record of the trail. The trail holds ids, statuses and the
// request's facts, never an admin's e-mail or name; the actor is the caller's issuer and
// subject, a function's logical id or a tenant admin's user id.
type auditRecordBody struct {
	ID           int64           `json:"id"`
	At           time.Time       `json:"at"`
	Actor        string          `json:"actor"`
	Action       string          `json:"action"`
	Outcome      string          `json:"outcome"`
	Problem      *string         `json:"problem"`
	TenantID     *uuid.UUID      `json:"tenantId"`
	RunID        *uuid.UUID      `json:"runId"`
	RequestID    *string         `json:"requestId"`
	SourceIP     *string         `json:"sourceIp"`
	UserAgent    *string         `json:"userAgent"`
	ExecutionArn *string         `json:"executionArn"`
	Details      json.RawMessage `json:"details"`
}

// ListAudit serves GET /admin/audit?tenantId=&actor=&action=&from=&to=&limit=&cursor=,
// newest first, one keyset page at a time (see store.ListAudit).
func (h *Handler) ListAudit(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	ctx = withActor(ctx, req)
	return h.serve(ctx, req, catalog.ListAudit, func(c *call) (reply, error) {
		q, err := auditQuery(req.QueryStringParameters)
		if err != nil {
			return reply{}, err
		}
		page, err := h.store.ListAudit(ctx, q)
		if err != nil {
			return reply{}, err
		}
		body := auditListBody{Records: make([]auditRecordBody, 0, len(page.Records)), NextCursor: optional(page.NextCursor)}
		for _, r := range page.Records {
			body.Records = append(body.Records, auditRecordBody{ID: r.ID, At: r.At.UTC(), Actor: r.Actor, Action: r.Action,
				Outcome: r.Outcome, Problem: optional(r.Problem), TenantID: r.TenantID, RunID: r.RunID,
				RequestID: optional(r.RequestID), SourceIP: optional(r.SourceIP), UserAgent: optional(r.UserAgent),
				ExecutionArn: optional(r.ExecutionArn), Details: r.Details})
		}
		return reply{status: http.StatusOK, body: body}, nil
	})
}

// auditParams are the query parameters ListAudit accepts.
var auditParams = []string{"tenantId", "actor", "action", "from", "to", "limit", "cursor"}

// auditQuery reads the query string as listQuery does: an empty parameter counts as absent,
// an unknown one is refused. Times are RFC 3339 with a zone (any offset; fractions of a
// second to the microsecond, as the trail keeps them).
func auditQuery(params map[string]string) (store.AuditQuery, error) {
	q := store.AuditQuery{Actor: params["actor"], Action: params["action"], Cursor: params["cursor"]}
	var errs []fault.FieldError
	bad := func(field, msg string) { errs = append(errs, fault.FieldError{Field: field, Message: msg}) }
	if v := params["limit"]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > store.MaxAuditLimit {
			bad("limit", "must be an integer from 1 to "+strconv.Itoa(store.MaxAuditLimit))
		}
		q.Limit = n
	}
	if v := params["tenantId"]; v != "" {
		id, err := uuid.Parse(v)
		if err != nil || len(v) != 36 {
			bad("tenantId", "must be a UUID such as 0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")
		} else {
			q.TenantID = &id
		}
	}
	for _, p := range []struct {
		name string
		into *time.Time
	}{{"from", &q.From}, {"to", &q.To}} {
		v := params[p.name]
		if v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			bad(p.name, "must be an RFC 3339 time such as 2025-01-02T03:04:05Z")
			continue
		}
		*p.into = t.Truncate(time.Microsecond)
	}
	for k, v := range params {
		if v != "" && !slices.Contains(auditParams, k) {
			bad("query", "only tenantId, actor, action, from, to, limit and cursor are accepted")
			break
		}
	}
	if errs != nil {
		return q, &fault.ValidationError{Op: "parse audit query", Fields: errs}
	}
	return q, nil
}
