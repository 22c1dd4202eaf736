// Command api-resend-activation-email is the Lambda behind POST /admin/tenants/{id}/activation-email on the admin HTTP API.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

func main() {
	h, closePool := wiring.API(wiring.Email)
	lambda.StartWithOptions(h.ResendActivationEmail, lambda.WithEnableSIGTERM(closePool))
}
