// Code generated from internal/catalog by `go generate ./internal/catalog`; DO NOT EDIT.

// Command api-get-tenant is the Lambda behind GET /admin/tenants/{id} on the admin HTTP API: it reads one tenant.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/audit"
	"github.com/healthstack/tenant-provisioning/internal/deadline"
	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

func main() {
	c, closePool := wiring.API("GetTenantFunction")
	lambda.StartWithOptions(deadline.Keep(audit.As("GetTenantFunction", c.GetTenant)), lambda.WithEnableSIGTERM(closePool))
}
