// Code generated from internal/catalog by `go generate ./internal/catalog`; DO NOT EDIT.

// Command step-store-contract-address is the Lambda behind the state machine's StoreContractAddress state: it records the tenant's contract id.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/audit"
	"github.com/healthstack/tenant-provisioning/internal/deadline"
	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

func main() {
	c, closePool := wiring.Pipeline("StoreContractAddressFunction")
	lambda.StartWithOptions(deadline.Keep(audit.As("StoreContractAddressFunction", c.StoreContractAddress)), lambda.WithEnableSIGTERM(closePool))
}
