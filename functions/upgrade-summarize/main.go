// Code generated from internal/catalog by `go generate ./internal/catalog`; DO NOT EDIT.

// Command upgrade-summarize is the Lambda behind the upgrade state machine's SummarizeUpgrade state: it ends a run and returns its summary.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/audit"
	"github.com/healthstack/tenant-provisioning/internal/deadline"
	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

func main() {
	c, closePool := wiring.Upgrader("SummarizeUpgradeFunction")
	lambda.StartWithOptions(deadline.Keep(audit.As("SummarizeUpgradeFunction", c.Summarize)), lambda.WithEnableSIGTERM(closePool))
}
