// Code generated from internal/catalog by `go generate ./internal/catalog`; DO NOT EDIT.

// Command step-create-tenant-record is the Lambda behind the state machine's CreateTenantRecord state: it claims the reserved tenant for the execution, PENDING to PROVISIONING.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/audit"
	"github.com/healthstack/tenant-provisioning/internal/deadline"
	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

func main() {
	c, closePool := wiring.Pipeline("CreateTenantRecordFunction")
	lambda.StartWithOptions(deadline.Keep(audit.As("CreateTenantRecordFunction", c.CreateTenantRecord)), lambda.WithEnableSIGTERM(closePool))
}
