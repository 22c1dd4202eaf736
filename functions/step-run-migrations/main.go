// Command step-run-migrations is the Lambda behind the state machine's RunMigrations state: it applies the tenant migrations.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

func main() {
	steps, closePool := wiring.Steps()
	lambda.StartWithOptions(steps.RunMigrations, lambda.WithEnableSIGTERM(closePool))
}
