// Code generated from internal/catalog by `go generate ./internal/catalog`; DO NOT EDIT.

// Command rollback is the Lambda behind the state machine's Rollback state: it undoes a failed provisioning, marks the tenant FAILED and sends the failure notices.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/audit"
	"github.com/healthstack/tenant-provisioning/internal/deadline"
	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

func main() {
	c, closePool := wiring.Pipeline("RollbackFunction")
	lambda.StartWithOptions(deadline.Keep(audit.As("RollbackFunction", c.Rollback)), lambda.WithEnableSIGTERM(closePool))
}
