// Command migrate-control-plane is the Lambda that brings the control plane's tables to the newest
// migration version: as a CloudFormation custom resource on every deploy, or invoked directly.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/controlplane"
	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

func main() {
	log := wiring.Logger()
	pool, err := wiring.PoolFromEnv(context.Background())
	if err != nil {
		wiring.Exit(log, err)
	}
	lambda.StartWithOptions(controlplane.New(pool, log).Handle, lambda.WithEnableSIGTERM(pool.Close))
}
