// Command upgrade-migrate-batch is the Lambda behind the upgrade state machine's
// MigrateTenantBatch state, the Distributed Map's item processor: it migrates a batch of
// tenants, one transaction each.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

func main() {
	u, closePool := wiring.Upgrader()
	lambda.StartWithOptions(u.MigrateBatch, lambda.WithEnableSIGTERM(closePool))
}
