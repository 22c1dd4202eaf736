package upgrade

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/store"
)

// MaxFailuresShown bounds the failures a summary lists: the execution's output and an API
// answer must stay small however many tenants failed. The counts are always complete.
const MaxFailuresShown = 100

// Finish is the input of the upgrade's last step: the run, and the error that ended it
// early when a Catch routed there.
type Finish struct {
	RunID uuid.UUID    `json:"runId"`
	Error *CaughtError `json:"error,omitempty"`
}

// CaughtError is what a Catch's ResultPath puts in the state: the error name and cause.
type CaughtError struct {
	Error string `json:"Error"`
	Cause string `json:"Cause"`
}

// Summary is a run as the upgrade's end state and GET /admin/upgrades/{id} report it: ids,
// counts and sanitised errors only.
type Summary struct {
	RunID         uuid.UUID  `json:"runId"`
	Status        string     `json:"status"`
	DryRun        bool       `json:"dryRun"`
	Statuses      []string   `json:"statuses"`
	TargetVersion int32      `json:"targetVersion"`
	Total         int        `json:"total"`
	Upgraded      int        `json:"upgraded"`
	Current       int        `json:"current"` // already at the target: nothing done
	Planned       int        `json:"planned"` // dry run: would be upgraded
	Failed        int        `json:"failed"`
	NotReached    int        `json:"notReached"` // listed, but their batch never reported (pending while running)
	Failures      []Failure  `json:"failures"`
	MoreFailures  bool       `json:"moreFailures"` // Failures shows the first MaxFailuresShown
	Error         string     `json:"error,omitempty"`
	ExecutionArn  string     `json:"executionArn,omitempty"`
	CreatedAt     time.Time  `json:"createdAt"`
	FinishedAt    *time.Time `json:"finishedAt,omitempty"`
}

// Failure is a tenant left at its old version, with the sanitised reason.
type Failure struct {
	TenantID  uuid.UUID `json:"tenantId"`
	ErrorType string    `json:"errorType"`
	Error     string    `json:"error"`
	At        time.Time `json:"at"`
}

// Summarize ends the run, SUCCEEDED or, when a Catch sent the error, FAILED with its name
// and cause (both come from our steps or from Step Functions, never from tenant data), and
// returns its summary. Repeated, it summarises the run as it first ended.
func (u *Upgrader) Summarize(ctx context.Context, f Finish) (Summary, error) {
	if f.RunID == uuid.Nil {
		return Summary{}, &fault.ValidationError{Op: "summarize upgrade", Fields: []fault.FieldError{{Field: "runId", Message: "is required"}}}
	}
	status, reason := store.RunSucceeded, ""
	if f.Error != nil {
		status, reason = store.RunFailed, f.Error.Error+": "+f.Error.Cause
	}
	run, err := u.store.FinishUpgradeRun(ctx, f.RunID, status, reason)
	if err != nil {
		return Summary{}, err
	}
	s, err := Report(ctx, u.store, run)
	if err == nil {
		u.Log.InfoContext(ctx, "upgrade run ended", "runId", run.ID.String(), "status", run.Status, "upgraded", s.Upgraded,
			"current", s.Current, "planned", s.Planned, "failed", s.Failed, "notReached", s.NotReached)
	}
	return s, err
}

// Report is the run's summary now: final once the run has ended, progress while it runs.
func Report(ctx context.Context, st *store.Store, run store.UpgradeRun) (Summary, error) {
	c, err := st.UpgradeCounts(ctx, run)
	if err != nil {
		return Summary{}, err
	}
	failures, err := st.UpgradeFailures(ctx, run.ID, MaxFailuresShown+1)
	if err != nil {
		return Summary{}, err
	}
	s := Summary{RunID: run.ID, Status: run.Status, DryRun: run.DryRun, TargetVersion: run.TargetVersion,
		Total: c.Total(), Upgraded: c.Upgraded, Current: c.Current, Planned: c.Planned, Failed: c.Failed,
		NotReached: c.Pending, Failures: []Failure{}, Error: run.Error, ExecutionArn: run.ExecutionArn,
		CreatedAt: run.CreatedAt, FinishedAt: run.FinishedAt}
	for _, st := range run.Statuses {
		s.Statuses = append(s.Statuses, string(st))
	}
	if len(failures) > MaxFailuresShown {
		failures, s.MoreFailures = failures[:MaxFailuresShown], true
	}
	for _, f := range failures {
		s.Failures = append(s.Failures, Failure{TenantID: f.TenantID, ErrorType: f.ErrorType, Error: f.Error, At: f.At})
	}
	return s, nil
}
