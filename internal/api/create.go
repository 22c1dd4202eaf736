package api

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"github.com/healthstack/tenant-provisioning/internal/catalog"
	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/tenant"
)

// maxBodyBytes bounds a registration: four short strings need far less, and the API must
// not spend memory and CPU on whatever else a caller sends.
const maxBodyBytes = 16 << 10

const (
	// StartTimeout fits the route's 15 s Lambda timeout less deadline.Reserve; the release
	// of the reservation when Step Functions does not answer is detached from the request's
	// context and fits deadline.Reserve (template_test.go holds both).
	StartTimeout   = 8 * time.Second
	ReleaseTimeout = 5 * time.Second
	// startFailedReason becomes the tenant's provisioning_error.
	startFailedReason = "could not start provisioning"
)

type createdBody struct {
	TenantID     uuid.UUID `json:"tenantId"`
	ExecutionArn string    `json:"executionArn"`
	Status       string    `json:"status"`
	StatusURL    string    `json:"statusUrl"`
	Message      string    `json:"message"`
}

// CreateTenant serves POST /admin/tenants: it validates the registration, reserves the
// tenant (PENDING, which takes the name) and starts its provisioning execution. It answers
// 202 once the execution is started; provisioning itself happens later.
func (h *Handler) CreateTenant(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	ctx = withActor(ctx, req)
	return h.serve(ctx, req, catalog.CreateTenant, func(c *call) (reply, error) {
		if h.starter == nil {
			return reply{}, &fault.ConfigError{Op: "create tenant", Msg: "no Starter configured"}
		}
		reg, err := readRegistration(req)
		if err != nil {
			return reply{}, err
		}
		t, err := h.store.Reserve(ctx, reg)
		if _, ok := errors.AsType[*fault.ConflictError](err); ok {
			return reply{}, newProblem(http.StatusConflict, ProblemNameTaken,
				"A live tenant already has this name (names are compared case-insensitively).").because(err)
		}
		if err != nil {
			return reply{}, err
		}
		c.tenantID = &t.ID
		started, err := h.start(c, t)
		if err != nil {
			return reply{}, err
		}
		msg := "Provisioning started; follow it at statusUrl."
		if started.AlreadyStarted {
			msg = "Provisioning was already started; follow it at statusUrl."
		}
		return accepted(stagePrefix(req.RawPath), t.ID, started, msg), nil
	})
}

// accepted is the 202 of a started provisioning (create, retry): the execution, the
// tenant's URL in Location (behind the request's stage prefix) and its status URL.
func accepted(prefix string, id uuid.UUID, started Started, msg string) reply {
	self := prefix + "/admin/tenants/" + id.String()
	return reply{
		status: http.StatusAccepted,
		body: createdBody{TenantID: id, ExecutionArn: started.ExecutionArn, Status: "queued",
			StatusURL: self + "/provisioning-status", Message: msg},
		header: map[string]string{"Location": self},
	}
}

// start starts the tenant's execution. When that fails the reservation is marked FAILED:
// left PENDING, it would hold the name for a tenant no execution will ever provision.
func (h *Handler) start(c *call, t tenant.Tenant) (Started, error) {
	id := t.ID
	ctx, cancel := context.WithTimeout(c.ctx, StartTimeout)
	started, err := h.starter.Start(ctx, id, t.ExecutionName())
	cancel()
	if err == nil {
		return started, nil
	}
	notStarted := unavailable(ProblemNotStarted, "Provisioning could not be started; retry after the Retry-After delay.",
		retryAfterStart).because(err)
	// Detached from the request: its deadline may be the very reason the start failed.
	ctx, cancel = context.WithTimeout(context.WithoutCancel(c.ctx), ReleaseTimeout)
	defer cancel()
	failed, ferr := h.store.FailReservation(ctx, id, startFailedReason)
	switch {
	case ferr != nil:
		h.log.ErrorContext(ctx, "reservation left PENDING after a failed start", "requestId", c.requestID,
			"tenantId", id.String(), "errorClass", fault.Name(fault.Classify("fail reservation", ferr)))
		return Started{}, notStarted
	case failed:
		return Started{}, notStarted
	}
	// No longer PENDING: an execution has claimed the tenant, so the start went through and
	// only its answer was lost. Report the execution rather than a failure.
	now, err := h.store.Get(ctx, id)
	if err != nil || now.ExecutionArn == "" {
		return Started{}, notStarted
	}
	return Started{ExecutionArn: now.ExecutionArn, AlreadyStarted: true}, nil
}

// readRegistration decodes and normalizes the body of a create request.
func readRegistration(req events.APIGatewayV2HTTPRequest) (tenant.Registration, error) {
	if !isJSON(header(req, "content-type")) {
		return tenant.Registration{}, newProblem(http.StatusUnsupportedMediaType, ProblemUnsupportedMediaType,
			"The body must be sent as application/json (UTF-8).")
	}
	body, err := requestBody(req)
	if err != nil {
		return tenant.Registration{}, err
	}
	reg, notStrings, ok := decodeRegistration(body)
	if !ok {
		return tenant.Registration{}, newProblem(http.StatusBadRequest, ProblemMalformedBody,
			"The body must be one UTF-8 JSON object with the fields name, adminEmail, adminFirstName and adminLastName, each at most once, and nothing after it.")
	}
	return validate(reg, notStrings)
}

// decodeRegistration reads one JSON object token by token rather than with Unmarshal, which
// matches keys case-insensitively and lets a repeated key silently win: here a key must be
// one of the four exactly, and appear once. A known field whose value is not a string is
// reported in notStrings. ok is false for anything else: invalid JSON or UTF-8, another
// shape, unknown or repeated keys, trailing data.
func decodeRegistration(body []byte) (reg tenant.Registration, notStrings []fault.FieldError, ok bool) {
	notStrings, ok = decodeFields(body, map[string]*string{
		"name":           &reg.Name,
		"adminEmail":     &reg.AdminEmail,
		"adminFirstName": &reg.AdminFirstName,
		"adminLastName":  &reg.AdminLastName,
	})
	return reg, notStrings, ok
}

// validate normalizes reg. Fields that were not strings are reported with whatever else is
// wrong, so that one round trip shows every problem.
func validate(reg tenant.Registration, notStrings []fault.FieldError) (tenant.Registration, error) {
	norm, err := reg.Normalize()
	if len(notStrings) == 0 {
		return norm, err
	}
	fields := notStrings
	if ve, ok := errors.AsType[*fault.ValidationError](err); ok {
		for _, f := range ve.Fields {
			if !slices.ContainsFunc(notStrings, func(n fault.FieldError) bool { return n.Field == f.Field }) {
				fields = append(fields, f)
			}
		}
	}
	return tenant.Registration{}, &fault.ValidationError{Op: "validate registration", Fields: fields}
}
