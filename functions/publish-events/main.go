// Code generated from internal/catalog by `go generate ./internal/catalog`; DO NOT EDIT.

// Command publish-events is the Lambda its schedule invokes (rate(1 minute)): it sends the lifecycle events waiting in the outbox to the event bus.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/audit"
	"github.com/healthstack/tenant-provisioning/internal/deadline"
	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

func main() {
	c, closePool := wiring.Publisher("PublishEventsFunction")
	lambda.StartWithOptions(deadline.Keep(audit.As("PublishEventsFunction", c.Publish)), lambda.WithEnableSIGTERM(closePool))
}
