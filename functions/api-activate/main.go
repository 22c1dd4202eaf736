// Command api-activate is the Lambda behind POST /activation on the admin HTTP API: the public route the welcome e-mail's activation link posts to.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

func main() {
	h, closePool := wiring.API()
	lambda.StartWithOptions(h.Activate, lambda.WithEnableSIGTERM(closePool))
}
