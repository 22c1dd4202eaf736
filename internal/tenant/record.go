package tenant

import (
	"log/slog"
	"time"

	"github.com/google/uuid"
)

// Tenant is one row of the control plane. It holds the admin's personal data, so it
// logs as its identifiers only (LogValue) and is never put in a state payload.
type Tenant struct {
	ID                uuid.UUID
	Name              string
	Slug              string
	SchemaName        string // empty until an execution claims the tenant
	Status            Status
	AdminEmail        string
	AdminFirstName    string
	AdminLastName     string
	ContractID        string
	ExecutionArn      string
	ProvisioningError string
	CreatedAt         time.Time
	UpdatedAt         time.Time
	CompletedAt       *time.Time
	ArchivedAt        *time.Time
}

// LogValue keeps personal data out of logs even when a whole Tenant is logged by mistake.
func (t Tenant) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("id", t.ID.String()),
		slog.String("status", string(t.Status)),
		slog.String("schemaName", t.SchemaName),
	)
}
