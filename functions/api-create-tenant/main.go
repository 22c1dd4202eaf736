// Code generated from internal/catalog by `go generate ./internal/catalog`; DO NOT EDIT.

// Command api-create-tenant is the Lambda behind POST /admin/tenants on the admin HTTP API: it reserves the tenant and starts its provisioning execution.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/audit"
	"github.com/healthstack/tenant-provisioning/internal/deadline"
	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

func main() {
	c, closePool := wiring.API("CreateTenantFunction")
	lambda.StartWithOptions(deadline.Keep(audit.As("CreateTenantFunction", c.CreateTenant)), lambda.WithEnableSIGTERM(closePool))
}
