// Package catalog declares every Lambda function of the product once. An entry says what
// the function is (a state machine's step, an admin route, a scheduled job, a custom
// resource), what it runs (a method of one of the components wiring builds), what it may
// use beyond the database (its capabilities) and how it is sized (timeout, memory, reserved
// concurrency, connections). Everything else is derived from the table by
// `go generate ./internal/catalog`: functions/<Dir>/main.go, the local handler table
// (internal/local/handlers), the admin API's route table (internal/api), the Makefile's
// builds (functions/catalog.mk) and each function's resources in template.yaml (the
// function with its environment, events and policies, its log group and its errors alarm).
// A test regenerates them all and fails on any difference.
//
// Adding a function: its entry here (and in Provisioning or Upgrade when a state machine
// runs it), its handler method, then `go generate ./internal/catalog`; where they apply,
// its state in statemachine/*.asl.json, its operation in internal/api/openapi.json and its
// sample event under events/<LogicalID>/.
package catalog

import (
	"cmp"
	"strings"
	"time"
)

//go:generate go run ./gen -root ../..

// Kind is what invokes a function, and so what the template gives it to be invoked by.
type Kind string

// The kinds of function.
const (
	Step           Kind = "step"            // a Task of a state machine (DefinitionSubstitutions)
	Route          Kind = "route"           // an admin HTTP API route (an HttpApi event)
	Scheduled      Kind = "scheduled"       // an EventBridge Scheduler schedule (a ScheduleV2 event)
	CustomResource Kind = "custom resource" // a CloudFormation custom resource, on every deploy
)

// Component is what a function's main builds through internal/wiring; the function's
// Handler is a method of it.
type Component string

// The components.
const (
	Pipeline     Component = "Pipeline"     // *pipeline.Steps: the provisioning steps and rollback
	API          Component = "API"          // *api.Handler: the admin routes
	Upgrader     Component = "Upgrader"     // *upgrade.Upgrader: the upgrade run's steps
	Reconciler   Component = "Reconciler"   // *reconcile.Reconciler
	ControlPlane Component = "ControlPlane" // *controlplane.Handler
	Auditor      Component = "Auditor"      // *auditchain.Sealer: seals and signs the audit trail
	Publisher    Component = "Publisher"    // *outbox.Publisher: sends the lifecycle events to EventBridge
)

// Capability is something a function uses besides the control-plane database. wiring
// builds a function's clients from its capabilities; the template gives it the settings
// and the IAM policy of each, and nothing else.
type Capability string

// The capabilities.
const (
	Email                Capability = "Email"                // sends e-mail through SES
	Contracts            Capability = "Contracts"            // deploys Soroban contracts: Stellar RPC, the deployer accounts' secret
	StartProvisioning    Capability = "StartProvisioning"    // starts provisioning executions
	DescribeProvisioning Capability = "DescribeProvisioning" // describes provisioning executions
	StartUpgrades        Capability = "StartUpgrades"        // starts upgrade runs' executions and reads their status
	SignAudit            Capability = "SignAudit"            // signs the audit chain's head (KMS) and writes the digest (S3)
	VerifyAudit          Capability = "VerifyAudit"          // reads the digests (S3) and the signing key's public half (KMS)
	PublishEvents        Capability = "PublishEvents"        // puts events on the product's event bus
)

// Function is one Lambda function.
type Function struct {
	LogicalID string // template.yaml's resource; a definition names it ${<LogicalID>Arn}
	Dir       string // functions/<Dir>/main.go
	// Doc says in a clause what the function does: its main's package comment and its
	// template Description end with it.
	Doc  string
	Kind Kind
	// State is the state of provisioning.asl.json or upgrade.asl.json it runs as (Step).
	State string
	// Route is the admin HTTP API route it serves, as a net/http.ServeMux pattern and an
	// API Gateway route key alike: "POST /admin/tenants/{id}/retry" (Route).
	Route string
	// Public marks the one route without the JWT authorizer: the activation link's, whose
	// activation token is its only credential.
	Public bool
	// Schedule is the EventBridge Scheduler expression that invokes it (Scheduled).
	Schedule string
	// Log is the step's name in provisioning_logs and in the status API, for the
	// functions that record their attempts there.
	Log string
	// Audit is the action an admin route records in the audit trail, with its outcome,
	// for every authenticated request (refusals too): tenant.create, tenant.archive, ….
	Audit string

	Runs    Component
	Handler string // the method of Runs that serves the invocations
	Needs   []Capability

	Timeout int // seconds; 0 keeps the template's Globals (25)
	Memory  int // MiB; 0 keeps the template's Globals (256)
	// Concurrency is its ReservedConcurrentExecutions: a template parameter's name, or a
	// number. Every function has one: with DBConns it bounds the database connections.
	Concurrency string
	// DBConns is its pool's size (DB_MAX_CONNS); 0 keeps the pool's default (2).
	DBConns int
}

// The provisioning steps, and the rollback their Catch routes to. Each opens one
// connection a container (the pipeline tests run the steps on a pool of one).
var (
	CreateTenantRecord = Function{LogicalID: "CreateTenantRecordFunction", Dir: "step-create-tenant-record", Kind: Step,
		State: "CreateTenantRecord", Log: "CREATE_TENANT_RECORD", Runs: Pipeline, Handler: "CreateTenantRecord",
		Doc:         "claims the reserved tenant for the execution, PENDING to PROVISIONING",
		Concurrency: "StepConcurrency", DBConns: 1}
	CreateSchema = Function{LogicalID: "CreateSchemaFunction", Dir: "step-create-schema", Kind: Step,
		State: "CreateSchema", Log: "CREATE_SCHEMA", Runs: Pipeline, Handler: "CreateSchema",
		Doc:         "creates the tenant's schema and the NOLOGIN role limited to it",
		Concurrency: "StepConcurrency", DBConns: 1}
	RunMigrations = Function{LogicalID: "RunMigrationsFunction", Dir: "step-run-migrations", Kind: Step,
		State: "RunMigrations", Log: "RUN_MIGRATIONS", Runs: Pipeline, Handler: "RunMigrations",
		Doc:     "brings the tenant's tables to the newest tenant migration",
		Timeout: 55, Concurrency: "StepConcurrency", DBConns: 1}
	SeedRolesAndUser = Function{LogicalID: "SeedRolesAndUserFunction", Dir: "step-seed-roles-and-user", Kind: Step,
		State: "SeedRolesAndUser", Log: "SEED_ROLES_AND_USER", Runs: Pipeline, Handler: "SeedRolesAndUser",
		Doc:         "seeds the roles and the admin user, pending activation",
		Concurrency: "StepConcurrency", DBConns: 1}
	// One container per deployer account (DeployConcurrency): a container beyond the
	// accounts would wait for a lease with its connection open.
	DeploySorobanContract = Function{LogicalID: "DeploySorobanContractFunction", Dir: "step-deploy-soroban-contract", Kind: Step,
		State: "DeploySorobanContract", Log: "DEPLOY_SOROBAN_CONTRACT", Runs: Pipeline, Handler: "DeploySorobanContract",
		Doc:   "deploys the tenant's Soroban contract through the Stellar RPC",
		Needs: []Capability{Contracts}, Timeout: 110, Concurrency: "DeployConcurrency", DBConns: 1}
	StoreContractAddress = Function{LogicalID: "StoreContractAddressFunction", Dir: "step-store-contract-address", Kind: Step,
		State: "StoreContractAddress", Log: "STORE_CONTRACT_ADDRESS", Runs: Pipeline, Handler: "StoreContractAddress",
		Doc:         "records the tenant's contract id",
		Concurrency: "StepConcurrency", DBConns: 1}
	ActivateTenant = Function{LogicalID: "ActivateTenantFunction", Dir: "step-activate-tenant", Kind: Step,
		State: "ActivateTenant", Log: "ACTIVATE_TENANT", Runs: Pipeline, Handler: "ActivateTenant",
		Doc:         "marks the tenant ACTIVE",
		Concurrency: "StepConcurrency", DBConns: 1}
	SendWelcomeEmail = Function{LogicalID: "SendWelcomeEmailFunction", Dir: "step-send-welcome-email", Kind: Step,
		State: "SendWelcomeEmail", Log: "SEND_WELCOME_EMAIL", Runs: Pipeline, Handler: "SendWelcomeEmail",
		Doc:   "issues the activation token and e-mails the admin the link",
		Needs: []Capability{Email}, Concurrency: "StepConcurrency", DBConns: 1}
	Rollback = Function{LogicalID: "RollbackFunction", Dir: "rollback", Kind: Step,
		State: "Rollback", Log: "ROLLBACK", Runs: Pipeline, Handler: "Rollback",
		Doc:   "undoes a failed provisioning, marks the tenant FAILED and sends the failure notices",
		Needs: []Capability{Email}, Timeout: 55, Concurrency: "StepConcurrency", DBConns: 1}
)

// The admin API's functions, one per route, each opening one connection a container (the
// API tests serve the routes from a pool of one). Archiving records its attempt in the
// provisioning log too.
var (
	// Describing too: a start that collides with an earlier execution reads that one.
	CreateTenant = Function{LogicalID: "CreateTenantFunction", Dir: "api-create-tenant", Kind: Route,
		Route: "POST /admin/tenants", Audit: "tenant.create", Runs: API, Handler: "CreateTenant",
		Doc:   "reserves the tenant and starts its provisioning execution",
		Needs: []Capability{StartProvisioning, DescribeProvisioning}, Timeout: 15, Concurrency: "ApiConcurrency", DBConns: 1}
	ListTenants = Function{LogicalID: "ListTenantsFunction", Dir: "api-list-tenants", Kind: Route,
		Route: "GET /admin/tenants", Runs: API, Handler: "ListTenants",
		Doc:     "lists tenants, newest first",
		Timeout: 15, Concurrency: "ApiConcurrency", DBConns: 1}
	GetTenant = Function{LogicalID: "GetTenantFunction", Dir: "api-get-tenant", Kind: Route,
		Route: "GET /admin/tenants/{id}", Runs: API, Handler: "GetTenant",
		Doc:     "reads one tenant",
		Timeout: 15, Concurrency: "ApiConcurrency", DBConns: 1}
	GetProvisioningStatus = Function{LogicalID: "GetProvisioningStatusFunction", Dir: "api-get-provisioning-status", Kind: Route,
		Route: "GET /admin/tenants/{id}/provisioning-status", Runs: API, Handler: "GetProvisioningStatus",
		Doc:   "reads the tenant's steps and its execution",
		Needs: []Capability{DescribeProvisioning}, Timeout: 15, Concurrency: "ApiConcurrency", DBConns: 1}
	ArchiveTenant = Function{LogicalID: "ArchiveTenantFunction", Dir: "api-archive-tenant", Kind: Route,
		Route: "DELETE /admin/tenants/{id}", Audit: "tenant.archive", Log: "ARCHIVE", Runs: API, Handler: "ArchiveTenant",
		Doc:     "archives the tenant",
		Timeout: 15, Concurrency: "ApiConcurrency", DBConns: 1}
	RetryTenant = Function{LogicalID: "RetryTenantFunction", Dir: "api-retry-tenant", Kind: Route,
		Route: "POST /admin/tenants/{id}/retry", Audit: "tenant.retry", Runs: API, Handler: "RetryTenant",
		Doc:   "re-provisions a FAILED tenant under a new execution",
		Needs: []Capability{StartProvisioning, DescribeProvisioning}, Timeout: 15, Concurrency: "ApiConcurrency", DBConns: 1}
	ResendActivationEmail = Function{LogicalID: "ResendActivationEmailFunction", Dir: "api-resend-activation-email", Kind: Route,
		Route: "POST /admin/tenants/{id}/activation-email", Audit: "activation.resend", Runs: API, Handler: "ResendActivationEmail",
		Doc:   "e-mails an ACTIVE tenant's admin a new activation link, voiding the old one",
		Needs: []Capability{Email}, Timeout: 15, Concurrency: "ApiConcurrency", DBConns: 1}
	// An argon2id hash takes 19 MiB and most of a core for tens of milliseconds.
	Activate = Function{LogicalID: "ActivateAdminFunction", Dir: "api-activate", Kind: Route,
		Route: "POST /activation", Public: true, Runs: API, Handler: "Activate",
		Doc:     "redeems an admin's activation link, setting their password",
		Timeout: 15, Memory: 512, Concurrency: "ApiConcurrency", DBConns: 1}
	StartUpgrade = Function{LogicalID: "StartUpgradeFunction", Dir: "api-start-upgrade", Kind: Route,
		Route: "POST /admin/upgrades", Audit: "upgrade.start", Runs: API, Handler: "StartUpgrade",
		Doc:   "records an upgrade run and starts its execution",
		Needs: []Capability{StartUpgrades}, Timeout: 15, Concurrency: "ApiConcurrency", DBConns: 1}
	GetUpgrade = Function{LogicalID: "GetUpgradeFunction", Dir: "api-get-upgrade", Kind: Route,
		Route: "GET /admin/upgrades/{id}", Runs: API, Handler: "GetUpgrade",
		Doc:     "reads an upgrade run's counts and failed tenants",
		Timeout: 15, Concurrency: "ApiConcurrency", DBConns: 1}
	ListAudit = Function{LogicalID: "ListAuditFunction", Dir: "api-list-audit", Kind: Route,
		Route: "GET /admin/audit", Runs: API, Handler: "ListAudit",
		Doc:     "lists the audit trail, newest first, by tenant, actor, action and time",
		Timeout: 15, Concurrency: "ApiConcurrency", DBConns: 1}
	// Given 29 s, API Gateway's own limit: a day of digests and the links after them fit
	// well within it; the whole trail is `make audit-verify`'s.
	VerifyAuditTrail = Function{LogicalID: "VerifyAuditTrailFunction", Dir: "api-verify-audit", Kind: Route,
		Route: "GET /admin/audit/verification", Runs: API, Handler: "VerifyAudit",
		Doc:   "checks the audit trail's signed digests and recomputes its hash chain",
		Needs: []Capability{VerifyAudit}, Timeout: 29, Concurrency: "ApiConcurrency", DBConns: 1}
)

// The upgrade state machine's steps (statemachine/upgrade.asl.json).
var (
	// One page at a time: the state machine lists, then maps, then lists again.
	ListTenantsToUpgrade = Function{LogicalID: "ListTenantsToUpgradeFunction", Dir: "upgrade-list-tenants", Kind: Step,
		State: "ListTenantsToUpgrade", Runs: Upgrader, Handler: "List",
		Doc:     "lists the next page of tenants behind the newest tenant migration",
		Timeout: 55, Concurrency: "1"}
	// The upgrade's database budget: the Map's MaxConcurrency (4) containers with one
	// connection each. A batch migrates its tenants one after another, so it never needs a
	// second connection, and the fan-out never takes more than these 4 from the
	// provisioning pipeline and the API.
	MigrateTenantBatch = Function{LogicalID: "MigrateTenantBatchFunction", Dir: "upgrade-migrate-batch", Kind: Step,
		State: "MigrateTenantBatch", Runs: Upgrader, Handler: "MigrateBatch",
		Doc:     "the Distributed Map's item processor: migrates a batch of tenants, one transaction each",
		Timeout: 890, Concurrency: "4", DBConns: 1}
	// One run ends at a time (at most one run is RUNNING).
	SummarizeUpgrade = Function{LogicalID: "SummarizeUpgradeFunction", Dir: "upgrade-summarize", Kind: Step,
		State: "SummarizeUpgrade", Runs: Upgrader, Handler: "Summarize",
		Doc:     "ends a run and returns its summary",
		Timeout: 55, Concurrency: "1"}
)

// Reconcile closes what no execution will (internal/reconcile). One run at a time: runs
// are idempotent, but two would describe the same executions.
var Reconcile = Function{LogicalID: "ReconcileFunction", Dir: "reconcile", Kind: Scheduled,
	Schedule: "rate(5 minutes)", Runs: Reconciler, Handler: "Run",
	Doc:   "fails reservations no execution took and rolls back tenants whose execution ended unfinished",
	Needs: []Capability{Email, DescribeProvisioning}, Timeout: 300, Concurrency: "1"}

// SealAudit links the audit trail's committed records into its hash chain and signs the
// head (internal/auditchain). Every 15 minutes: a record is unsealed for at most that long,
// and a year is 35,040 digests. One run at a time: the chain has one head.
var SealAudit = Function{LogicalID: "SealAuditFunction", Dir: "audit-seal", Kind: Scheduled,
	Schedule: "rate(15 minutes)", Runs: Auditor, Handler: "Seal",
	Doc:   "links committed audit records into the hash chain and signs its head into the Object Lock bucket",
	Needs: []Capability{SignAudit}, Timeout: 120, Concurrency: "1", DBConns: 1}

// PublishLifecycleEvents sends the lifecycle events the transitions wrote to the outbox
// (internal/outbox) to the event bus. Once a minute: an event is at most about a minute
// behind its transition, which its consumers (notifications, billing, reporting) do not
// notice, and the outbox keeps it safe meanwhile. For less, raise the schedule's rate
// (EventBridge Scheduler's finest is a minute), or invoke the function after a commit as
// well: runs are idempotent and skip what another holds. One run at a time, each draining
// the outbox within its timeout.
var PublishLifecycleEvents = Function{LogicalID: "PublishEventsFunction", Dir: "publish-events", Kind: Scheduled,
	Schedule: "rate(1 minute)", Runs: Publisher, Handler: "Publish",
	Doc:   "sends the lifecycle events waiting in the outbox to the event bus",
	Needs: []Capability{PublishEvents}, Timeout: 55, Concurrency: "1", DBConns: 1}

// MigrateControlPlane brings the control plane's tables to the newest version, as a
// CloudFormation custom resource on every deploy. One deploy migrates at a time.
var MigrateControlPlane = Function{LogicalID: "MigrateControlPlaneFunction", Dir: "migrate-control-plane", Kind: CustomResource,
	Runs: ControlPlane, Handler: "Handle",
	Doc:     "brings the control plane's tables to the newest migration, on every deploy",
	Timeout: 120, Concurrency: "1"}

// Provisioning lists the provisioning state machine's steps in the order it runs them
// (the rollback, off that path, is not one of them).
var Provisioning = []Function{CreateTenantRecord, CreateSchema, RunMigrations, SeedRolesAndUser,
	DeploySorobanContract, StoreContractAddress, ActivateTenant, SendWelcomeEmail}

// Upgrade lists the upgrade state machine's functions in the order its happy path runs
// them: the lister, the Distributed Map's item processor, and the summary that ends a run.
var Upgrade = []Function{ListTenantsToUpgrade, MigrateTenantBatch, SummarizeUpgrade}

// Routes lists the admin API's functions.
var Routes = []Function{CreateTenant, ListTenants, GetTenant, GetProvisioningStatus, ArchiveTenant, RetryTenant,
	ResendActivationEmail, Activate, StartUpgrade, GetUpgrade, ListAudit, VerifyAuditTrail}

// All lists every function of the product: what template.yaml defines and make build builds.
func All() []Function {
	all := append(append([]Function{}, Provisioning...), Rollback)
	all = append(all, Routes...)
	all = append(all, Upgrade...)
	return append(all, Reconcile, SealAudit, PublishLifecycleEvents, MigrateControlPlane)
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

// DefaultTimeout is the timeout, in seconds, of a function whose entry sets none: the
// template's Globals (a test holds them equal).
const DefaultTimeout = 25

// TimeLimit is the function's timeout: how long Lambda lets one invocation run.
func (f Function) TimeLimit() time.Duration {
	return time.Duration(cmp.Or(f.Timeout, DefaultTimeout)) * time.Second
}

// Substitution is the name of the function's ARN in the definition's
// DefinitionSubstitutions: ${CreateSchemaFunctionArn}.
func (f Function) Substitution() string { return f.LogicalID + "Arn" }

// ReadOnly reports whether the function is an admin route that only reads (GET): a token
// with the read scope may call it, every other route needs the admin scope.
func (f Function) ReadOnly() bool { return f.Kind == Route && strings.HasPrefix(f.Route, "GET ") }

// Uses reports whether the function has capability c.
func (f Function) Uses(c Capability) bool {
	for _, n := range f.Needs {
		if n == c {
			return true
		}
	}
	return false
}

// DBUser is the PostgreSQL user a function connects as. Each kind of function has its
// own, holding only the rights that kind uses (internal/store/access.sql grants them, on
// every control-plane migration); deployed, it logs in with an IAM authentication token,
// so no function but the control-plane migration holds a database password.
type DBUser string

// The database users, one per kind of function.
const (
	APIReadUser     DBUser = "tp_api_read"    // the GET routes: reads the control plane, no tenant schema
	APIWriteUser    DBUser = "tp_api_write"   // the admin routes that change tenants and runs
	ActivationUser  DBUser = "tp_activation"  // the public activation route: three functions, nothing else
	ProvisionerUser DBUser = "tp_provisioner" // the provisioning steps and their rollback
	UpgraderUser    DBUser = "tp_upgrader"    // the upgrade run's steps
	ReconcilerUser  DBUser = "tp_reconciler"  // the reconciler, which rolls back what no execution will
	AuditorUser     DBUser = "tp_auditor"     // the audit sealer: links and signs the chain, changes nothing else
	PublisherUser   DBUser = "tp_publisher"   // the event publisher: reads the outbox and marks what it sent
	MigrationUser   DBUser = ""               // the control-plane migration: the master user, from its secret
)

// DBUsers lists the users functions log in as (the migration's master user aside).
func DBUsers() []DBUser {
	return []DBUser{APIReadUser, APIWriteUser, ActivationUser, ProvisionerUser, UpgraderUser, ReconcilerUser,
		AuditorUser, PublisherUser}
}

// DBUser is the database user the function connects as, from its kind and component.
func (f Function) DBUser() DBUser {
	switch {
	case f.Runs == ControlPlane:
		return MigrationUser
	case f.Public:
		return ActivationUser
	case f.ReadOnly():
		return APIReadUser
	case f.Runs == API:
		return APIWriteUser
	case f.Runs == Upgrader:
		return UpgraderUser
	case f.Runs == Reconciler:
		return ReconcilerUser
	case f.Runs == Auditor:
		return AuditorUser
	case f.Runs == Publisher:
		return PublisherUser
	default:
		return ProvisionerUser
	}
}
