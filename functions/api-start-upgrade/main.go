// Code generated from internal/catalog by `go generate ./internal/catalog`; DO NOT EDIT.

// Command api-start-upgrade is the Lambda behind POST /admin/upgrades on the admin HTTP API: it records an upgrade run and starts its execution.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/audit"
	"github.com/healthstack/tenant-provisioning/internal/deadline"
	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

func main() {
	c, closePool := wiring.API("StartUpgradeFunction")
	lambda.StartWithOptions(deadline.Keep(audit.As("StartUpgradeFunction", c.StartUpgrade)), lambda.WithEnableSIGTERM(closePool))
}
