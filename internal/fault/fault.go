// Package fault is the error taxonomy shared by every step and handler.
//
// AWS Step Functions matches a failed Lambda task by the *type name* of the error the Go
// handler returned (aws-lambda-go reports reflect's name of the value, pointer dereferenced,
// package dropped, wrappers not unwrapped). So each class here is its own type, handlers
// return the typed value itself (see Classify), and statemachine/*.asl.json matches the names.
//
// Error() text ends up in execution history and in the tenant's provisioning_error: it is
// written from constant operation names and SQLSTATE codes, never from input values, SQL or
// driver messages. The underlying cause is kept for errors.Is/As and local debugging.
package fault

import (
	"errors"
	"fmt"
	"reflect"
)

// TransientError is worth retrying: lost connections, serialization failures, deadlocks,
// timeouts, throttling. The state machine retries it with backoff.
type TransientError struct {
	Op  string // what we were doing, e.g. "create schema"
	Msg string // safe description of the cause
	Err error  // underlying cause; never part of Error()
}

func (e *TransientError) Error() string { return format(e.Op, e.Msg) }
func (e *TransientError) Unwrap() error { return e.Err }

// ValidationError means the input is wrong; retrying cannot help.
type ValidationError struct {
	Op     string
	Msg    string
	Fields []FieldError // per-field problems, for API problem details
}

// FieldError names a field and what is wrong with it. Message never repeats the value.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e *ValidationError) Error() string {
	msg := e.Msg
	if msg == "" && len(e.Fields) > 0 {
		msg = "invalid " + e.Fields[0].Field + ": " + e.Fields[0].Message
		if n := len(e.Fields) - 1; n > 0 {
			msg += fmt.Sprintf(" (and %d more)", n)
		}
	}
	return format(e.Op, msg)
}

// ConflictError means the request collides with existing state: a duplicate tenant name,
// a tenant owned by another execution, archiving a tenant that is still provisioning.
type ConflictError struct {
	Op  string
	Msg string
	Err error
}

func (e *ConflictError) Error() string { return format(e.Op, e.Msg) }
func (e *ConflictError) Unwrap() error { return e.Err }

// NotFoundError means the tenant (or another addressed thing) does not exist.
type NotFoundError struct {
	Op  string
	Msg string
}

func (e *NotFoundError) Error() string { return format(e.Op, e.Msg) }

// InvariantError means something that must hold does not: a step called in the wrong
// tenant state, a schema we would adopt that belongs to someone else, a database error
// that signals a bug rather than a passing condition. Permanent: goes straight to rollback.
type InvariantError struct {
	Op  string
	Msg string
	Err error
}

func (e *InvariantError) Error() string { return format(e.Op, e.Msg) }
func (e *InvariantError) Unwrap() error { return e.Err }

// ConfigError means the function is not configured to do its job (missing setting or
// secret). Permanent for this execution.
type ConfigError struct {
	Op string
	// Variable names the environment variable that is missing or malformed, when one is.
	Variable string
	Msg      string
	Err      error
}

func (e *ConfigError) Error() string { return format(e.Op, e.Msg) }
func (e *ConfigError) Unwrap() error { return e.Err }

func format(op, msg string) string {
	switch {
	case op == "":
		return msg
	case msg == "":
		return op
	default:
		return op + ": " + msg
	}
}

// Names lists the type name of every class, as Step Functions sees them. The state machine
// test checks that every custom ErrorEquals entry is one of these.
var Names = []string{
	Name(&TransientError{}),
	Name(&ValidationError{}),
	Name(&ConflictError{}),
	Name(&NotFoundError{}),
	Name(&InvariantError{}),
	Name(&ConfigError{}),
}

// Name returns the error name Step Functions will see for err, computed the way
// aws-lambda-go does it (lambda/errors.go): the dynamic type's name, pointer dereferenced.
// A wrapped error therefore shows up as "wrapError": use Classify before returning.
func Name(err error) string {
	t := reflect.TypeOf(err)
	if t == nil {
		return ""
	}
	if t.Kind() == reflect.Pointer {
		return t.Elem().Name()
	}
	return t.Name()
}

// Classify returns the outermost-found taxonomy error inside err so a handler returns the
// typed value itself. Anything unclassified becomes an InvariantError labelled with op:
// an error we did not anticipate is a bug, and retrying a bug only delays the rollback.
func Classify(op string, err error) error {
	if err == nil {
		return nil
	}
	if c := classified(err); c != nil {
		return c
	}
	return &InvariantError{Op: op, Msg: "unexpected error", Err: err}
}

// classified returns the first taxonomy error in err's chain, or nil.
func classified(err error) error {
	for e := err; e != nil; {
		switch e.(type) {
		case *TransientError, *ValidationError, *ConflictError, *NotFoundError, *InvariantError, *ConfigError:
			return e
		}
		switch u := e.(type) {
		case interface{ Unwrap() error }:
			e = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, inner := range u.Unwrap() {
				if c := classified(inner); c != nil {
					return c
				}
			}
			return nil
		default:
			return nil
		}
	}
	return nil
}

// IsTransient reports whether err carries a TransientError.
func IsTransient(err error) bool {
	var te *TransientError
	return errors.As(err, &te)
}

// Known returns the taxonomy error carried in err's chain, or nil when err has none.
func Known(err error) error { return classified(err) }
