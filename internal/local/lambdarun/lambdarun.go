// Package lambdarun runs a handler the way the Lambda Go runtime (aws-lambda-go) runs it,
// and reports a failure the way the Lambda service reports it to its caller: the error
// payload with the type name Step Functions matches in ErrorEquals. The local ASL engine
// and the local Lambda Invoke API both call functions through it.
package lambdarun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"
)

// NewHandler wraps fn as lambda.NewHandler does, afresh for every invocation, as each
// concurrent invocation of a Lambda function runs in a sandbox of its own. One
// lambda.NewHandler handler must not serve two invocations at once: it answers in a pooled
// buffer that it hands back to the pool before the caller has read it, for its next
// invocation to write into. Building the handler per invocation (a few microseconds of
// reflection) gives each its own pool, so a Map's items and concurrent executions run at
// once, as in AWS. Every handler the local runners call is built here.
func NewHandler(fn any) lambda.Handler { return sandbox{fn} }

type sandbox struct{ fn any }

func (s sandbox) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	return lambda.NewHandler(s.fn).Invoke(ctx, payload)
}

// WithTimeout gives each invocation of h the function's timeout, as Lambda does: the
// handler's context carries the deadline, and an invocation still running at it is
// answered with the error Lambda reports for a function it stopped (Sandbox.Timedout,
// "Task timed out after 25.00 seconds"), which is what Step Functions then sees. Lambda
// kills the sandbox; here the handler's goroutine is left to notice its context, so a
// test also sees what a timed-out attempt does while its retry runs.
func WithTimeout(h lambda.Handler, timeout time.Duration) lambda.Handler {
	return timed{h: h, timeout: timeout}
}

type timed struct {
	h       lambda.Handler
	timeout time.Duration
}

type answer struct {
	out []byte
	err error
}

func (t timed) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	// Cancelled when Invoke returns, not when the handler does: a cancel on the handler's
	// goroutine would race its answer in the select below, and a finished invocation would
	// now and then be answered with "context canceled".
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	done := make(chan answer, 1)
	go func() {
		// A panic on this goroutine is the handler's: it is answered as Invoke answers one.
		defer func() {
			if v := recover(); v != nil {
				done <- answer{err: *panicResponse(v, panicStack())}
			}
		}()
		out, err := t.h.Invoke(ctx, payload)
		done <- answer{out: out, err: err}
	}()
	select {
	case a := <-done:
		return a.out, a.err
	case <-ctx.Done():
		// At its deadline the function is stopped, as Lambda stops it, whatever it was
		// about to answer.
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, messages.InvokeResponse_Error{Type: "Sandbox.Timedout",
				Message: fmt.Sprintf("Task timed out after %.2f seconds", t.timeout.Seconds())}
		}
		// The caller gave up (the Task's TimeoutSeconds, or the execution stopped): its
		// answer no longer matters.
		return nil, ctx.Err()
	}
}

// Invoke runs h on payload. A returned error or a panic becomes the payload the runtime
// would have sent: errorType is the reflect name of the error value, pointer dereferenced,
// package dropped, wrappers not unwrapped (aws-lambda-go's lambda/errors.go); a panic also
// carries its stack, from the panic up to the handler's entry.
func Invoke(ctx context.Context, h lambda.Handler, payload []byte) (out []byte, fnErr *messages.InvokeResponse_Error) {
	defer func() {
		if v := recover(); v != nil {
			out, fnErr = nil, panicResponse(v, panicStack())
		}
	}()
	out, err := h.Invoke(ctx, payload)
	if err != nil {
		return nil, errorResponse(err)
	}
	return out, nil
}

// Cause is the Cause Step Functions shows for a failed Lambda function: the error payload
// as the runtime marshalled it.
func Cause(e *messages.InvokeResponse_Error) string {
	b, err := json.Marshal(e)
	if err != nil {
		b, _ = json.Marshal(messages.InvokeResponse_Error{Type: "Runtime.SerializationError", Message: err.Error()})
	}
	return string(b)
}

func errorResponse(err error) *messages.InvokeResponse_Error {
	if ive, ok := err.(messages.InvokeResponse_Error); ok {
		return &ive
	}
	return &messages.InvokeResponse_Error{Message: err.Error(), Type: typeName(err)}
}

func panicResponse(v any, stack []*messages.InvokeResponse_Error_StackFrame) *messages.InvokeResponse_Error {
	if ive, ok := v.(messages.InvokeResponse_Error); ok {
		return &ive
	}
	return &messages.InvokeResponse_Error{Message: fmt.Sprintf("%v", v), Type: typeName(v), StackTrace: stack}
}

func typeName(v any) string {
	t := reflect.TypeOf(v)
	if t.Kind() == reflect.Pointer {
		return t.Elem().Name()
	}
	return t.Name()
}

var invokeFunction = reflect.TypeFor[marker]().PkgPath() + ".Invoke"

// marker only names this package's import path for invokeFunction.
type marker struct{}

// panicStack lists the frames from the panic up to Invoke, formatted as aws-lambda-go
// reports them.
func panicStack() []*messages.InvokeResponse_Error_StackFrame {
	pcs := make([]uintptr, 64)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(1, pcs)])
	var out []*messages.InvokeResponse_Error_StackFrame
	panicking := false
	for {
		f, more := frames.Next()
		switch {
		case f.Function == invokeFunction:
			return out
		case panicking:
			out = append(out, stackFrame(f))
		case f.Function == "runtime.gopanic":
			panicking = true
		}
		if !more {
			return out
		}
	}
}

// stackFrame is aws-lambda-go's formatFrame: the path from the module root, the function
// without its package.
func stackFrame(f runtime.Frame) *messages.InvokeResponse_Error_StackFrame {
	path, label := f.File, f.Function
	i := len(path)
	for n, g := 0, strings.Count(label, "/")+2; n < g; n++ {
		if i = strings.LastIndex(path[:i], "/"); i == -1 {
			break
		}
	}
	path = path[i+1:]
	label = label[strings.LastIndex(label, "/")+1:]
	label = label[strings.Index(label, ".")+1:]
	return &messages.InvokeResponse_Error_StackFrame{Path: path, Line: int32(f.Line), Label: label}
}
