// Code generated from internal/catalog by `go generate ./internal/catalog`; DO NOT EDIT.

// Command api-archive-tenant is the Lambda behind DELETE /admin/tenants/{id} on the admin HTTP API: it archives the tenant.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/audit"
	"github.com/healthstack/tenant-provisioning/internal/deadline"
	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

func main() {
	c, closePool := wiring.API("ArchiveTenantFunction")
	lambda.StartWithOptions(deadline.Keep(audit.As("ArchiveTenantFunction", c.ArchiveTenant)), lambda.WithEnableSIGTERM(closePool))
}
