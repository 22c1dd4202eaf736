// Command api-retry-tenant is the Lambda behind POST /admin/tenants/{id}/retry on the admin HTTP API.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

func main() {
	h, closePool := wiring.API()
	lambda.StartWithOptions(h.RetryTenant, lambda.WithEnableSIGTERM(closePool))
}
