package tenant

import (
	"log/slog"
	"strconv"
	"strings"
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
	ExecutionArn      string // the execution that claimed it; empty until one does
	Retries           int    // admin retries so far; retry N runs as <id>-r<N>
	SchemaVersion     *int32 // the tenant schema's migration version; nil until recorded
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

// ExecutionName is the name of the execution that provisions the tenant on its current
// attempt: its id, then <id>-r<N> for the Nth retry. Step Functions refuses a second
// execution of a name, so each attempt runs at most once.
func (t Tenant) ExecutionName() string { return ExecutionName(t.ID, t.Retries) }

// ExecutionName is the name of the execution of a tenant's attempt after retries retries.
func ExecutionName(id uuid.UUID, retries int) string {
	if retries == 0 {
		return id.String()
	}
	return id.String() + "-r" + strconv.Itoa(retries)
}

// OwnedBy reports whether the execution executionArn may act on the tenant: the one that
// claimed it, or, before any did, the one named for its current attempt. Any other
// execution (a second one started by hand with the same input, an earlier attempt's that
// is still running) must leave the tenant alone. Store.StartStep applies the same rule.
func (t Tenant) OwnedBy(executionArn string) bool {
	if t.ExecutionArn != "" {
		return executionArn == t.ExecutionArn
	}
	return strings.HasSuffix(executionArn, ":"+t.ExecutionName())
}
