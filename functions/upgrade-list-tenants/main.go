// Command upgrade-list-tenants is the Lambda behind the upgrade state machine's
// ListTenantsToUpgrade state: it hands the Distributed Map the next page of tenants behind.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

func main() {
	u, closePool := wiring.Upgrader()
	lambda.StartWithOptions(u.List, lambda.WithEnableSIGTERM(closePool))
}
