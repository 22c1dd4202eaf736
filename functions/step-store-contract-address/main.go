// Command step-store-contract-address is the Lambda behind the state machine's StoreContractAddress state: it records the tenant's contract id.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

func main() {
	steps, closePool := wiring.Steps()
	lambda.StartWithOptions(steps.StoreContractAddress, lambda.WithEnableSIGTERM(closePool))
}
