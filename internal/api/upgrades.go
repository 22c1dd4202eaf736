package api

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"github.com/healthstack/tenant-provisioning/internal/catalog"
	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/tenant"
	"github.com/healthstack/tenant-provisioning/internal/tenantdb"
	"github.com/healthstack/tenant-provisioning/internal/upgrade"
)

// Upgrades starts and follows executions of the upgrade state machine, each named after
// its run's id with {"runId"} as its only input.
type Upgrades interface {
	StartUpgrade(ctx context.Context, runID uuid.UUID) (Started, error)
	// UpgradeStatus is the execution's status (RUNNING, SUCCEEDED, ...), or "" when Step
	// Functions has none of that name.
	UpgradeStatus(ctx context.Context, runID uuid.UUID) (string, error)
}

// abandonedReason is an abandoned run's error: its execution ended without the summary
// step recording it (stopped, timed out, or the summary itself failed).
const abandonedReason = "the upgrade execution ended without summarising the run"

type upgradeBody struct {
	upgrade.Summary
	Message string `json:"message,omitempty"`
}

// StartUpgrade serves POST /admin/upgrades: it records a run over the tenants in the
// statuses given (default ACTIVE; ACTIVE and ARCHIVED may be named) and starts its
// execution, answering 202 with the run's URL. With "dryRun": true the run only reports
// which tenants are behind. One run at a time: while one is RUNNING the answer is 409,
// unless its execution has ended without closing it, in which case it is closed FAILED
// first.
func (h *Handler) StartUpgrade(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	ctx = withActor(ctx, req)
	return h.serve(ctx, req, catalog.StartUpgrade, func(c *call) (reply, error) {
		if h.upgrades == nil {
			return reply{}, &fault.ConfigError{Op: "start upgrade", Msg: "no Upgrades configured"}
		}
		statuses, dryRun, err := readUpgradeRequest(req)
		if err != nil {
			return reply{}, err
		}
		if err := h.closeAbandonedRun(ctx); err != nil {
			return reply{}, err
		}
		run, err := h.store.CreateUpgradeRun(ctx, statuses, dryRun, tenantdb.LatestVersion())
		if _, ok := errors.AsType[*fault.ConflictError](err); ok {
			return reply{}, newProblem(http.StatusConflict, ProblemUpgradeRunning,
				"An upgrade run is already running; follow it, or wait for it to end.").because(err)
		}
		if err != nil {
			return reply{}, err
		}
		sctx, cancel := context.WithTimeout(ctx, StartTimeout)
		c.upgradeRun = &run.ID
		started, err := h.upgrades.StartUpgrade(sctx, run.ID)
		cancel()
		if err != nil {
			// Closed, so it does not block the next run; detached from the request, whose
			// deadline may be why the start failed.
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ReleaseTimeout)
			defer cancel()
			if _, ferr := h.store.FinishUpgradeRun(fctx, run.ID, store.RunFailed, "could not start the upgrade execution"); ferr != nil {
				h.log.ErrorContext(ctx, "upgrade run left RUNNING after a failed start", "requestId", c.requestID,
					"runId", run.ID.String(), "errorClass", fault.Name(ferr))
			}
			return reply{}, unavailable(ProblemUpgradeNotStarted, "The upgrade could not be started; retry after the Retry-After delay.",
				retryAfterStart).because(err)
		}
		if err := h.store.SetUpgradeExecution(ctx, run.ID, started.ExecutionArn); err != nil {
			return reply{}, err
		}
		run.ExecutionArn = started.ExecutionArn
		s, err := upgrade.Report(ctx, h.store, run)
		if err != nil {
			return reply{}, err
		}
		self := stagePrefixOf(req.RawPath, routePath(catalog.StartUpgrade)) + "/admin/upgrades/" + run.ID.String()
		return reply{status: http.StatusAccepted, body: upgradeBody{Summary: s, Message: "Upgrade started; follow it at Location."},
			header: map[string]string{"Location": self}}, nil
	})
}

// GetUpgrade serves GET /admin/upgrades/{id}: the run's counts so far (final once it has
// ended) and its first failed tenants with sanitised errors.
func (h *Handler) GetUpgrade(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	ctx = withActor(ctx, req)
	return h.serve(ctx, req, catalog.GetUpgrade, func(c *call) (reply, error) {
		id, err := c.runID()
		if err != nil {
			return reply{}, err
		}
		run, err := h.store.UpgradeRun(ctx, id)
		if _, ok := errors.AsType[*fault.NotFoundError](err); ok {
			return reply{}, newProblem(http.StatusNotFound, ProblemNotFound, "No upgrade run has this id.")
		}
		if err != nil {
			return reply{}, err
		}
		s, err := upgrade.Report(ctx, h.store, run)
		if err != nil {
			return reply{}, err
		}
		return reply{status: http.StatusOK, body: upgradeBody{Summary: s}}, nil
	})
}

// closeAbandonedRun closes the RUNNING run whose execution has ended without summarising
// it (stopped by an operator, timed out, or its summary step failed), so it does not block
// every later run.
func (h *Handler) closeAbandonedRun(ctx context.Context) error {
	run, ok, err := h.store.RunningUpgrade(ctx)
	if err != nil || !ok {
		return err
	}
	status, err := h.upgrades.UpgradeStatus(ctx, run.ID)
	if err != nil || status == "RUNNING" {
		return err
	}
	if status == "" && run.ExecutionArn == "" && time.Since(run.CreatedAt) < StartTimeout+ReleaseTimeout {
		return nil // being started by another request right now
	}
	// Its execution has ended, or never started and never will (the request that recorded
	// the run died before it could start it or close it).
	_, err = h.store.FinishUpgradeRun(ctx, run.ID, store.RunFailed, abandonedReason)
	return err
}

// readUpgradeRequest reads the optional body {"statuses": [...], "dryRun": bool}.
func readUpgradeRequest(req events.APIGatewayV2HTTPRequest) ([]tenant.Status, bool, error) {
	body, err := requestBody(req)
	if err != nil {
		return nil, false, err
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return upgrade.DefaultStatuses, false, nil
	}
	if !isJSON(header(req, "content-type")) {
		return nil, false, newProblem(http.StatusUnsupportedMediaType, ProblemUnsupportedMediaType,
			"The body must be sent as application/json (UTF-8).")
	}
	var names []string
	var dryRun bool
	wrong, ok := decodeFields(body, map[string]any{"statuses": &names, "dryRun": &dryRun})
	if !ok {
		return nil, false, newProblem(http.StatusBadRequest, ProblemMalformedBody,
			"The body must be one JSON object with the optional fields statuses (an array of tenant statuses) and dryRun (a boolean), each at most once.")
	}
	if len(wrong) > 0 {
		return nil, false, &fault.ValidationError{Op: "read upgrade request", Fields: wrong}
	}
	if names == nil {
		return upgrade.DefaultStatuses, dryRun, nil
	}
	var statuses []tenant.Status
	for _, n := range names {
		st := tenant.Status(n)
		if !slices.Contains(upgrade.Upgradable, st) {
			return nil, false, &fault.ValidationError{Op: "read upgrade request", Fields: []fault.FieldError{{Field: "statuses",
				Message: "may hold ACTIVE and ARCHIVED only: other tenants have no schema to upgrade, or are being provisioned"}}}
		}
		if !slices.Contains(statuses, st) {
			statuses = append(statuses, st)
		}
	}
	if len(statuses) == 0 {
		return nil, false, &fault.ValidationError{Op: "read upgrade request", Fields: []fault.FieldError{{Field: "statuses",
			Message: "must name at least one status, or be left out"}}}
	}
	return statuses, dryRun, nil
}
