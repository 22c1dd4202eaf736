// Package catalog declares every Lambda function of the product once: the SAM logical id,
// the folder of its main, and the state it runs as, the route it serves or the name it
// logs under. statemachine/*.asl.json, template.yaml, the Makefile (through the generated
// functions/catalog.mk), the provisioning log and the local runners all follow this table,
// and tests fail when one of them disagrees with it.
//
// Adding a step: one entry here (and in Steps, in pipeline order), its handler, its main
// under functions/<Dir>, its state in the definition, its resource in template.yaml and
// its sample event; `go generate ./internal/catalog` rewrites functions/catalog.mk.
package catalog

//go:generate go run ./gen -o ../../functions/catalog.mk

// Function is one Lambda function.
type Function struct {
	LogicalID string // template.yaml's resource; the definition names it ${<LogicalID>Arn}
	Dir       string // functions/<Dir>/main.go
	State     string // the state of provisioning.asl.json or upgrade.asl.json it runs as, if any
	Route     string // the HTTP API route it serves, if any ("POST /admin/tenants")
	// Public marks the one route without the JWT authorizer: the activation link's, whose
	// activation token is its only credential.
	Public bool
	// Log is the step's name in provisioning_logs and in the status API, for the
	// functions that record their attempts there.
	Log string
}

// The provisioning steps, in the order the state machine runs them, and the rollback its
// Catch routes to.
var (
	CreateTenantRecord = Function{LogicalID: "CreateTenantRecordFunction", Dir: "step-create-tenant-record",
		State: "CreateTenantRecord", Log: "CREATE_TENANT_RECORD"}
	CreateSchema = Function{LogicalID: "CreateSchemaFunction", Dir: "step-create-schema",
		State: "CreateSchema", Log: "CREATE_SCHEMA"}
	RunMigrations = Function{LogicalID: "RunMigrationsFunction", Dir: "step-run-migrations",
		State: "RunMigrations", Log: "RUN_MIGRATIONS"}
	SeedRolesAndUser = Function{LogicalID: "SeedRolesAndUserFunction", Dir: "step-seed-roles-and-user",
		State: "SeedRolesAndUser", Log: "SEED_ROLES_AND_USER"}
	DeploySorobanContract = Function{LogicalID: "DeploySorobanContractFunction", Dir: "step-deploy-soroban-contract",
		State: "DeploySorobanContract", Log: "DEPLOY_SOROBAN_CONTRACT"}
	StoreContractAddress = Function{LogicalID: "StoreContractAddressFunction", Dir: "step-store-contract-address",
		State: "StoreContractAddress", Log: "STORE_CONTRACT_ADDRESS"}
	ActivateTenant = Function{LogicalID: "ActivateTenantFunction", Dir: "step-activate-tenant",
		State: "ActivateTenant", Log: "ACTIVATE_TENANT"}
	SendWelcomeEmail = Function{LogicalID: "SendWelcomeEmailFunction", Dir: "step-send-welcome-email",
		State: "SendWelcomeEmail", Log: "SEND_WELCOME_EMAIL"}
	Rollback = Function{LogicalID: "RollbackFunction", Dir: "rollback",
		State: "Rollback", Log: "ROLLBACK"}
)

// The admin API's functions, one per route. Archiving records its attempt in the
// provisioning log too.
var (
	CreateTenant = Function{LogicalID: "CreateTenantFunction", Dir: "api-create-tenant",
		Route: "POST /admin/tenants"}
	ListTenants = Function{LogicalID: "ListTenantsFunction", Dir: "api-list-tenants",
		Route: "GET /admin/tenants"}
	GetTenant = Function{LogicalID: "GetTenantFunction", Dir: "api-get-tenant",
		Route: "GET /admin/tenants/{id}"}
	GetProvisioningStatus = Function{LogicalID: "GetProvisioningStatusFunction", Dir: "api-get-provisioning-status",
		Route: "GET /admin/tenants/{id}/provisioning-status"}
	ArchiveTenant = Function{LogicalID: "ArchiveTenantFunction", Dir: "api-archive-tenant",
		Route: "DELETE /admin/tenants/{id}", Log: "ARCHIVE"}
	RetryTenant = Function{LogicalID: "RetryTenantFunction", Dir: "api-retry-tenant",
		Route: "POST /admin/tenants/{id}/retry"}
	ResendActivationEmail = Function{LogicalID: "ResendActivationEmailFunction", Dir: "api-resend-activation-email",
		Route: "POST /admin/tenants/{id}/activation-email"}
	Activate = Function{LogicalID: "ActivateAdminFunction", Dir: "api-activate",
		Route: "POST /activation", Public: true}
	StartUpgrade = Function{LogicalID: "StartUpgradeFunction", Dir: "api-start-upgrade",
		Route: "POST /admin/upgrades"}
	GetUpgrade = Function{LogicalID: "GetUpgradeFunction", Dir: "api-get-upgrade",
		Route: "GET /admin/upgrades/{id}"}
)

// The upgrade state machine's steps (statemachine/upgrade.asl.json), in the order it runs
// them: the lister, the Distributed Map's item processor, and the summary that ends a run.
var (
	ListTenantsToUpgrade = Function{LogicalID: "ListTenantsToUpgradeFunction", Dir: "upgrade-list-tenants",
		State: "ListTenantsToUpgrade"}
	MigrateTenantBatch = Function{LogicalID: "MigrateTenantBatchFunction", Dir: "upgrade-migrate-batch",
		State: "MigrateTenantBatch"}
	SummarizeUpgrade = Function{LogicalID: "SummarizeUpgradeFunction", Dir: "upgrade-summarize",
		State: "SummarizeUpgrade"}
)

// UpgradeSteps are the upgrade's functions in the order its happy path runs them.
var UpgradeSteps = []Function{ListTenantsToUpgrade, MigrateTenantBatch, SummarizeUpgrade}

// MigrateControlPlane brings the control plane's tables to the newest version, as a
// CloudFormation custom resource on every deploy.
var MigrateControlPlane = Function{LogicalID: "MigrateControlPlaneFunction", Dir: "migrate-control-plane"}

// Reconcile runs on a schedule and closes what no execution will (internal/reconcile).
var Reconcile = Function{LogicalID: "ReconcileFunction", Dir: "reconcile"}

// Steps are the provisioning steps in pipeline order (Rollback is not one of them).
var Steps = []Function{CreateTenantRecord, CreateSchema, RunMigrations, SeedRolesAndUser,
	DeploySorobanContract, StoreContractAddress, ActivateTenant, SendWelcomeEmail}

// API lists the admin API's functions.
var API = []Function{CreateTenant, ListTenants, GetTenant, GetProvisioningStatus, ArchiveTenant, RetryTenant,
	ResendActivationEmail, Activate, StartUpgrade, GetUpgrade}

// All lists every function of the product: what template.yaml defines and make build builds.
func All() []Function {
	all := append(append([]Function{}, Steps...), Rollback)
	all = append(all, API...)
	all = append(all, UpgradeSteps...)
	return append(all, Reconcile, MigrateControlPlane)
}

// ByLogicalID finds a function; ok is false for an id the catalogue does not declare.
func ByLogicalID(id string) (Function, bool) {
	for _, f := range All() {
		if f.LogicalID == id {
			return f, true
		}
	}
	return Function{}, false
}

// Substitution is the name of the function's ARN in the definition's
// DefinitionSubstitutions: ${CreateSchemaFunctionArn}.
func (f Function) Substitution() string { return f.LogicalID + "Arn" }
