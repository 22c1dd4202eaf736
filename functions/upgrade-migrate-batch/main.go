// Code generated from internal/catalog by `go generate ./internal/catalog`; DO NOT EDIT.

// Command upgrade-migrate-batch is the Lambda behind the upgrade state machine's MigrateTenantBatch state: it the Distributed Map's item processor: migrates a batch of tenants, one transaction each.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/audit"
	"github.com/healthstack/tenant-provisioning/internal/deadline"
	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

func main() {
	c, closePool := wiring.Upgrader("MigrateTenantBatchFunction")
	lambda.StartWithOptions(deadline.Keep(audit.As("MigrateTenantBatchFunction", c.MigrateBatch)), lambda.WithEnableSIGTERM(closePool))
}
