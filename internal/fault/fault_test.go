package fault

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/aws/smithy-go"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The names are the contract with the state machine's ErrorEquals: pin them.
func TestNamesAreWhatStepFunctionsSees(t *testing.T) {
	t.Parallel()
	cases := []struct {
		err  error
		want string
	}{
		{&TransientError{}, "TransientError"},
		{&ValidationError{}, "ValidationError"},
		{&ConflictError{}, "ConflictError"},
		{&NotFoundError{}, "NotFoundError"},
		{&InvariantError{}, "InvariantError"},
		{&ConfigError{}, "ConfigError"},
		// What a handler must not do: wrapping hides the class from Step Functions.
		{fmt.Errorf("step: %w", &TransientError{}), "wrapError"},
		{errors.New("plain"), "errorString"},
		{nil, ""},
	}
	for _, c := range cases {
		t.Run(c.want, func(t *testing.T) {
			t.Parallel()
			if got := Name(c.err); got != c.want {
				t.Errorf("Name(%T) = %q, want %q", c.err, got, c.want)
			}
		})
	}
	if len(Names) != 6 {
		t.Errorf("Names = %v", Names)
	}
}

func TestClassifyReturnsTheTypedValue(t *testing.T) {
	t.Parallel()
	inner := &ConflictError{Op: "reserve", Msg: "duplicate"}
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"wrapped once", fmt.Errorf("x: %w", inner), "ConflictError"},
		{"wrapped twice", fmt.Errorf("y: %w", fmt.Errorf("x: %w", inner)), "ConflictError"},
		{"joined", errors.Join(errors.New("a"), inner), "ConflictError"},
		{"unknown", errors.New("boom"), "InvariantError"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got := Classify("op", c.err)
			if Name(got) != c.want {
				t.Errorf("Classify = %s (%v), want %s", Name(got), got, c.want)
			}
		})
	}
	if Classify("op", nil) != nil {
		t.Error("Classify(nil) != nil")
	}
}

func TestFromDB(t *testing.T) {
	t.Parallel()
	pg := func(code string) error {
		return &pgconn.PgError{Code: code, Message: "duplicate key value violates unique constraint", Detail: "Key (name)=(Secret Clinic) already exists."}
	}
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"serialization failure", pg("40001"), "TransientError"},
		{"deadlock", pg("40P01"), "TransientError"},
		{"lock timeout", pg("55P03"), "TransientError"},
		{"statement timeout", pg("57014"), "TransientError"},
		{"connection failure", pg("08006"), "TransientError"},
		{"too many connections", pg("53300"), "TransientError"},
		{"admin shutdown", pg("57P01"), "TransientError"},
		{"cannot connect now", pg("57P03"), "TransientError"},
		{"password rotated", pg("28P01"), "TransientError"},
		{"unique violation", pg("23505"), "ConflictError"},
		{"syntax error is a bug", pg("42601"), "InvariantError"},
		{"permission denied is a bug", pg("42501"), "InvariantError"},
		{"no rows", pgx.ErrNoRows, "NotFoundError"},
		{"deadline", context.DeadlineExceeded, "TransientError"},
		{"cancelled", fmt.Errorf("query: %w", context.Canceled), "TransientError"},
		{"eof", io.ErrUnexpectedEOF, "TransientError"},
		{"network", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, "TransientError"},
		{"already classified", &ValidationError{Op: "v"}, "ValidationError"},
		{"unknown", errors.New("weird"), "InvariantError"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got := FromDB("create schema", c.err)
			if Name(got) != c.want {
				t.Fatalf("FromDB = %s (%v), want %s", Name(got), got, c.want)
			}
			// PostgreSQL's message and detail quote row values; they must not leak.
			if msg := got.Error(); strings.Contains(msg, "Secret Clinic") || strings.Contains(msg, "violates") {
				t.Errorf("message leaks database text: %q", msg)
			}
			if !errors.Is(got, c.err) && c.want != "NotFoundError" && c.name != "already classified" {
				t.Errorf("cause is lost: %v does not wrap %v", got, c.err)
			}
		})
	}
	if FromDB("x", nil) != nil {
		t.Error("FromDB(nil) != nil")
	}
}

func TestValidationErrorMessage(t *testing.T) {
	t.Parallel()
	err := &ValidationError{Op: "validate registration", Fields: []FieldError{
		{Field: "name", Message: "must be 3 to 255 characters"},
		{Field: "adminEmail", Message: "must be an e-mail address"},
	}}
	want := "validate registration: invalid name: must be 3 to 255 characters (and 1 more)"
	if err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
}

func TestFromAWS(t *testing.T) {
	t.Parallel()
	api := func(code string, fault smithy.ErrorFault) error {
		return &smithy.OperationError{ServiceID: "SESv2", OperationName: "SendEmail",
			Err: &smithy.GenericAPIError{Code: code, Message: "Email address not verified jane@clinic.example", Fault: fault}}
	}
	codes := map[string]Kind{"MessageRejected": KindConfig, "NotFoundException": KindNotFound, "BadRequestException": KindValidation}
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"mapped code", api("MessageRejected", smithy.FaultClient), "ConfigError"},
		{"mapped not found", api("NotFoundException", smithy.FaultClient), "NotFoundError"},
		{"mapped validation", api("BadRequestException", smithy.FaultClient), "ValidationError"},
		{"throttling", api("TooManyRequestsException", smithy.FaultClient), "TransientError"},
		{"server fault", api("SomethingBroke", smithy.FaultServer), "TransientError"},
		{"unknown client fault", api("WeirdException", smithy.FaultClient), "InvariantError"},
		{"deadline", fmt.Errorf("send: %w", context.DeadlineExceeded), "TransientError"},
		{"network", &smithy.OperationError{Err: &net.OpError{Op: "dial", Err: errors.New("refused")}}, "TransientError"},
		{"transport", &smithy.OperationError{Err: errors.New("unexpected EOF reading body")}, "TransientError"},
		{"already classified", &ConfigError{Op: "x"}, "ConfigError"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got := FromAWS("send e-mail", c.err, codes)
			if Name(got) != c.want {
				t.Fatalf("FromAWS = %s (%v), want %s", Name(got), got, c.want)
			}
			if strings.Contains(got.Error(), "jane@") {
				t.Errorf("message repeats the service's text: %q", got.Error())
			}
		})
	}
}
