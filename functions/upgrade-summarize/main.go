// Command upgrade-summarize is the Lambda behind the upgrade state machine's
// SummarizeUpgrade state (and SummarizeFailedUpgrade, on the failure path): it ends the
// run and returns its summary.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

func main() {
	u, closePool := wiring.Upgrader()
	lambda.StartWithOptions(u.Summarize, lambda.WithEnableSIGTERM(closePool))
}
