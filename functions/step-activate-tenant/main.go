// Command step-activate-tenant is the Lambda behind the state machine's ActivateTenant state: it marks the tenant ACTIVE.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

func main() {
	steps, closePool := wiring.Steps()
	lambda.StartWithOptions(steps.ActivateTenant, lambda.WithEnableSIGTERM(closePool))
}
