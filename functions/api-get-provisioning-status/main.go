// Command api-get-provisioning-status is the Lambda behind GET /admin/tenants/{id}/provisioning-status on the admin HTTP API.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

func main() {
	h, closePool := wiring.API()
	lambda.StartWithOptions(h.GetProvisioningStatus, lambda.WithEnableSIGTERM(closePool))
}
