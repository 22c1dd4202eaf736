// Package invoke is the catalogue of the pipeline's Lambda functions by their SAM
// logical ids, each wrapped by aws-lambda-go exactly as the Lambda runtime wraps it (same
// JSON decoding, same error types). Local runners call functions through it, so what runs
// locally is what runs in AWS.
package invoke

import (
	"sort"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/api"
	"github.com/healthstack/tenant-provisioning/internal/pipeline"
)

// Logical ids of the pipeline functions in template.yaml. The state machine refers to
// each as ${<LogicalId>Arn}.
const (
	CreateTenantRecord    = "CreateTenantRecordFunction"
	CreateSchema          = "CreateSchemaFunction"
	RunMigrations         = "RunMigrationsFunction"
	SeedRolesAndUser      = "SeedRolesAndUserFunction"
	DeploySorobanContract = "DeploySorobanContractFunction"
	StoreContractAddress  = "StoreContractAddressFunction"
	SendWelcomeEmail      = "SendWelcomeEmailFunction"
	ActivateTenant        = "ActivateTenantFunction"
	Rollback              = "RollbackFunction"
)

// Logical ids of the admin API functions.
const (
	CreateTenant          = "CreateTenantFunction"
	ListTenants           = "ListTenantsFunction"
	GetTenant             = "GetTenantFunction"
	GetProvisioningStatus = "GetProvisioningStatusFunction"
	ArchiveTenant         = "ArchiveTenantFunction"
)

// APICatalog maps the admin API functions' logical ids to their handlers on h.
func APICatalog(h *api.Handler) map[string]lambda.Handler {
	return map[string]lambda.Handler{
		CreateTenant:          lambda.NewHandler(h.CreateTenant),
		ListTenants:           lambda.NewHandler(h.ListTenants),
		GetTenant:             lambda.NewHandler(h.GetTenant),
		GetProvisioningStatus: lambda.NewHandler(h.GetProvisioningStatus),
		ArchiveTenant:         lambda.NewHandler(h.ArchiveTenant),
	}
}

// Catalog maps logical ids to handlers for the steps built on s.
func Catalog(s *pipeline.Steps) map[string]lambda.Handler {
	return map[string]lambda.Handler{
		CreateTenantRecord:    lambda.NewHandler(s.CreateTenantRecord),
		CreateSchema:          lambda.NewHandler(s.CreateSchema),
		RunMigrations:         lambda.NewHandler(s.RunMigrations),
		SeedRolesAndUser:      lambda.NewHandler(s.SeedRolesAndUser),
		DeploySorobanContract: lambda.NewHandler(s.DeploySorobanContract),
		StoreContractAddress:  lambda.NewHandler(s.StoreContractAddress),
		SendWelcomeEmail:      lambda.NewHandler(s.SendWelcomeEmail),
		ActivateTenant:        lambda.NewHandler(s.ActivateTenant),
		Rollback:              lambda.NewHandler(s.Rollback),
	}
}

// Substitutions maps each ${<LogicalId>Arn} of the state machine definition to the
// function's logical id, which is how local runners address functions (as
// `sam local start-lambda` does); SAM's DefinitionSubstitutions map them to real ARNs.
func Substitutions(c map[string]lambda.Handler) map[string]string {
	subs := make(map[string]string, len(c))
	for name := range c {
		subs[name+"Arn"] = name
	}
	return subs
}

// Names lists the catalogue's logical ids, sorted.
func Names(c map[string]lambda.Handler) []string {
	names := make([]string, 0, len(c))
	for n := range c {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
