// Code generated from internal/catalog by `go generate ./internal/catalog`; DO NOT EDIT.

package handlers

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/api"
	"github.com/healthstack/tenant-provisioning/internal/controlplane"
	"github.com/healthstack/tenant-provisioning/internal/pipeline"
	"github.com/healthstack/tenant-provisioning/internal/reconcile"
	"github.com/healthstack/tenant-provisioning/internal/upgrade"
)

// Pipeline maps the logical ids of the catalogue's functions that *pipeline.Steps runs to their handlers on c.
func Pipeline(c *pipeline.Steps) map[string]lambda.Handler {
	return map[string]lambda.Handler{
		"CreateTenantRecordFunction":    sandboxed(c.CreateTenantRecord),
		"CreateSchemaFunction":          sandboxed(c.CreateSchema),
		"RunMigrationsFunction":         sandboxed(c.RunMigrations),
		"SeedRolesAndUserFunction":      sandboxed(c.SeedRolesAndUser),
		"DeploySorobanContractFunction": sandboxed(c.DeploySorobanContract),
		"StoreContractAddressFunction":  sandboxed(c.StoreContractAddress),
		"ActivateTenantFunction":        sandboxed(c.ActivateTenant),
		"SendWelcomeEmailFunction":      sandboxed(c.SendWelcomeEmail),
		"RollbackFunction":              sandboxed(c.Rollback),
	}
}

// API maps the logical ids of the catalogue's functions that *api.Handler runs to their handlers on c.
func API(c *api.Handler) map[string]lambda.Handler {
	return map[string]lambda.Handler{
		"CreateTenantFunction":          sandboxed(c.CreateTenant),
		"ListTenantsFunction":           sandboxed(c.ListTenants),
		"GetTenantFunction":             sandboxed(c.GetTenant),
		"GetProvisioningStatusFunction": sandboxed(c.GetProvisioningStatus),
		"ArchiveTenantFunction":         sandboxed(c.ArchiveTenant),
		"RetryTenantFunction":           sandboxed(c.RetryTenant),
		"ResendActivationEmailFunction": sandboxed(c.ResendActivationEmail),
		"ActivateAdminFunction":         sandboxed(c.Activate),
		"StartUpgradeFunction":          sandboxed(c.StartUpgrade),
		"GetUpgradeFunction":            sandboxed(c.GetUpgrade),
	}
}

// Upgrade maps the logical ids of the catalogue's functions that *upgrade.Upgrader runs to their handlers on c.
func Upgrade(c *upgrade.Upgrader) map[string]lambda.Handler {
	return map[string]lambda.Handler{
		"ListTenantsToUpgradeFunction": sandboxed(c.List),
		"MigrateTenantBatchFunction":   sandboxed(c.MigrateBatch),
		"SummarizeUpgradeFunction":     sandboxed(c.Summarize),
	}
}

// Reconcile maps the logical ids of the catalogue's functions that *reconcile.Reconciler runs to their handlers on c.
func Reconcile(c *reconcile.Reconciler) map[string]lambda.Handler {
	return map[string]lambda.Handler{
		"ReconcileFunction": sandboxed(c.Run),
	}
}

// ControlPlane maps the logical ids of the catalogue's functions that *controlplane.Handler runs to their handlers on c.
func ControlPlane(c *controlplane.Handler) map[string]lambda.Handler {
	return map[string]lambda.Handler{
		"MigrateControlPlaneFunction": sandboxed(c.Handle),
	}
}
