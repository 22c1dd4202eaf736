// Command step-create-tenant-record is the Lambda behind the state machine's CreateTenantRecord state: it claims the reserved tenant for the execution.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

func main() {
	steps, closePool := wiring.Steps()
	lambda.StartWithOptions(steps.CreateTenantRecord, lambda.WithEnableSIGTERM(closePool))
}
