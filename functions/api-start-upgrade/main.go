// Command api-start-upgrade is the Lambda behind POST /admin/upgrades on the admin HTTP API.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

func main() {
	h, closePool := wiring.API()
	lambda.StartWithOptions(h.StartUpgrade, lambda.WithEnableSIGTERM(closePool))
}
