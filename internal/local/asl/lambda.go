package asl

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"runtime"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"
)

// Handler is a Lambda function as aws-lambda-go's lambda.NewHandler wraps it: the same JSON
// decoding and encoding the Lambda runtime applies, so a handler behaves here as in AWS.
type Handler = lambda.Handler

// lambdaFunction splits arn:<partition>:lambda:<region>:<account>:function:<name>[:<qualifier>].
func lambdaFunction(resource string) (name, qualifier string, ok bool) {
	parts := strings.Split(resource, ":")
	if (len(parts) != 7 && len(parts) != 8) || parts[0] != "arn" || parts[2] != "lambda" || parts[5] != "function" || parts[6] == "" {
		return "", "", false
	}
	if len(parts) == 8 {
		if parts[7] == "" {
			return "", "", false
		}
		qualifier = parts[7]
	}
	return parts[6], qualifier, true
}

// resolveHandler finds the handler for a Task's Resource: the Resource itself as a key, or
// the function name of a Lambda ARN (with its qualifier first, when it has one).
func resolveHandler(handlers map[string]Handler, resource string) Handler {
	if h := handlers[resource]; h != nil {
		return h
	}
	name, qualifier, ok := lambdaFunction(resource)
	if !ok {
		return nil
	}
	if qualifier != "" {
		if h := handlers[name+":"+qualifier]; h != nil {
			return h
		}
	}
	return handlers[name]
}

// invocation is what the Lambda service hands Step Functions: the function's response or
// the error payload the Go runtime reported.
type invocation struct {
	output []byte
	err    *messages.InvokeResponse_Error
}

func invoke(ctx context.Context, h Handler, payload []byte) (res invocation) {
	defer func() {
		if v := recover(); v != nil {
			res = invocation{err: panicResponse(v, panicStack())}
		}
	}()
	out, err := h.Invoke(ctx, payload)
	if err != nil {
		return invocation{err: errorResponse(err)}
	}
	return invocation{output: out}
}

// errorResponse and panicResponse follow aws-lambda-go's lambda/errors.go: the errorType Step
// Functions matches in ErrorEquals is the reflect name of the error value, pointer
// dereferenced, package dropped, wrappers not unwrapped.
func errorResponse(err error) *messages.InvokeResponse_Error {
	if ive, ok := err.(messages.InvokeResponse_Error); ok {
		return &ive
	}
	return &messages.InvokeResponse_Error{Message: err.Error(), Type: errorType(err)}
}

func panicResponse(v any, stack []*messages.InvokeResponse_Error_StackFrame) *messages.InvokeResponse_Error {
	if ive, ok := v.(messages.InvokeResponse_Error); ok {
		return &ive
	}
	return &messages.InvokeResponse_Error{Message: fmt.Sprintf("%v", v), Type: errorType(v), StackTrace: stack}
}

func errorType(v any) string {
	t := reflect.TypeOf(v)
	if t.Kind() == reflect.Pointer {
		return t.Elem().Name()
	}
	return t.Name()
}

// lambdaCause is the Cause Step Functions shows for a failed Lambda function: the error
// payload as the runtime marshalled it.
func lambdaCause(e *messages.InvokeResponse_Error) string {
	b, err := json.Marshal(e)
	if err != nil {
		b, _ = json.Marshal(messages.InvokeResponse_Error{Type: "Runtime.SerializationError", Message: err.Error()})
	}
	return string(b)
}

var invokeFunction = reflect.TypeFor[Machine]().PkgPath() + ".invoke"

// panicStack lists the frames from the panic up to the handler's entry, formatted as
// aws-lambda-go reports them.
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
