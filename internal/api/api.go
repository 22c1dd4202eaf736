// Package api is the admin HTTP API: one handler per route, each taking the API Gateway
// HTTP API (payload format 2.0) event its own Lambda receives, plus a router (a ServeMux of
// the catalogue's route patterns) and a net/http adapter so that a local server serves the
// very same handlers. Failures are RFC 9457 problem details; openapi.json describes every
// route and is held to the handlers by tests.
package api

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"time"

	"github.com/google/uuid"

	"github.com/healthstack/tenant-provisioning/internal/pipeline"
	"github.com/healthstack/tenant-provisioning/internal/store"
)

// Starter starts the provisioning execution of a reserved tenant (Step Functions in AWS,
// the local engine on a developer machine).
type Starter interface {
	// Start starts the execution called name (tenant.ExecutionName: the tenant id, or
	// <id>-r<N> for an admin's Nth retry) with the tenant's id as its only input.
	Start(ctx context.Context, tenantID uuid.UUID, name string) (Started, error)
}

// Started is the execution a Start created or found.
type Started struct {
	ExecutionArn   string
	AlreadyStarted bool
}

// ExecutionDescriber reads an execution's status for the status route.
type ExecutionDescriber interface {
	Describe(ctx context.Context, executionArn string) (ExecutionStatus, error)
}

// ExecutionStatus is what the status route shows of an execution: never its input or output.
type ExecutionStatus struct {
	Status    string
	StartedAt time.Time
	StoppedAt *time.Time
	Error     string
	Cause     string
}

// Archiver soft-deletes a tenant; *pipeline.Steps is one.
type Archiver interface {
	Archive(ctx context.Context, id uuid.UUID) (pipeline.ArchiveResult, error)
}

// Activations redeems and resends admins' activation links; *pipeline.Steps is one.
type Activations interface {
	// AdmitActivation counts an attempt of client at the activation route and answers how
	// long it must wait before its next (0: go ahead).
	AdmitActivation(ctx context.Context, client netip.Addr) (time.Duration, error)
	RedeemActivation(ctx context.Context, tenantID uuid.UUID, token, password string) error
	ResendActivation(ctx context.Context, tenantID uuid.UUID, requestedBy string) (pipeline.ActivationSent, error)
}

// Config is what the handlers run on.
type Config struct {
	Store *store.Store // required
	// Starter is needed by CreateTenant, Archiver by ArchiveTenant. Each route is its own
	// Lambda, so a function wires only what its route uses; a route whose dependency is
	// missing answers 500 and logs a ConfigError.
	Starter  Starter
	Archiver Archiver
	// Activations is needed by Activate and ResendActivationEmail.
	Activations Activations
	// Describer is optional: without it the status route shows the log alone.
	Describer ExecutionDescriber
	// Upgrades is needed by StartUpgrade.
	Upgrades Upgrades
	// AuditVerifier is needed by VerifyAudit.
	AuditVerifier AuditVerifier
	Log           *slog.Logger // nil logs to slog.Default()
	// RequiredScope is the OAuth scope every route demands, e.g. "tenants/admin". Required:
	// an empty scope must not quietly mean "any authenticated caller".
	RequiredScope string
	// ReadScope, when set, also grants the routes that only read (GET).
	ReadScope string
}

// Handler serves the admin routes. Build it once per container.
type Handler struct {
	store         *store.Store
	starter       Starter
	archiver      Archiver
	activations   Activations
	describer     ExecutionDescriber
	upgrades      Upgrades
	auditVerifier AuditVerifier
	log           *slog.Logger
	scope         string
	readScope     string
	router        *router // Functions at their routes, for HTTP and Route
}

// New checks cfg and returns the handlers.
func New(cfg Config) (*Handler, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("api: Config.Store is required")
	case cfg.RequiredScope == "":
		return nil, errors.New("api: Config.RequiredScope is required")
	}
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	h := &Handler{store: cfg.Store, starter: cfg.Starter, archiver: cfg.Archiver, activations: cfg.Activations,
		describer: cfg.Describer, upgrades: cfg.Upgrades, auditVerifier: cfg.AuditVerifier, log: log, scope: cfg.RequiredScope, readScope: cfg.ReadScope}
	h.router = newRouter(h.Functions())
	return h, nil
}
