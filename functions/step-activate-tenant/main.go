// Command step-activate-tenant is the Lambda behind the state machine's ActivateTenant state: it marks the tenant ACTIVE.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/bootstrap"
)

func main() {
	steps, closePool := bootstrap.Steps()
	lambda.StartWithOptions(steps.ActivateTenant, lambda.WithEnableSIGTERM(closePool))
}
