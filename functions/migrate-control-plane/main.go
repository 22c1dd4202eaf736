// Code generated from internal/catalog by `go generate ./internal/catalog`; DO NOT EDIT.

// Command migrate-control-plane is the Lambda a CloudFormation custom resource invokes on every deploy: it brings the control plane's tables to the newest migration, on every deploy.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/audit"
	"github.com/healthstack/tenant-provisioning/internal/deadline"
	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

func main() {
	c, closePool := wiring.ControlPlane("MigrateControlPlaneFunction")
	lambda.StartWithOptions(deadline.Keep(audit.As("MigrateControlPlaneFunction", c.Handle)), lambda.WithEnableSIGTERM(closePool))
}
