// Code generated from internal/catalog by `go generate ./internal/catalog`; DO NOT EDIT.

// Command api-list-audit is the Lambda behind GET /admin/audit on the admin HTTP API: it lists the audit trail, newest first, by tenant, actor, action and time.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/audit"
	"github.com/healthstack/tenant-provisioning/internal/deadline"
	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

func main() {
	c, closePool := wiring.API("ListAuditFunction")
	lambda.StartWithOptions(deadline.Keep(audit.As("ListAuditFunction", c.ListAudit)), lambda.WithEnableSIGTERM(closePool))
}
