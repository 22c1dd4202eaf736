// Code generated from internal/catalog by `go generate ./internal/catalog`; DO NOT EDIT.

// Command api-resend-activation-email is the Lambda behind POST /admin/tenants/{id}/activation-email on the admin HTTP API: it e-mails an ACTIVE tenant's admin a new activation link, voiding the old one.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/audit"
	"github.com/healthstack/tenant-provisioning/internal/deadline"
	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

func main() {
	c, closePool := wiring.API("ResendActivationEmailFunction")
	lambda.StartWithOptions(deadline.Keep(audit.As("ResendActivationEmailFunction", c.ResendActivationEmail)), lambda.WithEnableSIGTERM(closePool))
}
