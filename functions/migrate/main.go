// Command migrate is the Lambda that brings the control plane's tables to the newest
// migration version; the deployment runs it after each deploy.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/bootstrap"
	"github.com/healthstack/tenant-provisioning/internal/store"
)

func main() {
	log := bootstrap.Logger()
	pool, err := bootstrap.PoolFromEnv(context.Background())
	if err != nil {
		bootstrap.Exit(log, err)
	}
	handler := func(ctx context.Context) (store.MigrationResult, error) {
		res, err := store.Migrate(ctx, pool)
		if err == nil {
			log.InfoContext(ctx, "control plane migrated", "fromVersion", res.From, "toVersion", res.To)
		}
		return res, err
	}
	lambda.StartWithOptions(handler, lambda.WithEnableSIGTERM(pool.Close))
}
