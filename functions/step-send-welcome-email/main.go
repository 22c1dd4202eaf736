// Code generated from internal/catalog by `go generate ./internal/catalog`; DO NOT EDIT.

// Command step-send-welcome-email is the Lambda behind the state machine's SendWelcomeEmail state: it issues the activation token and e-mails the admin the link.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/audit"
	"github.com/healthstack/tenant-provisioning/internal/deadline"
	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

func main() {
	c, closePool := wiring.Pipeline("SendWelcomeEmailFunction")
	lambda.StartWithOptions(deadline.Keep(audit.As("SendWelcomeEmailFunction", c.SendWelcomeEmail)), lambda.WithEnableSIGTERM(closePool))
}
