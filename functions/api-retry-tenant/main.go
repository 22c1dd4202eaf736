// Code generated from internal/catalog by `go generate ./internal/catalog`; DO NOT EDIT.

// Command api-retry-tenant is the Lambda behind POST /admin/tenants/{id}/retry on the admin HTTP API: it re-provisions a FAILED tenant under a new execution.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/audit"
	"github.com/healthstack/tenant-provisioning/internal/deadline"
	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

func main() {
	c, closePool := wiring.API("RetryTenantFunction")
	lambda.StartWithOptions(deadline.Keep(audit.As("RetryTenantFunction", c.RetryTenant)), lambda.WithEnableSIGTERM(closePool))
}
