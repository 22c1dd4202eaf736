// Code generated from internal/catalog by `go generate ./internal/catalog`; DO NOT EDIT.

// Command step-run-migrations is the Lambda behind the state machine's RunMigrations state: it brings the tenant's tables to the newest tenant migration.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/audit"
	"github.com/healthstack/tenant-provisioning/internal/deadline"
	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

func main() {
	c, closePool := wiring.Pipeline("RunMigrationsFunction")
	lambda.StartWithOptions(deadline.Keep(audit.As("RunMigrationsFunction", c.RunMigrations)), lambda.WithEnableSIGTERM(closePool))
}
