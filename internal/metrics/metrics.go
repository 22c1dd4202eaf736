// Package metrics emits CloudWatch metrics as Embedded Metric Format log lines: a JSON log
// event with an "_aws" member becomes metrics without any API call or extra latency, and
// the line stays readable as a log.
package metrics

import (
	"context"
	"log/slog"
	"time"
)

// Namespace holds every metric the pipeline emits; the dashboard reads it.
const Namespace = "TenantProvisioning"

// Outcomes of a step attempt.
const (
	Success = "success"
	Failure = "failure"
)

type metric struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

// The metrics, each emitted by one function below.
var (
	stepDuration                = metric{"StepDuration", "Milliseconds"}
	stepOutcome                 = metric{"StepOutcome", "Count"}
	provisioningDuration        = metric{"ProvisioningDuration", "Milliseconds"}
	rollbacks                   = metric{"Rollbacks", "Count"}
	reconcileReservationsFailed = metric{"ReconcileReservationsFailed", "Count"}
	reconcileRolledBack         = metric{"ReconcileRolledBack", "Count"}
	reconcileUnsettled          = metric{"ReconcileUnsettled", "Count"}
)

// Names lists every metric this package emits, for the dashboard's test.
func Names() []string {
	var names []string
	for _, m := range []metric{stepDuration, stepOutcome, provisioningDuration, rollbacks,
		reconcileReservationsFailed, reconcileRolledBack, reconcileUnsettled} {
		names = append(names, m.Name)
	}
	return names
}

func emit(ctx context.Context, log *slog.Logger, msg string, dims [][]string, metrics []metric, values ...slog.Attr) {
	aws := map[string]any{
		"Timestamp": time.Now().UnixMilli(),
		"CloudWatchMetrics": []map[string]any{{
			"Namespace":  Namespace,
			"Dimensions": dims,
			"Metrics":    metrics,
		}},
	}
	log.LogAttrs(ctx, slog.LevelInfo, msg, append([]slog.Attr{slog.Any("_aws", aws)}, values...)...)
}

// Step records one step attempt: its duration by step, and its outcome count by step and
// outcome. It is the attempt's one log line: msg and extra (and whatever log carries, such
// as the tenant and execution) go on the same line, which CloudWatch also reads as metrics.
func Step(ctx context.Context, log *slog.Logger, msg, step, outcome string, took time.Duration, extra ...slog.Attr) {
	emit(ctx, log, msg, [][]string{{"Step"}, {"Step", "Outcome"}},
		[]metric{stepDuration, stepOutcome},
		append([]slog.Attr{slog.String("Step", step), slog.String("Outcome", outcome),
			slog.Int64("StepDuration", took.Milliseconds()), slog.Int("StepOutcome", 1)}, extra...)...)
}

// Provisioned records a tenant's end-to-end provisioning time, reservation to ACTIVE.
func Provisioned(ctx context.Context, log *slog.Logger, took time.Duration) {
	emit(ctx, log, "tenant provisioned", [][]string{{}}, []metric{provisioningDuration},
		slog.Int64("ProvisioningDuration", took.Milliseconds()))
}

// RolledBack counts a rollback by the step that failed.
func RolledBack(ctx context.Context, log *slog.Logger, failedStep string) {
	if failedStep == "" {
		failedStep = "UNKNOWN"
	}
	emit(ctx, log, "tenant rolled back", [][]string{{"FailedStep"}}, []metric{rollbacks},
		slog.String("FailedStep", failedStep), slog.Int("Rollbacks", 1))
}

// Reconciled records one reconcile run as its one log line: the reservations it failed,
// the tenants it rolled back, and those left unsettled (an error, or a state that needs an
// operator), by this run or an earlier one, which an alarm watches.
func Reconciled(ctx context.Context, log *slog.Logger, checked, reservationsFailed, rolledBack, unsettled int) {
	emit(ctx, log, "reconcile run", [][]string{{}},
		[]metric{reconcileReservationsFailed, reconcileRolledBack, reconcileUnsettled},
		slog.Int("checked", checked), slog.Int("ReconcileReservationsFailed", reservationsFailed),
		slog.Int("ReconcileRolledBack", rolledBack), slog.Int("ReconcileUnsettled", unsettled))
}
