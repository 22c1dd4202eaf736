// Package handlers maps the catalogue's functions to their handlers, each wrapped by
// aws-lambda-go exactly as the Lambda runtime wraps it (same JSON decoding, same error
// types), so what the local runners call is what runs in AWS.
package handlers

import (
	"sort"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/api"
	"github.com/healthstack/tenant-provisioning/internal/catalog"
	"github.com/healthstack/tenant-provisioning/internal/pipeline"
	"github.com/healthstack/tenant-provisioning/internal/reconcile"
)

// API maps the admin API functions' logical ids to their handlers on h.
func API(h *api.Handler) map[string]lambda.Handler {
	return map[string]lambda.Handler{
		catalog.CreateTenant.LogicalID:          lambda.NewHandler(h.CreateTenant),
		catalog.ListTenants.LogicalID:           lambda.NewHandler(h.ListTenants),
		catalog.GetTenant.LogicalID:             lambda.NewHandler(h.GetTenant),
		catalog.GetProvisioningStatus.LogicalID: lambda.NewHandler(h.GetProvisioningStatus),
		catalog.ArchiveTenant.LogicalID:         lambda.NewHandler(h.ArchiveTenant),
		catalog.RetryTenant.LogicalID:           lambda.NewHandler(h.RetryTenant),
		catalog.ResendActivationEmail.LogicalID: lambda.NewHandler(h.ResendActivationEmail),
		catalog.Activate.LogicalID:              lambda.NewHandler(h.Activate),
	}
}

// Pipeline maps the state machine's functions (the steps and the rollback) to their
// handlers on s.
func Pipeline(s *pipeline.Steps) map[string]lambda.Handler {
	return map[string]lambda.Handler{
		catalog.CreateTenantRecord.LogicalID:    lambda.NewHandler(s.CreateTenantRecord),
		catalog.CreateSchema.LogicalID:          lambda.NewHandler(s.CreateSchema),
		catalog.RunMigrations.LogicalID:         lambda.NewHandler(s.RunMigrations),
		catalog.SeedRolesAndUser.LogicalID:      lambda.NewHandler(s.SeedRolesAndUser),
		catalog.DeploySorobanContract.LogicalID: lambda.NewHandler(s.DeploySorobanContract),
		catalog.StoreContractAddress.LogicalID:  lambda.NewHandler(s.StoreContractAddress),
		catalog.SendWelcomeEmail.LogicalID:      lambda.NewHandler(s.SendWelcomeEmail),
		catalog.ActivateTenant.LogicalID:        lambda.NewHandler(s.ActivateTenant),
		catalog.Rollback.LogicalID:              lambda.NewHandler(s.Rollback),
	}
}

// Reconcile is the reconcile function's handler, by its logical id.
func Reconcile(r *reconcile.Reconciler) map[string]lambda.Handler {
	return map[string]lambda.Handler{catalog.Reconcile.LogicalID: lambda.NewHandler(r.Run)}
}

// Substitutions maps each ${<LogicalId>Arn} of the state machine definition to the
// function's logical id, which is how local runners address functions (as
// `sam local start-lambda` does); SAM's DefinitionSubstitutions map them to real ARNs.
func Substitutions(c map[string]lambda.Handler) map[string]string {
	subs := make(map[string]string, len(c))
	for id := range c {
		if f, ok := catalog.ByLogicalID(id); ok {
			subs[f.Substitution()] = id
		}
	}
	return subs
}

// Names lists the logical ids of c, sorted.
func Names(c map[string]lambda.Handler) []string {
	names := make([]string, 0, len(c))
	for n := range c {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
