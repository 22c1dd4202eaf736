package fault

import (
	"context"
	"errors"
	"net"

	"github.com/aws/smithy-go"
)

// Kind is a taxonomy class, for tables that map service error codes to classes.
type Kind int

// The classes, in the order of the types above.
const (
	KindTransient Kind = iota + 1
	KindValidation
	KindConflict
	KindNotFound
	KindInvariant
	KindConfig
)

// awsTransientCodes are retryable whatever the service: throttling and the service's own
// trouble. The SDK has already retried these with backoff before we see them; Step
// Functions retries the step again later.
var awsTransientCodes = map[string]bool{
	"Throttling": true, "ThrottlingException": true, "ThrottledException": true,
	"TooManyRequestsException": true, "RequestLimitExceeded": true, "RequestThrottled": true,
	"RequestThrottledException": true, "SlowDown": true, "ProvisionedThroughputExceededException": true,
	"ServiceUnavailable": true, "ServiceUnavailableException": true, "InternalFailure": true,
	"InternalError": true, "InternalServerError": true, "InternalServiceError": true,
	"InternalServiceErrorException": true, "RequestTimeout": true, "RequestTimeoutException": true,
	"PriorRequestNotComplete": true, "EC2ThrottledException": true,
}

// FromAWS classifies an aws-sdk-go-v2 error. codes maps the service's own error codes to
// classes; throttling, server faults, timeouts and network errors are transient; anything
// else is an InvariantError. The message names the operation and the error code only:
// service messages can quote e-mail addresses or other request data.
func FromAWS(op string, err error, codes map[string]Kind) error {
	if err == nil {
		return nil
	}
	if c := classified(err); c != nil {
		return c
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		code := apiErr.ErrorCode()
		msg := "AWS error " + code
		if k, ok := codes[code]; ok {
			return newOfKind(k, op, msg, err)
		}
		if awsTransientCodes[code] || apiErr.ErrorFault() == smithy.FaultServer {
			return &TransientError{Op: op, Msg: msg, Err: err}
		}
		return &InvariantError{Op: op, Msg: msg, Err: err}
	}
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return &TransientError{Op: op, Msg: "AWS call timed out", Err: err}
	case errors.Is(err, context.Canceled):
		return &TransientError{Op: op, Msg: "AWS call cancelled", Err: err}
	case errors.As(err, &netErr):
		return &TransientError{Op: op, Msg: "AWS endpoint unreachable", Err: err}
	}
	var opErr *smithy.OperationError
	if errors.As(err, &opErr) {
		// A failure below the API layer (connection reset mid-response, a proxy's HTML error
		// page): the request may succeed when repeated.
		return &TransientError{Op: op, Msg: "AWS call failed in transport", Err: err}
	}
	return &InvariantError{Op: op, Msg: "unexpected AWS error", Err: err}
}

func newOfKind(k Kind, op, msg string, err error) error {
	switch k {
	case KindTransient:
		return &TransientError{Op: op, Msg: msg, Err: err}
	case KindValidation:
		return &ValidationError{Op: op, Msg: msg}
	case KindConflict:
		return &ConflictError{Op: op, Msg: msg, Err: err}
	case KindNotFound:
		return &NotFoundError{Op: op, Msg: msg}
	case KindConfig:
		return &ConfigError{Op: op, Msg: msg, Err: err}
	default:
		return &InvariantError{Op: op, Msg: msg, Err: err}
	}
}
