package asl

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"sync"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"

	"github.com/healthstack/tenant-provisioning/internal/local/lambdarun"
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

// pooledHandler is the type lambda.NewHandler returns. Its Invoke answers in a buffer from
// a pool that the handler's next invocation takes again, because the runtime calls it one
// invocation at a time, as a Lambda sandbox runs them. So calls of one such handler take
// turns, and the answer is copied before the next starts: otherwise the iterations of a
// Map, or executions running at once, overwrite each other's results. Other Handlers are
// called at once.
var pooledHandler = reflect.TypeOf(lambda.NewHandler(func() error { return nil }))

var sandboxes sync.Map // pooled Handler → chan struct{}, holding a value while in use

func invoke(ctx context.Context, h Handler, payload []byte) invocation {
	if reflect.TypeOf(h) == pooledHandler {
		turn, _ := sandboxes.LoadOrStore(h, make(chan struct{}, 1))
		select {
		case turn.(chan struct{}) <- struct{}{}:
			defer func() { <-turn.(chan struct{}) }()
		case <-ctx.Done():
			// The Task's timeout or the execution's end: the caller discards this.
			return invocation{err: &messages.InvokeResponse_Error{Type: "Sandbox.Timedout", Message: ctx.Err().Error()}}
		}
	}
	out, err := lambdarun.Invoke(ctx, h, payload)
	return invocation{output: bytes.Clone(out), err: err}
}
