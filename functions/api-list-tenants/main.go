// Code generated from internal/catalog by `go generate ./internal/catalog`; DO NOT EDIT.

// Command api-list-tenants is the Lambda behind GET /admin/tenants on the admin HTTP API: it lists tenants, newest first.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/audit"
	"github.com/healthstack/tenant-provisioning/internal/deadline"
	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

func main() {
	c, closePool := wiring.API("ListTenantsFunction")
	lambda.StartWithOptions(deadline.Keep(audit.As("ListTenantsFunction", c.ListTenants)), lambda.WithEnableSIGTERM(closePool))
}
