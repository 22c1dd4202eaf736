package api

import "github.com/healthstack/tenant-provisioning/internal/catalog"

// Functions maps each admin API function of the catalogue (catalog.API), by logical id, to
// its handler on h. The router serves each at the function's route.
func (h *Handler) Functions() map[string]LambdaHandler {
	return map[string]LambdaHandler{
		catalog.CreateTenant.LogicalID:          h.CreateTenant,
		catalog.ListTenants.LogicalID:           h.ListTenants,
		catalog.GetTenant.LogicalID:             h.GetTenant,
		catalog.GetProvisioningStatus.LogicalID: h.GetProvisioningStatus,
		catalog.ArchiveTenant.LogicalID:         h.ArchiveTenant,
		catalog.RetryTenant.LogicalID:           h.RetryTenant,
		catalog.ResendActivationEmail.LogicalID: h.ResendActivationEmail,
		catalog.Activate.LogicalID:              h.Activate,
		catalog.StartUpgrade.LogicalID:          h.StartUpgrade,
		catalog.GetUpgrade.LogicalID:            h.GetUpgrade,
	}
}
