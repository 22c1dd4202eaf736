// Command step-deploy-soroban-contract is the Lambda behind the state machine's DeploySorobanContract state: it deploys the tenant's Soroban contract.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

func main() {
	steps, closePool := wiring.Steps(wiring.Contracts)
	lambda.StartWithOptions(steps.DeploySorobanContract, lambda.WithEnableSIGTERM(closePool))
}
