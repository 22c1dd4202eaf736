package api

import (
	"errors"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/healthstack/tenant-provisioning/internal/fault"
)

// Problem types, the RFC 9457 "type" of every error response. Clients branch on these;
// titles and details are for people.
const (
	problemBase                 = "https://tenant-provisioning.dev/problems/"
	ProblemValidation           = problemBase + "validation"
	ProblemMalformedBody        = problemBase + "malformed-body"
	ProblemUnauthenticated      = problemBase + "unauthenticated"
	ProblemInsufficientScope    = problemBase + "insufficient-scope"
	ProblemNotFound             = problemBase + "not-found"
	ProblemMethodNotAllowed     = problemBase + "method-not-allowed"
	ProblemNameTaken            = problemBase + "name-taken"
	ProblemStillProvisioning    = problemBase + "still-provisioning"
	ProblemConflict             = problemBase + "conflict"
	ProblemPayloadTooLarge      = problemBase + "payload-too-large"
	ProblemUnsupportedMediaType = problemBase + "unsupported-media-type"
	ProblemNotStarted           = problemBase + "provisioning-not-started"
	ProblemNotRetryable         = problemBase + "not-retryable"
	ProblemInvalidActivation    = problemBase + "invalid-activation"
	ProblemNotActive            = problemBase + "not-active"
	ProblemAlreadyActivated     = problemBase + "already-activated"
	ProblemTooManyAttempts      = problemBase + "too-many-attempts"
	ProblemUnavailable          = problemBase + "unavailable"
	ProblemInternal             = problemBase + "internal"
	// ProblemUpgradeRunning answers a start while another run is RUNNING.
	ProblemUpgradeRunning = problemBase + "upgrade-running"
	// ProblemUpgradeNotStarted answers a start whose execution Step Functions did not take.
	ProblemUpgradeNotStarted = problemBase + "upgrade-not-started"
)

var problemTitles = map[string]string{
	ProblemValidation:           "Invalid request",
	ProblemMalformedBody:        "Malformed request body",
	ProblemUnauthenticated:      "Authentication required",
	ProblemInsufficientScope:    "Insufficient scope",
	ProblemNotFound:             "Not found",
	ProblemMethodNotAllowed:     "Method not allowed",
	ProblemNameTaken:            "Tenant name taken",
	ProblemStillProvisioning:    "Tenant still provisioning",
	ProblemConflict:             "Conflict",
	ProblemPayloadTooLarge:      "Request body too large",
	ProblemUnsupportedMediaType: "Unsupported media type",
	ProblemNotStarted:           "Provisioning not started",
	ProblemNotRetryable:         "Tenant cannot be retried",
	ProblemInvalidActivation:    "Activation link not valid",
	ProblemNotActive:            "Tenant not active",
	ProblemAlreadyActivated:     "Account already activated",
	ProblemTooManyAttempts:      "Too many attempts",
	ProblemUnavailable:          "Service unavailable",
	ProblemInternal:             "Internal error",
	ProblemUpgradeRunning:       "Upgrade already running",
	ProblemUpgradeNotStarted:    "Upgrade not started",
}

// Retry-After values in seconds: a database blip passes quickly; Step Functions refusing
// starts (ExecutionLimitExceeded, throttling) takes open executions draining.
const (
	retryAfterTransient = "5"
	retryAfterStart     = "30"
)

// problem is the RFC 9457 body. Detail is always one of our constant sentences: never an
// error's text, SQL or a submitted value.
type problem struct {
	Type      string             `json:"type"`
	Title     string             `json:"title"`
	Status    int                `json:"status"`
	Detail    string             `json:"detail"`
	Instance  string             `json:"instance,omitempty"`
	RequestID string             `json:"requestId"`
	Errors    []fault.FieldError `json:"errors,omitempty"`
}

// problemError is a failure already decided as a response. cause, if any, is what the log
// line classifies; it never reaches the body.
type problemError struct {
	status int
	typ    string
	detail string
	fields []fault.FieldError
	header map[string]string
	cause  error
}

func (e *problemError) Error() string { return e.typ }
func (e *problemError) Unwrap() error { return e.cause }

func newProblem(status int, typ, detail string) *problemError {
	return &problemError{status: status, typ: typ, detail: detail}
}

func (e *problemError) because(err error) *problemError {
	e.cause = err
	return e
}

// problemFor maps an error to its response by fault class. Details are generic on purpose:
// a handler that can say more returns its own problemError.
func problemFor(err error) *problemError {
	if pe, ok := errors.AsType[*problemError](err); ok {
		return pe
	}
	var pe *problemError
	switch e := fault.Known(err).(type) {
	case *fault.ValidationError:
		pe = newProblem(http.StatusBadRequest, ProblemValidation, "Some fields of the request are invalid; see errors.")
		pe.fields = e.Fields
	case *fault.NotFoundError:
		pe = newProblem(http.StatusNotFound, ProblemNotFound, "No tenant has this id.")
	case *fault.ConflictError:
		pe = newProblem(http.StatusConflict, ProblemConflict, "The request conflicts with the tenant's current state.")
	case *fault.TransientError:
		pe = unavailable(ProblemUnavailable, "A backing service is briefly unavailable; retry after the Retry-After delay.", retryAfterTransient)
	default:
		pe = newProblem(http.StatusInternalServerError, ProblemInternal, "The request failed unexpectedly; quote the requestId when reporting it.")
	}
	return pe.because(err)
}

func unavailable(typ, detail, retryAfter string) *problemError {
	pe := newProblem(http.StatusServiceUnavailable, typ, detail)
	pe.header = map[string]string{"Retry-After": retryAfter}
	return pe
}

func (e *problemError) response(instance, requestID string) events.APIGatewayV2HTTPResponse {
	return respond(e.status, "application/problem+json", problem{
		Type:      e.typ,
		Title:     problemTitles[e.typ],
		Status:    e.status,
		Detail:    e.detail,
		Instance:  instance,
		RequestID: requestID,
		Errors:    e.fields,
	}, requestID, e.header)
}
