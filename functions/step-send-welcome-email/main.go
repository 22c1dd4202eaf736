// Command step-send-welcome-email is the Lambda behind the state machine's SendWelcomeEmail state: it issues the activation token and e-mails the admin.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

func main() {
	steps, closePool := wiring.Steps(wiring.Email)
	lambda.StartWithOptions(steps.SendWelcomeEmail, lambda.WithEnableSIGTERM(closePool))
}
