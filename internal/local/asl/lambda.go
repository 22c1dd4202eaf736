package asl

import (
	"bytes"
	"context"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"

	"github.com/healthstack/tenant-provisioning/internal/local/lambdarun"
)

// Handler is a Lambda function as aws-lambda-go's lambda.NewHandler wraps it: the same JSON
// decoding and encoding the Lambda runtime applies, so a handler behaves here as in AWS. A
// Map's iterations and executions running at once call one Handler concurrently, as
// concurrent invocations each get a sandbox in AWS: build it with lambdarun.NewHandler,
// not lambda.NewHandler, whose pooled answer buffer one invocation would overwrite under
// another's caller.
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

func invoke(ctx context.Context, h Handler, payload []byte) invocation {
	out, err := lambdarun.Invoke(ctx, h, payload)
	return invocation{output: bytes.Clone(out), err: err}
}
