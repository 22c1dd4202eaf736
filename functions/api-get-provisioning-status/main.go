// Code generated from internal/catalog by `go generate ./internal/catalog`; DO NOT EDIT.

// Command api-get-provisioning-status is the Lambda behind GET /admin/tenants/{id}/provisioning-status on the admin HTTP API: it reads the tenant's steps and its execution.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/audit"
	"github.com/healthstack/tenant-provisioning/internal/deadline"
	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

func main() {
	c, closePool := wiring.API("GetProvisioningStatusFunction")
	lambda.StartWithOptions(deadline.Keep(audit.As("GetProvisioningStatusFunction", c.GetProvisioningStatus)), lambda.WithEnableSIGTERM(closePool))
}
