// Command step-create-schema is the Lambda behind the state machine's CreateSchema state: it creates the tenant's schema and role.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

func main() {
	steps, closePool := wiring.Steps()
	lambda.StartWithOptions(steps.CreateSchema, lambda.WithEnableSIGTERM(closePool))
}
