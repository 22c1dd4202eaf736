// Code generated from internal/catalog by `go generate ./internal/catalog`; DO NOT EDIT.

// Command step-deploy-soroban-contract is the Lambda behind the state machine's DeploySorobanContract state: it deploys the tenant's Soroban contract through the Stellar RPC.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/audit"
	"github.com/healthstack/tenant-provisioning/internal/deadline"
	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

func main() {
	c, closePool := wiring.Pipeline("DeploySorobanContractFunction")
	lambda.StartWithOptions(deadline.Keep(audit.As("DeploySorobanContractFunction", c.DeploySorobanContract)), lambda.WithEnableSIGTERM(closePool))
}
