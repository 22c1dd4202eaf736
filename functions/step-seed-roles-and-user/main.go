// Code generated from internal/catalog by `go generate ./internal/catalog`; DO NOT EDIT.

// Command step-seed-roles-and-user is the Lambda behind the state machine's SeedRolesAndUser state: it seeds the roles and the admin user, pending activation.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/audit"
	"github.com/healthstack/tenant-provisioning/internal/deadline"
	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

func main() {
	c, closePool := wiring.Pipeline("SeedRolesAndUserFunction")
	lambda.StartWithOptions(deadline.Keep(audit.As("SeedRolesAndUserFunction", c.SeedRolesAndUser)), lambda.WithEnableSIGTERM(closePool))
}
