// Code generated from internal/catalog by `go generate ./internal/catalog`; DO NOT EDIT.

package api

// Functions maps each admin API function of the catalogue (catalog.Routes), by logical
// id, to its handler on h. The router serves each at the function's route.
func (h *Handler) Functions() map[string]LambdaHandler {
	return map[string]LambdaHandler{
		"CreateTenantFunction":          h.CreateTenant,
		"ListTenantsFunction":           h.ListTenants,
		"GetTenantFunction":             h.GetTenant,
		"GetProvisioningStatusFunction": h.GetProvisioningStatus,
		"ArchiveTenantFunction":         h.ArchiveTenant,
		"RetryTenantFunction":           h.RetryTenant,
		"ResendActivationEmailFunction": h.ResendActivationEmail,
		"ActivateAdminFunction":         h.Activate,
		"StartUpgradeFunction":          h.StartUpgrade,
		"GetUpgradeFunction":            h.GetUpgrade,
		"ListAuditFunction":             h.ListAudit,
		"VerifyAuditTrailFunction":      h.VerifyAudit,
	}
}
