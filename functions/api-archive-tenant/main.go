// Command api-archive-tenant is the Lambda behind DELETE /admin/tenants/{id} on the admin HTTP API.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

func main() {
	h, closePool := wiring.API()
	lambda.StartWithOptions(h.ArchiveTenant, lambda.WithEnableSIGTERM(closePool))
}
