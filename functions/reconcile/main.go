// Code generated from internal/catalog by `go generate ./internal/catalog`; DO NOT EDIT.

// Command reconcile is the Lambda its schedule invokes (rate(5 minutes)): it fails reservations no execution took and rolls back tenants whose execution ended unfinished.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/audit"
	"github.com/healthstack/tenant-provisioning/internal/deadline"
	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

func main() {
	c, closePool := wiring.Reconciler("ReconcileFunction")
	lambda.StartWithOptions(deadline.Keep(audit.As("ReconcileFunction", c.Run)), lambda.WithEnableSIGTERM(closePool))
}
