// Code generated from internal/catalog by `go generate ./internal/catalog`; DO NOT EDIT.

// Command upgrade-list-tenants is the Lambda behind the upgrade state machine's ListTenantsToUpgrade state: it lists the next page of tenants behind the newest tenant migration.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/audit"
	"github.com/healthstack/tenant-provisioning/internal/deadline"
	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

func main() {
	c, closePool := wiring.Upgrader("ListTenantsToUpgradeFunction")
	lambda.StartWithOptions(deadline.Keep(audit.As("ListTenantsToUpgradeFunction", c.List)), lambda.WithEnableSIGTERM(closePool))
}
