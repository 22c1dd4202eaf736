// Command step-seed-roles-and-user is the Lambda behind the state machine's SeedRolesAndUser state: it creates the default roles and the admin user.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

func main() {
	steps, closePool := wiring.Steps()
	lambda.StartWithOptions(steps.SeedRolesAndUser, lambda.WithEnableSIGTERM(closePool))
}
