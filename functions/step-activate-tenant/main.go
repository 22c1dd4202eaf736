// Code generated from internal/catalog by `go generate ./internal/catalog`; DO NOT EDIT.

// Command step-activate-tenant is the Lambda behind the state machine's ActivateTenant state: it marks the tenant ACTIVE.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/audit"
	"github.com/healthstack/tenant-provisioning/internal/deadline"
	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

func main() {
	c, closePool := wiring.Pipeline("ActivateTenantFunction")
	lambda.StartWithOptions(deadline.Keep(audit.As("ActivateTenantFunction", c.ActivateTenant)), lambda.WithEnableSIGTERM(closePool))
}
