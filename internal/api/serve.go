package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"github.com/healthstack/tenant-provisioning/internal/audit"
	"github.com/healthstack/tenant-provisioning/internal/catalog"
	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/tenant"
)

// pathParamID is the tenant id's path parameter, as API Gateway's route keys name it.
const pathParamID = "id"

// routePath is the path template of a catalogue route: "/admin/tenants/{id}".
func routePath(f catalog.Function) string {
	_, path, _ := strings.Cut(f.Route, " ")
	return path
}

// instance is the request path rebuilt from the route's template: the id appears only once
// it has parsed as a UUID, so a problem never echoes what the caller put in the path.
func instance(f catalog.Function, id *uuid.UUID) string {
	if id == nil {
		return routePath(f)
	}
	return strings.Replace(routePath(f), "{id}", id.String(), 1)
}

// call is one request being served.
type call struct {
	ctx       context.Context
	req       events.APIGatewayV2HTTPRequest
	requestID string
	// tenantID is set once known, for the log line and the problem's instance.
	tenantID *uuid.UUID
	// upgradeRun is the upgrade run a request started, for its audit record.
	upgradeRun *uuid.UUID
}

// pathID parses the {id} path parameter. Only the 36-character hyphenated form is accepted
// (uuid.Parse would also take urn:uuid:, braces and bare hex), so a tenant has one URL but
// for letter case.
func (c *call) pathID() (uuid.UUID, error) {
	id, err := c.runID()
	if err == nil {
		c.tenantID = &id
	}
	return id, err
}

// pathTenant reads the tenant the {id} path parameter names.
func (h *Handler) pathTenant(c *call) (tenant.Tenant, error) {
	id, err := c.pathID()
	if err != nil {
		return tenant.Tenant{}, err
	}
	return h.store.Get(c.ctx, id)
}

// runID parses the {id} path parameter of an upgrade run's route as pathID does, without
// taking it for a tenant's.
func (c *call) runID() (uuid.UUID, error) {
	raw := c.req.PathParameters[pathParamID]
	id, err := uuid.Parse(raw)
	if err != nil || len(raw) != 36 {
		return uuid.Nil, &fault.ValidationError{Op: "parse path", Fields: []fault.FieldError{{
			Field: pathParamID, Message: "must be a UUID such as 0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
		}}}
	}
	return id, nil
}

// reply is a handler's successful answer.
type reply struct {
	status int
	body   any
	header map[string]string
}

// serve runs fn for a request to the catalogue's route f and turns its outcome into the
// response; every route goes through it, so authorization, problem mapping, headers and
// the log line are the same everywhere. The request is authorized unless f is the public
// route (the activation link's), whose activation token in the body is its only
// credential. The error is always nil: failures are responses.
func (h *Handler) serve(ctx context.Context, req events.APIGatewayV2HTTPRequest, f catalog.Function,
	fn func(c *call) (reply, error),
) (events.APIGatewayV2HTTPResponse, error) {
	began := time.Now()
	c := &call{ctx: ctx, req: req, requestID: requestID(req)}
	var rep reply
	var err error
	if !f.Public {
		err = h.authProblem(h.Authorize(req, f), f)
	}
	if err == nil {
		rep, err = fn(c)
	}
	var resp events.APIGatewayV2HTTPResponse
	if err != nil {
		resp = problemFor(err).response(instance(f, c.tenantID), c.requestID)
	} else {
		resp = respond(rep.status, "application/json", rep.body, c.requestID, rep.header)
	}
	h.logServed(ctx, f.Handler, c.requestID, c.tenantID, resp.StatusCode, err, time.Since(began))
	h.recordAction(ctx, f, c, resp.StatusCode, err)
	return resp, nil
}

// recordAction appends an audited route's request to the audit trail, as its caller's,
// with how it ended: accepted, refused (4xx, with the problem type) or failed (5xx). A
// request without an authenticated caller (401) names no one and is not recorded. The
// tenant transitions it made are recorded by the database in their own transactions;
// this record, written once the outcome is known, says who asked and what came of it. A
// trail that cannot be written is logged as an error: the request's change, if any, is in
// the trail through its transition already.
func (h *Handler) recordAction(ctx context.Context, f catalog.Function, c *call, status int, err error) {
	if f.Audit == "" {
		return
	}
	if _, ok := audit.From(ctx); !ok {
		return
	}
	a := store.Action{Action: f.Audit, Outcome: store.ActionAccepted, TenantID: c.tenantID, RunID: c.upgradeRun,
		Echo: echoes[f.Audit]}
	if err != nil {
		a.Outcome, a.Problem, a.Echo = store.ActionRefused, strings.TrimPrefix(problemFor(err).typ, problemBase), false
		if status >= http.StatusInternalServerError {
			a.Outcome = store.ActionFailed
		}
	}
	// Detached: a request that ran out of time still leaves its record.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if rerr := h.store.RecordAction(rctx, a); rerr != nil {
		h.log.ErrorContext(ctx, "audit record not written", "requestId", c.requestID, "route", f.Handler,
			"errorClass", fault.Name(rerr), "error", rerr.Error())
	}
}

// echoes are the actions whose accepted request made a tenant transition, which the
// database recorded durably in the change's own transaction with the same actor and
// request: their request's record is an echo (store.Action.Echo), and costs onboarding no
// wait for the disk (the bench measured it at 5 to 8 % of onboarding throughput).
var echoes = map[string]bool{catalog.CreateTenant.Audit: true, catalog.RetryTenant.Audit: true, catalog.ArchiveTenant.Audit: true}

// recordTimeout bounds the audit record's insert after the request's work; it fits
// deadline.Reserve with the response still to send.
const recordTimeout = 2 * time.Second

// authProblem turns Authorize's refusals of route f into 401 and 403 with the RFC 6750
// challenge, which names the least scope that would do.
func (h *Handler) authProblem(err error, f catalog.Function) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrForbidden):
		pe := newProblem(http.StatusForbidden, ProblemInsufficientScope, "The token does not grant the scope this API requires.")
		pe.header = map[string]string{"WWW-Authenticate": `Bearer error="insufficient_scope", scope="` + h.Scopes(f)[0] + `"`}
		return pe
	default:
		pe := newProblem(http.StatusUnauthorized, ProblemUnauthenticated, "A valid bearer token is required.")
		pe.header = map[string]string{"WWW-Authenticate": "Bearer"}
		return pe
	}
}

// logServed writes one line per request. It carries ids, the route and the error's class,
// never personal data: for 5xx it adds the taxonomy error's text, which by fault's contract
// holds only operation names and SQLSTATEs.
func (h *Handler) logServed(ctx context.Context, name, reqID string, tenantID *uuid.UUID, status int, err error, took time.Duration) {
	attrs := []slog.Attr{
		slog.String("requestId", reqID),
		slog.String("route", name),
		slog.Int("status", status),
		slog.Int64("durationMs", took.Milliseconds()),
	}
	if tenantID != nil {
		attrs = append(attrs, slog.String("tenantId", tenantID.String()))
	}
	level := slog.LevelInfo
	if err != nil {
		pe := problemFor(err)
		attrs = append(attrs, slog.String("problem", strings.TrimPrefix(pe.typ, problemBase)))
		known := fault.Known(err)
		switch {
		case known != nil:
			attrs = append(attrs, slog.String("errorClass", fault.Name(known)))
		case pe.cause != nil:
			attrs = append(attrs, slog.String("errorClass", fault.Name(pe.cause)))
		}
		if status >= http.StatusInternalServerError {
			level = slog.LevelError
			if known != nil {
				attrs = append(attrs, slog.String("error", known.Error()))
			}
		}
	}
	h.log.LogAttrs(ctx, level, "admin request", attrs...)
}

// requestID is API Gateway's id for the request. One that could not be a header value (a
// hand-made event) is replaced, so the response and the log still correlate.
func requestID(req events.APIGatewayV2HTTPRequest) string {
	id := req.RequestContext.RequestID
	if id == "" || len(id) > 128 || strings.ContainsFunc(id, func(r rune) bool { return r <= ' ' || r > '~' }) {
		return uuid.NewString()
	}
	return id
}

// respond renders body as JSON. Every response is tenant data or about it, hence no-store.
func respond(status int, contentType string, body any, reqID string, extra map[string]string) events.APIGatewayV2HTTPResponse {
	b, err := json.Marshal(body)
	if err != nil {
		// Our bodies are plain structs; this is a bug, and the caller still gets a problem.
		status, contentType = http.StatusInternalServerError, "application/problem+json"
		b, _ = json.Marshal(problem{Type: ProblemInternal, Title: problemTitles[ProblemInternal], Status: status,
			Detail: "The response could not be rendered.", RequestID: reqID})
		extra = nil
	}
	headers := map[string]string{
		"Content-Type":           contentType,
		"Cache-Control":          "no-store",
		"X-Content-Type-Options": "nosniff",
		"X-Request-Id":           reqID,
	}
	maps.Copy(headers, extra)
	return events.APIGatewayV2HTTPResponse{StatusCode: status, Headers: headers, Body: string(b)}
}

// utc renders database times in UTC whatever the session's time zone.
func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// optional is a text column that is empty until set, shown as null.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// withActor is ctx with the request's caller as the audit actor (audit.With), over the
// function's own: the token's subject at its issuer, with the request's id, source address
// and user agent. The public route has no token: its changes are recorded by what they do
// (a redeemed link as the tenant's admin), with the function's actor kept, and only the
// request's id added, for the audit record and the lifecycle event of what it changes.
func withActor(ctx context.Context, req events.APIGatewayV2HTTPRequest) context.Context {
	jwt, ok := caller(req)
	if !ok {
		a, _ := audit.From(ctx)
		a.RequestID = req.RequestContext.RequestID
		return audit.With(ctx, a)
	}
	return audit.With(ctx, audit.Actor{
		Name:      audit.Admin(jwt.Claims["iss"], jwt.Claims["sub"]),
		RequestID: req.RequestContext.RequestID, // as API Gateway gave it; requestID's stand-in is the response's
		SourceIP:  sourceAddr(req),
		UserAgent: req.RequestContext.HTTP.UserAgent,
	})
}
