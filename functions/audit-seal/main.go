// Code generated from internal/catalog by `go generate ./internal/catalog`; DO NOT EDIT.

// Command audit-seal is the Lambda its schedule invokes (rate(15 minutes)): it links committed audit records into the hash chain and signs its head into the Object Lock bucket.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/audit"
	"github.com/healthstack/tenant-provisioning/internal/deadline"
	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

func main() {
	c, closePool := wiring.Auditor("SealAuditFunction")
	lambda.StartWithOptions(deadline.Keep(audit.As("SealAuditFunction", c.Seal)), lambda.WithEnableSIGTERM(closePool))
}
