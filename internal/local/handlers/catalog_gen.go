// Code generated from internal/catalog by `go generate ./internal/catalog`; DO NOT EDIT.

package handlers

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/api"
	"github.com/healthstack/tenant-provisioning/internal/controlplane"
	"github.com/healthstack/tenant-provisioning/internal/local/lambdarun"
	"github.com/healthstack/tenant-provisioning/internal/pipeline"
	"github.com/healthstack/tenant-provisioning/internal/reconcile"
	"github.com/healthstack/tenant-provisioning/internal/upgrade"
)

// Pipeline maps the logical ids of the catalogue's functions that *pipeline.Steps runs to their handlers on c.
func Pipeline(c *pipeline.Steps) map[string]lambda.Handler {
	return map[string]lambda.Handler{
		"CreateTenantRecordFunction":    lambdarun.NewHandler(c.CreateTenantRecord),
		"CreateSchemaFunction":          lambdarun.NewHandler(c.CreateSchema),
		"RunMigrationsFunction":         lambdarun.NewHandler(c.RunMigrations),
		"SeedRolesAndUserFunction":      lambdarun.NewHandler(c.SeedRolesAndUser),
		"DeploySorobanContractFunction": lambdarun.NewHandler(c.DeploySorobanContract),
		"StoreContractAddressFunction":  lambdarun.NewHandler(c.StoreContractAddress),
		"ActivateTenantFunction":        lambdarun.NewHandler(c.ActivateTenant),
		"SendWelcomeEmailFunction":      lambdarun.NewHandler(c.SendWelcomeEmail),
		"RollbackFunction":              lambdarun.NewHandler(c.Rollback),
	}
}

// API maps the logical ids of the catalogue's functions that *api.Handler runs to their handlers on c.
func API(c *api.Handler) map[string]lambda.Handler {
	return map[string]lambda.Handler{
		"CreateTenantFunction":          lambdarun.NewHandler(c.CreateTenant),
		"ListTenantsFunction":           lambdarun.NewHandler(c.ListTenants),
		"GetTenantFunction":             lambdarun.NewHandler(c.GetTenant),
		"GetProvisioningStatusFunction": lambdarun.NewHandler(c.GetProvisioningStatus),
		"ArchiveTenantFunction":         lambdarun.NewHandler(c.ArchiveTenant),
		"RetryTenantFunction":           lambdarun.NewHandler(c.RetryTenant),
		"ResendActivationEmailFunction": lambdarun.NewHandler(c.ResendActivationEmail),
		"ActivateAdminFunction":         lambdarun.NewHandler(c.Activate),
		"StartUpgradeFunction":          lambdarun.NewHandler(c.StartUpgrade),
		"GetUpgradeFunction":            lambdarun.NewHandler(c.GetUpgrade),
	}
}

// Upgrade maps the logical ids of the catalogue's functions that *upgrade.Upgrader runs to their handlers on c.
func Upgrade(c *upgrade.Upgrader) map[string]lambda.Handler {
	return map[string]lambda.Handler{
		"ListTenantsToUpgradeFunction": lambdarun.NewHandler(c.List),
		"MigrateTenantBatchFunction":   lambdarun.NewHandler(c.MigrateBatch),
		"SummarizeUpgradeFunction":     lambdarun.NewHandler(c.Summarize),
	}
}

// Reconcile maps the logical ids of the catalogue's functions that *reconcile.Reconciler runs to their handlers on c.
func Reconcile(c *reconcile.Reconciler) map[string]lambda.Handler {
	return map[string]lambda.Handler{
		"ReconcileFunction": lambdarun.NewHandler(c.Run),
	}
}

// ControlPlane maps the logical ids of the catalogue's functions that *controlplane.Handler runs to their handlers on c.
func ControlPlane(c *controlplane.Handler) map[string]lambda.Handler {
	return map[string]lambda.Handler{
		"MigrateControlPlaneFunction": lambdarun.NewHandler(c.Handle),
	}
}
