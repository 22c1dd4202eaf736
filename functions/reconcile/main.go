// Command reconcile is the Lambda the reconcile schedule invokes: it fails reservations no
// execution took and rolls back tenants whose execution ended without finishing.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

func main() {
	r, closePool := wiring.Reconciler()
	lambda.StartWithOptions(r.Run, lambda.WithEnableSIGTERM(closePool))
}
