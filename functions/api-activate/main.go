// Code generated from internal/catalog by `go generate ./internal/catalog`; DO NOT EDIT.

// Command api-activate is the Lambda behind POST /activation on the admin HTTP API, its one public route: it redeems an admin's activation link, setting their password.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/audit"
	"github.com/healthstack/tenant-provisioning/internal/deadline"
	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

func main() {
	c, closePool := wiring.API("ActivateAdminFunction")
	lambda.StartWithOptions(deadline.Keep(audit.As("ActivateAdminFunction", c.Activate)), lambda.WithEnableSIGTERM(closePool))
}
