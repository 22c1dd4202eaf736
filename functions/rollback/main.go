// Command rollback is the Lambda behind the state machine's Rollback state: it undoes a failed provisioning, marks the tenant FAILED and sends the failure notices.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

func main() {
	steps, closePool := wiring.Steps(wiring.Email)
	lambda.StartWithOptions(steps.Rollback, lambda.WithEnableSIGTERM(closePool))
}
