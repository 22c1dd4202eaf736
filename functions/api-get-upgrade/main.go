// Code generated from internal/catalog by `go generate ./internal/catalog`; DO NOT EDIT.

// Command api-get-upgrade is the Lambda behind GET /admin/upgrades/{id} on the admin HTTP API: it reads an upgrade run's counts and failed tenants.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/audit"
	"github.com/healthstack/tenant-provisioning/internal/deadline"
	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

func main() {
	c, closePool := wiring.API("GetUpgradeFunction")
	lambda.StartWithOptions(deadline.Keep(audit.As("GetUpgradeFunction", c.GetUpgrade)), lambda.WithEnableSIGTERM(closePool))
}
