// Code generated from internal/catalog by `go generate ./internal/catalog`; DO NOT EDIT.

// Command api-verify-audit is the Lambda behind GET /admin/audit/verification on the admin HTTP API: it checks the audit trail's signed digests and recomputes its hash chain.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/audit"
	"github.com/healthstack/tenant-provisioning/internal/deadline"
	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

func main() {
	c, closePool := wiring.API("VerifyAuditTrailFunction")
	lambda.StartWithOptions(deadline.Keep(audit.As("VerifyAuditTrailFunction", c.VerifyAudit)), lambda.WithEnableSIGTERM(closePool))
}
