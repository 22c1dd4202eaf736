// Command api-get-upgrade is the Lambda behind GET /admin/upgrades/{id} on the admin HTTP API.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

func main() {
	h, closePool := wiring.API()
	lambda.StartWithOptions(h.GetUpgrade, lambda.WithEnableSIGTERM(closePool))
}
