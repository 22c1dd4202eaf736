// Command migrate is the Lambda that brings the control plane's tables to the newest
// migration version: as a CloudFormation custom resource on every deploy, or invoked directly.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/bootstrap"
	"github.com/healthstack/tenant-provisioning/internal/migration"
)

func main() {
	log := bootstrap.Logger()
	pool, err := bootstrap.PoolFromEnv(context.Background())
	if err != nil {
		bootstrap.Exit(log, err)
	}
	lambda.StartWithOptions(migration.New(pool, log).Handle, lambda.WithEnableSIGTERM(pool.Close))
}
