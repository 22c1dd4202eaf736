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

func emit(ctx context.Context, log *slog.Logger, dims [][]string, metrics []metric, values ...slog.Attr) {
	aws := map[string]any{
		"Timestamp": time.Now().UnixMilli(),
		"CloudWatchMetrics": []map[string]any{{
			"Namespace":  Namespace,
			"Dimensions": dims,
			"Metrics":    metrics,
		}},
	}
	log.LogAttrs(ctx, slog.LevelInfo, "metrics", append([]slog.Attr{slog.Any("_aws", aws)}, values...)...)
}

// Step records one step attempt: its duration by step, and its outcome count by step and
// outcome.
func Step(ctx context.Context, log *slog.Logger, step, outcome string, took time.Duration) {
	emit(ctx, log, [][]string{{"Step"}, {"Step", "Outcome"}},
		[]metric{{"StepDuration", "Milliseconds"}, {"StepOutcome", "Count"}},
		slog.String("Step", step), slog.String("Outcome", outcome),
		slog.Int64("StepDuration", took.Milliseconds()), slog.Int("StepOutcome", 1))
}

// Provisioned records a tenant's end-to-end provisioning time, reservation to ACTIVE.
func Provisioned(ctx context.Context, log *slog.Logger, took time.Duration) {
	emit(ctx, log, [][]string{{}}, []metric{{"ProvisioningDuration", "Milliseconds"}},
		slog.Int64("ProvisioningDuration", took.Milliseconds()))
}

// RolledBack counts a rollback by the step that failed.
func RolledBack(ctx context.Context, log *slog.Logger, failedStep string) {
	if failedStep == "" {
		failedStep = "UNKNOWN"
	}
	emit(ctx, log, [][]string{{"FailedStep"}}, []metric{{"Rollbacks", "Count"}},
		slog.String("FailedStep", failedStep), slog.Int("Rollbacks", 1))
}
