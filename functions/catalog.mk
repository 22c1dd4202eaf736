# Code generated from internal/catalog by `go generate ./internal/catalog`; do not edit.
# template.yaml's functions as <LogicalId>:<folder under functions/>.
LAMBDAS := \
	CreateTenantRecordFunction:step-create-tenant-record \
	CreateSchemaFunction:step-create-schema \
	RunMigrationsFunction:step-run-migrations \
	SeedRolesAndUserFunction:step-seed-roles-and-user \
	DeploySorobanContractFunction:step-deploy-soroban-contract \
	StoreContractAddressFunction:step-store-contract-address \
	ActivateTenantFunction:step-activate-tenant \
	SendWelcomeEmailFunction:step-send-welcome-email \
	RollbackFunction:rollback \
	CreateTenantFunction:api-create-tenant \
	ListTenantsFunction:api-list-tenants \
	GetTenantFunction:api-get-tenant \
	GetProvisioningStatusFunction:api-get-provisioning-status \
	ArchiveTenantFunction:api-archive-tenant \
	RetryTenantFunction:api-retry-tenant \
	ResendActivationEmailFunction:api-resend-activation-email \
	ActivateAdminFunction:api-activate \
	StartUpgradeFunction:api-start-upgrade \
	GetUpgradeFunction:api-get-upgrade \
	ListAuditFunction:api-list-audit \
	VerifyAuditTrailFunction:api-verify-audit \
	ListTenantsToUpgradeFunction:upgrade-list-tenants \
	MigrateTenantBatchFunction:upgrade-migrate-batch \
	SummarizeUpgradeFunction:upgrade-summarize \
	ReconcileFunction:reconcile \
	SealAuditFunction:audit-seal \
	PublishEventsFunction:publish-events \
	MigrateControlPlaneFunction:migrate-control-plane
