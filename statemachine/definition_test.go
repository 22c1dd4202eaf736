package statemachine

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/healthstack/tenant-provisioning/internal/fault"
)

// state holds the fields these checks read; the local engine's loader checks the rest of
// the definition against the ASL spec.
type state struct {
	Type           string    `json:"Type"`
	Resource       string    `json:"Resource"`
	TimeoutSeconds int       `json:"TimeoutSeconds"`
	Retry          []retrier `json:"Retry"`
	Catch          []struct {
		ErrorEquals []string `json:"ErrorEquals"`
		ResultPath  string   `json:"ResultPath"`
		Next        string   `json:"Next"`
	} `json:"Catch"`
}

// retrier holds the Retry fields these checks read.
type retrier struct {
	ErrorEquals     []string `json:"ErrorEquals"`
	MaxAttempts     *int     `json:"MaxAttempts"`
	BackoffRate     float64  `json:"BackoffRate"`
	IntervalSeconds int      `json:"IntervalSeconds"`
	MaxDelaySeconds int      `json:"MaxDelaySeconds"`
	JitterStrategy  string   `json:"JitterStrategy"`
}

var lambdaServiceErrors = []string{
	"Lambda.ClientExecutionTimeoutException", "Lambda.ServiceException", "Lambda.AWSLambdaException",
	"Lambda.SdkClientException",
}

// lambdaThrottled is Lambda refusing an invocation for concurrency (the function's reserved
// concurrency, or the account's): a burst of onboardings meets it, and it passes as the
// burst drains, so it is retried on its own, longer than a service error.
const lambdaThrottled = "Lambda.TooManyRequestsException"

// A function killed at its timeout: Sandbox.Timedout, or Lambda.Unknown from older runtimes
// (and for an out-of-memory kill).
const (
	lambdaTimedOut = "Sandbox.Timedout"
	lambdaUnknown  = "Lambda.Unknown"
)

// Every Task follows the house rules: AWS's recommended retry of Lambda service errors, our
// transient class retried with backoff and jitter, a timeout, and a Catch of everything that
// keeps the input (ResultPath $.error) and leads to the rollback; and every error name the
// definition matches is one our code can return (or a States.* / Lambda.* name).
func TestTasksFollowTheHouseRules(t *testing.T) {
	t.Parallel()
	var def struct {
		States map[string]state `json:"States"`
	}
	if err := json.Unmarshal(Provisioning, &def); err != nil {
		t.Fatal(err)
	}
	tasks := 0
	for name, s := range def.States {
		if s.Type != "Task" {
			continue
		}
		tasks++
		t.Run(name, func(t *testing.T) {
			// The rollback retries everything, as its transient class.
			checkRetries(t, s, name == "Rollback")
			if len(s.Catch) == 0 {
				t.Fatal("no Catch")
			}
			last := s.Catch[len(s.Catch)-1]
			if !slices.Equal(last.ErrorEquals, []string{"States.ALL"}) || !strings.HasPrefix(last.ResultPath, "$.") {
				t.Errorf("last Catch = %+v, want States.ALL with a ResultPath that keeps the input", last)
			}
			// The welcome e-mail runs after activation: an ACTIVE tenant is not rolled back
			// for an e-mail, its execution ends WelcomeEmailNotSent instead.
			want := "Rollback"
			if name == "SendWelcomeEmail" {
				want = "WelcomeEmailNotSent"
			}
			if name != "Rollback" && (last.Next != want || last.ResultPath != "$.error") {
				t.Errorf("Catch goes to %s with ResultPath %s, want %s with $.error", last.Next, last.ResultPath, want)
			}
		})
	}
	if tasks != 9 {
		t.Errorf("%d Task states, want the 8 steps and the rollback", tasks)
	}
}

// checkRetries holds a Task to the house rules of retries: a ${…FunctionArn} Resource, a
// timeout, AWS's recommended retry of the Lambda service errors, throttling retried on its
// own for at least a couple of minutes, and our transient class (States.ALL too, when
// allRetried) retried with backoff and full jitter, matching only error names our code
// returns.
func checkRetries(t *testing.T, s state, allRetried bool) {
	t.Helper()
	if !regexp.MustCompile(`^\$\{[A-Za-z]+FunctionArn\}$`).MatchString(s.Resource) {
		t.Errorf("Resource %q is not a ${…FunctionArn} substitution", s.Resource)
	}
	if s.TimeoutSeconds <= 0 {
		t.Error("no TimeoutSeconds")
	}
	var lambdaRetry, throttleRetry, transientRetry, timeoutRetry bool
	for _, r := range s.Retry {
		lambdaRetry = lambdaRetry || slices.Equal(r.ErrorEquals, lambdaServiceErrors)
		if slices.Equal(r.ErrorEquals, []string{lambdaThrottled}) {
			throttleRetry = r.JitterStrategy == "FULL" && r.MaxAttempts != nil && waited(r) >= 120
		}
		if slices.Contains(r.ErrorEquals, "TransientError") || (allRetried && slices.Contains(r.ErrorEquals, "States.ALL")) {
			transientRetry = r.BackoffRate >= 1.5 && r.JitterStrategy == "FULL" && r.MaxAttempts != nil && *r.MaxAttempts >= 2
		}
		// A function that times out is reported as Sandbox.Timedout (Lambda.Unknown by
		// older runtimes); every step is idempotent, so it is retried like a transient
		// error rather than rolled back.
		if (slices.Contains(r.ErrorEquals, lambdaTimedOut) && slices.Contains(r.ErrorEquals, lambdaUnknown)) ||
			(allRetried && slices.Contains(r.ErrorEquals, "States.ALL")) {
			timeoutRetry = r.MaxAttempts != nil && *r.MaxAttempts >= 2
		}
		for _, e := range r.ErrorEquals {
			checkErrorName(t, e)
		}
	}
	if !lambdaRetry || !transientRetry || !throttleRetry || !timeoutRetry {
		t.Errorf("Retry lacks the Lambda service errors (%v), a backed-off, jittered transient retry (%v), a throttling retry of 2 minutes or more (%v) or a retry of a function timeout (%v)",
			lambdaRetry, transientRetry, throttleRetry, timeoutRetry)
	}
}

// waited is the most a retrier waits in all, in seconds, before its last attempt: each
// delay IntervalSeconds × BackoffRate^n, capped at MaxDelaySeconds (before jitter).
func waited(r retrier) float64 {
	total, delay := 0.0, float64(r.IntervalSeconds)
	for range *r.MaxAttempts {
		d := delay
		if r.MaxDelaySeconds > 0 {
			d = min(d, float64(r.MaxDelaySeconds))
		}
		total += d
		delay *= r.BackoffRate
	}
	return total
}

func checkErrorName(t *testing.T, name string) {
	t.Helper()
	if strings.HasPrefix(name, "States.") || strings.HasPrefix(name, "Lambda.") || strings.HasPrefix(name, "Sandbox.") {
		return
	}
	if !slices.Contains(fault.Names, name) {
		t.Errorf("ErrorEquals names %q, which no handler returns (fault.Names = %v)", name, fault.Names)
	}
}

// flatten lists a definition's states with those of its Map states' item processors, and
// which of them run inside a processor.
func flatten(states map[string]json.RawMessage, inProcessor bool, out map[string]state, inner map[string]bool) error {
	for name, raw := range states {
		var s state
		if err := json.Unmarshal(raw, &s); err != nil {
			return err
		}
		out[name], inner[name] = s, inProcessor
		var m struct {
			ItemProcessor *struct {
				States map[string]json.RawMessage `json:"States"`
			} `json:"ItemProcessor"`
		}
		if err := json.Unmarshal(raw, &m); err != nil {
			return err
		}
		if m.ItemProcessor != nil {
			if err := flatten(m.ItemProcessor.States, true, out, inner); err != nil {
				return err
			}
		}
	}
	return nil
}

// The upgrade's Tasks follow the same house rules of retries and timeouts. Its top-level
// Tasks end the run when they fail (the lister and the Map into SummarizeFailedUpgrade,
// the summaries into SummaryFailed); the Map's item processor catches nothing, so a batch
// that still fails after its retries fails its child execution and counts against the
// Map's tolerance.
func TestUpgradeTasksFollowTheHouseRules(t *testing.T) {
	t.Parallel()
	var def struct {
		States map[string]json.RawMessage `json:"States"`
	}
	if err := json.Unmarshal(Upgrade, &def); err != nil {
		t.Fatal(err)
	}
	states, inner := map[string]state{}, map[string]bool{}
	if err := flatten(def.States, false, states, inner); err != nil {
		t.Fatal(err)
	}
	tasks := 0
	for name, s := range states {
		if s.Type != "Task" && s.Type != "Map" {
			continue
		}
		if s.Type == "Task" {
			tasks++
		}
		t.Run(name, func(t *testing.T) {
			if s.Type == "Task" {
				checkRetries(t, s, false)
			}
			if inner[name] {
				if len(s.Catch) != 0 {
					t.Error("a Task of the Map's item processor catches: its batch's failure would not count against the tolerance")
				}
				return
			}
			want, path := "SummarizeFailedUpgrade", "$.error"
			if strings.HasPrefix(name, "Summarize") {
				want, path = "SummaryFailed", "$.summaryError"
			}
			if len(s.Catch) == 0 {
				t.Fatal("no Catch")
			}
			last := s.Catch[len(s.Catch)-1]
			if !slices.Equal(last.ErrorEquals, []string{"States.ALL"}) || last.Next != want || last.ResultPath != path {
				t.Errorf("last Catch = %+v, want States.ALL to %s with ResultPath %s", last, want, path)
			}
		})
	}
	if tasks != 4 {
		t.Errorf("%d Task states, want the lister, the batch and the two summaries", tasks)
	}
}
