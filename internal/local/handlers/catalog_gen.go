// Code generated from internal/catalog by `go generate ./internal/catalog`; DO NOT EDIT.

package handlers

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/api"
	"github.com/healthstack/tenant-provisioning/internal/audit"
	"github.com/healthstack/tenant-provisioning/internal/auditchain"
	"github.com/healthstack/tenant-provisioning/internal/catalog"
	"github.com/healthstack/tenant-provisioning/internal/controlplane"
	"github.com/healthstack/tenant-provisioning/internal/deadline"
	"github.com/healthstack/tenant-provisioning/internal/local/lambdarun"
	"github.com/healthstack/tenant-provisioning/internal/outbox"
	"github.com/healthstack/tenant-provisioning/internal/pipeline"
	"github.com/healthstack/tenant-provisioning/internal/reconcile"
	"github.com/healthstack/tenant-provisioning/internal/upgrade"
)

// components are what the catalogue's functions run.
type components struct {
	pipeline     *pipeline.Steps
	api          *api.Handler
	upgrader     *upgrade.Upgrader
	reconciler   *reconcile.Reconciler
	controlplane *controlplane.Handler
	auditor      *auditchain.Sealer
	publisher    *outbox.Publisher
}

// bind maps every function's logical id to its handler on its component in c. The
// components c leaves nil give method values that served drops unused, so every
// handler must be a method with a pointer receiver.
func bind(c components) map[string]lambda.Handler {
	return map[string]lambda.Handler{
		"CreateTenantRecordFunction":    lambdarun.NewHandler(deadline.Keep(audit.As("CreateTenantRecordFunction", c.pipeline.CreateTenantRecord))),
		"CreateSchemaFunction":          lambdarun.NewHandler(deadline.Keep(audit.As("CreateSchemaFunction", c.pipeline.CreateSchema))),
		"RunMigrationsFunction":         lambdarun.NewHandler(deadline.Keep(audit.As("RunMigrationsFunction", c.pipeline.RunMigrations))),
		"SeedRolesAndUserFunction":      lambdarun.NewHandler(deadline.Keep(audit.As("SeedRolesAndUserFunction", c.pipeline.SeedRolesAndUser))),
		"DeploySorobanContractFunction": lambdarun.NewHandler(deadline.Keep(audit.As("DeploySorobanContractFunction", c.pipeline.DeploySorobanContract))),
		"StoreContractAddressFunction":  lambdarun.NewHandler(deadline.Keep(audit.As("StoreContractAddressFunction", c.pipeline.StoreContractAddress))),
		"ActivateTenantFunction":        lambdarun.NewHandler(deadline.Keep(audit.As("ActivateTenantFunction", c.pipeline.ActivateTenant))),
		"SendWelcomeEmailFunction":      lambdarun.NewHandler(deadline.Keep(audit.As("SendWelcomeEmailFunction", c.pipeline.SendWelcomeEmail))),
		"RollbackFunction":              lambdarun.NewHandler(deadline.Keep(audit.As("RollbackFunction", c.pipeline.Rollback))),
		"CreateTenantFunction":          lambdarun.NewHandler(deadline.Keep(audit.As("CreateTenantFunction", c.api.CreateTenant))),
		"ListTenantsFunction":           lambdarun.NewHandler(deadline.Keep(audit.As("ListTenantsFunction", c.api.ListTenants))),
		"GetTenantFunction":             lambdarun.NewHandler(deadline.Keep(audit.As("GetTenantFunction", c.api.GetTenant))),
		"GetProvisioningStatusFunction": lambdarun.NewHandler(deadline.Keep(audit.As("GetProvisioningStatusFunction", c.api.GetProvisioningStatus))),
		"ArchiveTenantFunction":         lambdarun.NewHandler(deadline.Keep(audit.As("ArchiveTenantFunction", c.api.ArchiveTenant))),
		"RetryTenantFunction":           lambdarun.NewHandler(deadline.Keep(audit.As("RetryTenantFunction", c.api.RetryTenant))),
		"ResendActivationEmailFunction": lambdarun.NewHandler(deadline.Keep(audit.As("ResendActivationEmailFunction", c.api.ResendActivationEmail))),
		"ActivateAdminFunction":         lambdarun.NewHandler(deadline.Keep(audit.As("ActivateAdminFunction", c.api.Activate))),
		"StartUpgradeFunction":          lambdarun.NewHandler(deadline.Keep(audit.As("StartUpgradeFunction", c.api.StartUpgrade))),
		"GetUpgradeFunction":            lambdarun.NewHandler(deadline.Keep(audit.As("GetUpgradeFunction", c.api.GetUpgrade))),
		"ListAuditFunction":             lambdarun.NewHandler(deadline.Keep(audit.As("ListAuditFunction", c.api.ListAudit))),
		"VerifyAuditTrailFunction":      lambdarun.NewHandler(deadline.Keep(audit.As("VerifyAuditTrailFunction", c.api.VerifyAudit))),
		"ListTenantsToUpgradeFunction":  lambdarun.NewHandler(deadline.Keep(audit.As("ListTenantsToUpgradeFunction", c.upgrader.List))),
		"MigrateTenantBatchFunction":    lambdarun.NewHandler(deadline.Keep(audit.As("MigrateTenantBatchFunction", c.upgrader.MigrateBatch))),
		"SummarizeUpgradeFunction":      lambdarun.NewHandler(deadline.Keep(audit.As("SummarizeUpgradeFunction", c.upgrader.Summarize))),
		"ReconcileFunction":             lambdarun.NewHandler(deadline.Keep(audit.As("ReconcileFunction", c.reconciler.Run))),
		"SealAuditFunction":             lambdarun.NewHandler(deadline.Keep(audit.As("SealAuditFunction", c.auditor.Seal))),
		"PublishEventsFunction":         lambdarun.NewHandler(deadline.Keep(audit.As("PublishEventsFunction", c.publisher.Publish))),
		"MigrateControlPlaneFunction":   lambdarun.NewHandler(deadline.Keep(audit.As("MigrateControlPlaneFunction", c.controlplane.Handle))),
	}
}

// Pipeline maps the logical ids of the functions *pipeline.Steps runs to their handlers on c.
func Pipeline(c *pipeline.Steps) map[string]lambda.Handler {
	return served(catalog.Pipeline, bind(components{pipeline: c}))
}

// API maps the logical ids of the functions *api.Handler runs to their handlers on c.
func API(c *api.Handler) map[string]lambda.Handler {
	return served(catalog.API, bind(components{api: c}))
}

// Upgrade maps the logical ids of the functions *upgrade.Upgrader runs to their handlers on c.
func Upgrade(c *upgrade.Upgrader) map[string]lambda.Handler {
	return served(catalog.Upgrader, bind(components{upgrader: c}))
}

// Reconcile maps the logical ids of the functions *reconcile.Reconciler runs to their handlers on c.
func Reconcile(c *reconcile.Reconciler) map[string]lambda.Handler {
	return served(catalog.Reconciler, bind(components{reconciler: c}))
}

// ControlPlane maps the logical ids of the functions *controlplane.Handler runs to their handlers on c.
func ControlPlane(c *controlplane.Handler) map[string]lambda.Handler {
	return served(catalog.ControlPlane, bind(components{controlplane: c}))
}

// Auditor maps the logical ids of the functions *auditchain.Sealer runs to their handlers on c.
func Auditor(c *auditchain.Sealer) map[string]lambda.Handler {
	return served(catalog.Auditor, bind(components{auditor: c}))
}

// Publisher maps the logical ids of the functions *outbox.Publisher runs to their handlers on c.
func Publisher(c *outbox.Publisher) map[string]lambda.Handler {
	return served(catalog.Publisher, bind(components{publisher: c}))
}
