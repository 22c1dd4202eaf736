// Command api-create-tenant is the Lambda behind POST /admin/tenants on the admin HTTP API.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/bootstrap"
)

func main() {
	h, closePool := bootstrap.API()
	lambda.StartWithOptions(h.CreateTenant, lambda.WithEnableSIGTERM(closePool))
}
