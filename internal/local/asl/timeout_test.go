package asl

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/healthstack/tenant-provisioning/internal/local/lambdarun"
)

// Task timeouts bound real work, so these tests run in a synctest bubble, where real time
// is simulated and a handler blocked until its deadline costs nothing.

func TestTaskTimeout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		fields    string
		wantRoute []string
		wantAfter time.Duration // how long the handler ran before being given up
		wantCause string
	}{
		{"TimeoutSeconds, caught", `"TimeoutSeconds": 30, "Catch": [{"ErrorEquals": ["States.Timeout"], "Next": "Caught"}]`,
			[]string{"A", "Caught"}, 30 * time.Second, "TimeoutSeconds of 30"},
		{"States.TaskFailed does not match States.Timeout", `"TimeoutSeconds": 30, "Catch": [
				{"ErrorEquals": ["States.TaskFailed"], "Next": "Wrong"},
				{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]`,
			[]string{"A", "Caught"}, 30 * time.Second, "TimeoutSeconds of 30"},
		{"HeartbeatSeconds: a Lambda function never heartbeats", `"TimeoutSeconds": 30, "HeartbeatSeconds": 5,
				"Catch": [{"ErrorEquals": ["States.Timeout"], "Next": "Caught"}]`,
			[]string{"A", "Caught"}, 5 * time.Second, "HeartbeatSeconds of 5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				timing := make(chan [2]time.Duration, 1)
				var c calls
				h := c.handler(func(ctx context.Context, _ int, _ json.RawMessage) (any, error) {
					start := time.Now()
					d, _ := ctx.Deadline()
					<-ctx.Done()
					timing <- [2]time.Duration{d.Sub(start), time.Since(start)}
					return nil, ctx.Err()
				})
				wrong := ""
				if strings.Contains(tt.fields, `"Wrong"`) {
					wrong = `"Wrong": {"Type": "Pass", "Next": "Done"},`
				}
				e, _ := execute(t, states(`
					"A": {"Type": "Task", "Resource": "block", "Next": "Done", `+tt.fields+`},
					`+wrong+`
					"Caught": {"Type": "Pass", "Next": "Done"},
					"Done": {"Type": "Succeed"}`), `{}`, map[string]Handler{"block": h})
				wantStatus(t, e, StatusSucceeded, "")
				got := <-timing
				deadline, ran := got[0], got[1]
				if got := e.Route(); !slices.Equal(got, append(tt.wantRoute, "Done")) {
					t.Errorf("route %v, want %v", got, append(tt.wantRoute, "Done"))
				}
				if deadline != tt.wantAfter || ran != tt.wantAfter {
					t.Errorf("handler had a deadline in %v and ran %v, want %v", deadline, ran, tt.wantAfter)
				}
				sameJSON(t, e.Output, `{"Error": "States.Timeout", "Cause": "The Lambda function did not finish within the state's `+tt.wantCause+`."}`)
				if !slices.Contains(eventTypes(e), LambdaFunctionTimedOut) {
					t.Errorf("no LambdaFunctionTimedOut in %v", eventTypes(e))
				}
			})
		})
	}
}

// A result that arrives after TimeoutSeconds is discarded, as Step Functions discards it.
func TestTaskTimeoutDiscardsLateResult(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		finished := make(chan struct{})
		h := lambdarun.NewHandler(func() (map[string]bool, error) {
			defer close(finished)
			time.Sleep(31 * time.Second) // ignores its context
			return map[string]bool{"late": true}, nil
		})
		e, _ := execute(t, states(`"A": {"Type": "Task", "Resource": "slow", "TimeoutSeconds": 30, "End": true}`), `{}`,
			map[string]Handler{"slow": h})
		wantStatus(t, e, StatusFailed, "States.Timeout")
		<-finished
		synctest.Wait()
		if strings.Contains(string(encodeJSON(e.Events)), "late") {
			t.Errorf("the late result reached history: %v", eventTypes(e))
		}
	})
}

func TestTaskTimeoutRetried(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var c calls
		h := c.handler(func(ctx context.Context, n int, _ json.RawMessage) (any, error) {
			if n == 1 {
				<-ctx.Done()
				return nil, ctx.Err()
			}
			return map[string]int{"attempt": n}, nil
		})
		e, clock := execute(t, states(`"A": {"Type": "Task", "Resource": "f", "TimeoutSeconds": 10, "End": true,
			"Retry": [{"ErrorEquals": ["TransientError", "States.Timeout"], "IntervalSeconds": 2}]}`), `{}`, map[string]Handler{"f": h})
		wantStatus(t, e, StatusSucceeded, "")
		sameJSON(t, e.Output, `{"attempt": 2}`)
		if got := clock.Sleeps(); !slices.Equal(got, seconds(2)) {
			t.Errorf("slept %v", got)
		}
	})
}

// The execution's TimeoutSeconds also bounds a running handler, and no Catch sees it.
func TestMachineTimeoutDuringTask(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := lambdarun.NewHandler(func(ctx context.Context) error {
			<-ctx.Done()
			return ctx.Err()
		})
		start := time.Now()
		e, _ := execute(t, `{"StartAt": "A", "TimeoutSeconds": 10, "States": {
			"A": {"Type": "Task", "Resource": "block", "TimeoutSeconds": 30, "Next": "B",
				"Catch": [{"ErrorEquals": ["States.ALL"], "Next": "B"}]},
			"B": {"Type": "Succeed"}}}`, `{}`, map[string]Handler{"block": h})
		wantStatus(t, e, StatusTimedOut, "States.Timeout")
		if took := time.Since(start); took != 10*time.Second {
			t.Errorf("timed out after %v, want 10s", took)
		}
		if got, want := eventTypes(e)[len(e.Events)-2:], []EventType{LambdaFunctionStarted, ExecutionTimedOut}; !slices.Equal(got, want) {
			t.Errorf("last events %v, want %v", got, want)
		}
		synctest.Wait()
	})
}
