// Code generated from internal/catalog by `go generate ./internal/catalog`; DO NOT EDIT.

// Command step-create-schema is the Lambda behind the state machine's CreateSchema state: it creates the tenant's schema and the NOLOGIN role limited to it.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/audit"
	"github.com/healthstack/tenant-provisioning/internal/deadline"
	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

func main() {
	c, closePool := wiring.Pipeline("CreateSchemaFunction")
	lambda.StartWithOptions(deadline.Keep(audit.As("CreateSchemaFunction", c.CreateSchema)), lambda.WithEnableSIGTERM(closePool))
}
