package asl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/healthstack/tenant-provisioning/internal/local/lambdarun"
)

// TransientError stands for the typed errors handlers return: Step Functions matches the
// type's name.
type TransientError struct{}

func (*TransientError) Error() string { return "transient" }

// failWith returns a handler failing with the given error names in turn (the last one
// repeats), then succeeding with {} when a name is "".
func failWith(c *calls, names ...string) Handler {
	return c.handler(func(_ context.Context, n int, _ json.RawMessage) (any, error) {
		name := names[min(n, len(names))-1]
		if name == "" {
			return struct{}{}, nil
		}
		// aws-lambda-go passes an InvokeResponse_Error through as is: any name will do.
		return nil, messages.InvokeResponse_Error{Type: name, Message: "failed with " + name}
	})
}

func seconds(s ...float64) []time.Duration {
	out := []time.Duration{}
	for _, v := range s {
		out = append(out, time.Duration(v*float64(time.Second)))
	}
	return out
}

func TestRetryBackoff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		retry     string
		errors    []string
		wantSleep []time.Duration
		wantCalls int
		wantError string
	}{
		{"defaults: 1s, doubling, 3 attempts", `[{"ErrorEquals": ["E"]}]`,
			[]string{"E"}, seconds(1, 2, 4), 4, "E"},
		{"explicit", `[{"ErrorEquals": ["E"], "IntervalSeconds": 3, "MaxAttempts": 2, "BackoffRate": 1.5}]`,
			[]string{"E"}, seconds(3, 4.5), 3, "E"},
		{"MaxDelaySeconds caps", `[{"ErrorEquals": ["E"], "IntervalSeconds": 2, "BackoffRate": 3, "MaxAttempts": 4, "MaxDelaySeconds": 10}]`,
			[]string{"E"}, seconds(2, 6, 10, 10), 5, "E"},
		{"BackoffRate 1 keeps the interval", `[{"ErrorEquals": ["E"], "IntervalSeconds": 7, "BackoffRate": 1.0, "JitterStrategy": "NONE"}]`,
			[]string{"E"}, seconds(7, 7, 7), 4, "E"},
		{"MaxAttempts 0 never retries", `[{"ErrorEquals": ["E"], "MaxAttempts": 0}]`,
			[]string{"E"}, seconds(), 1, "E"},
		{"success after retries", `[{"ErrorEquals": ["E"]}]`,
			[]string{"E", "E", ""}, seconds(1, 2), 3, ""},
		{"unmatched error is not retried", `[{"ErrorEquals": ["E"]}]`,
			[]string{"Other"}, seconds(), 1, "Other"},
		{"each retrier counts its own attempts", `[
				{"ErrorEquals": ["A"], "IntervalSeconds": 1, "MaxAttempts": 2},
				{"ErrorEquals": ["B"], "IntervalSeconds": 10, "MaxAttempts": 2}]`,
			[]string{"A", "B", "A", "B", "A"}, seconds(1, 10, 2, 20), 5, "A"},
		{"the first match decides even when exhausted", `[
				{"ErrorEquals": ["E"], "MaxAttempts": 1},
				{"ErrorEquals": ["States.ALL"], "MaxAttempts": 5}]`,
			[]string{"E"}, seconds(1), 2, "E"},
		{"States.ALL", `[{"ErrorEquals": ["X", "Y"], "MaxAttempts": 1}, {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 4, "MaxAttempts": 1}]`,
			[]string{"Z"}, seconds(4), 2, "Z"},
		{"States.TaskFailed matches handler errors", `[{"ErrorEquals": ["States.TaskFailed"], "MaxAttempts": 2}]`,
			[]string{"E"}, seconds(1, 2), 3, "E"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var c calls
			e, clock := execute(t, states(`"A": {"Type": "Task", "Resource": "f", "End": true, "Retry": `+tt.retry+`}`), `{}`,
				map[string]Handler{"f": failWith(&c, tt.errors...)})
			status := StatusFailed
			if tt.wantError == "" {
				status = StatusSucceeded
			}
			wantStatus(t, e, status, tt.wantError)
			if got := clock.Sleeps(); !slices.Equal(got, tt.wantSleep) {
				t.Errorf("slept %v, want %v", got, tt.wantSleep)
			}
			if got := len(c.all()); got != tt.wantCalls {
				t.Errorf("handler called %d times, want %d", got, tt.wantCalls)
			}
			if got := e.Route(); !slices.Equal(got, []string{"A"}) {
				t.Errorf("route %v: retries must stay within one state entry", got)
			}
		})
	}
}

func TestRetryFullJitter(t *testing.T) {
	t.Parallel()
	m, err := Load([]byte(states(`"A": {"Type": "Task", "Resource": "f", "End": true, "Retry": [
		{"ErrorEquals": ["E"], "IntervalSeconds": 2, "BackoffRate": 2, "MaxAttempts": 4, "MaxDelaySeconds": 5, "JitterStrategy": "FULL"}]}`)), nil)
	if err != nil {
		t.Fatal(err)
	}
	bounds := seconds(2, 4, 5, 5)
	belowBound := 0
	for range 25 {
		var c calls
		clock := NewFastClockAt(epoch)
		if _, err := m.Run(t.Context(), nil, RunOptions{Handlers: map[string]Handler{"f": failWith(&c, "E")}, Clock: clock}); err != nil {
			t.Fatal(err)
		}
		sleeps := clock.Sleeps()
		if len(sleeps) != len(bounds) {
			t.Fatalf("slept %v, want %d sleeps", sleeps, len(bounds))
		}
		for i, d := range sleeps {
			if d < 0 || d > bounds[i] {
				t.Errorf("retry %d slept %v, want within [0, %v]", i+1, d, bounds[i])
			}
			if d < bounds[i] {
				belowBound++
			}
		}
	}
	if belowBound == 0 {
		t.Error("FULL jitter never shortened a wait")
	}
}

func TestCatch(t *testing.T) {
	t.Parallel()
	const catchers = `[
		{"ErrorEquals": ["X"], "Next": "CaughtX"},
		{"ErrorEquals": ["E", "F"], "Next": "CaughtE"},
		{"ErrorEquals": ["States.ALL"], "Next": "CaughtAll"}]`
	tests := []struct {
		name, catch, retry string
		errors             []string
		wantRoute          []string
		wantOutput         string
		wantCalls          int
	}{
		{"first matching catcher", catchers, `[]`, []string{"F"}, []string{"A", "CaughtE"},
			`{"Error": "F", "Cause": "{\"errorMessage\":\"failed with F\",\"errorType\":\"F\"}"}`, 1},
		{"States.ALL last", catchers, `[]`, []string{"Z"}, []string{"A", "CaughtAll"},
			`{"Error": "Z", "Cause": "{\"errorMessage\":\"failed with Z\",\"errorType\":\"Z\"}"}`, 1},
		{"ResultPath adds the error to the input", `[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "CaughtAll"}]`, `[]`,
			[]string{"E"}, []string{"A", "CaughtAll"},
			`{"id": 1, "error": {"Error": "E", "Cause": "{\"errorMessage\":\"failed with E\",\"errorType\":\"E\"}"}}`, 1},
		{"ResultPath null keeps the input", `[{"ErrorEquals": ["E"], "ResultPath": null, "Next": "CaughtE"}]`, `[]`,
			[]string{"E"}, []string{"A", "CaughtE"}, `{"id": 1}`, 1},
		{"retries come first", `[{"ErrorEquals": ["E"], "ResultPath": null, "Next": "CaughtE"}]`, `[{"ErrorEquals": ["E"], "MaxAttempts": 2}]`,
			[]string{"E"}, []string{"A", "CaughtE"}, `{"id": 1}`, 3},
		{"States.TaskFailed", `[{"ErrorEquals": ["States.TaskFailed"], "ResultPath": null, "Next": "CaughtE"}]`, `[]`,
			[]string{"Anything"}, []string{"A", "CaughtE"}, `{"id": 1}`, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var c calls
			targets := ""
			for _, name := range []string{"CaughtX", "CaughtE", "CaughtAll"} {
				if strings.Contains(tt.catch, `"`+name+`"`) {
					targets += `"` + name + `": {"Type": "Pass", "Next": "Done"}, `
				}
			}
			e, _ := execute(t, states(`
				"A": {"Type": "Task", "Resource": "f", "Next": "Done", "Retry": `+tt.retry+`, "Catch": `+tt.catch+`},
				`+targets+`"Done": {"Type": "Succeed"}`), `{"id": 1}`, map[string]Handler{"f": failWith(&c, tt.errors...)})
			wantStatus(t, e, StatusSucceeded, "")
			if got := e.Route(); !slices.Equal(got, append(tt.wantRoute, "Done")) {
				t.Errorf("route %v, want %v", got, append(tt.wantRoute, "Done"))
			}
			sameJSON(t, e.Output, tt.wantOutput)
			if got := len(c.all()); got != tt.wantCalls {
				t.Errorf("handler called %d times, want %d", got, tt.wantCalls)
			}
			// The caught Task exits with the catcher's output.
			for _, ev := range e.Events {
				if ev.Type == TaskStateExited {
					sameJSON(t, ev.Output, tt.wantOutput)
				}
			}
		})
	}
}

// Error names are what aws-lambda-go reports: the reflect name of the returned value.
func TestHandlerErrorNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		fn        any
		wantError string
		wantMsg   string
		wantStack bool
	}{
		{"typed pointer", func() error { return &TransientError{} }, "TransientError", "transient", false},
		{"wrapped", func() error { return fmt.Errorf("create schema: %w", &TransientError{}) }, "wrapError", "create schema: transient", false},
		{"errors.New", func() error { return errors.New("plain") }, "errorString", "plain", false},
		{"InvokeResponse_Error", func() error {
			return messages.InvokeResponse_Error{Type: "Custom.Error", Message: "custom"}
		}, "Custom.Error", "custom", false},
		{"panic with a string", func() error { panic("boom") }, "string", "boom", true},
		{"panic with an error", func() error { panic(&TransientError{}) }, "TransientError", "transient", true},
		{"runtime panic", func() error {
			var s []int
			return fmt.Errorf("%d", s[3])
		}, "boundsError", "runtime error: index out of range [3] with length 0", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, _ := execute(t, states(`"A": {"Type": "Task", "Resource": "f", "End": true}`), `{}`,
				map[string]Handler{"f": lambdarun.NewHandler(tt.fn)})
			wantStatus(t, e, StatusFailed, tt.wantError)
			var cause struct {
				Message string            `json:"errorMessage"`
				Type    string            `json:"errorType"`
				Stack   []json.RawMessage `json:"stackTrace"`
			}
			if err := json.Unmarshal([]byte(e.Cause), &cause); err != nil {
				t.Fatalf("Cause %q is not the Lambda error JSON: %v", e.Cause, err)
			}
			if cause.Message != tt.wantMsg || cause.Type != tt.wantError || (len(cause.Stack) > 0) != tt.wantStack {
				t.Errorf("Cause = %s", e.Cause)
			}
			if tt.wantStack && !strings.Contains(e.Cause, "TestHandlerErrorNames") {
				t.Errorf("the stack trace does not reach the panicking function: %s", e.Cause)
			}
		})
	}
}

// handlerFunc is a Handler that does not go through aws-lambda-go, to send raw bytes back.
type handlerFunc func(ctx context.Context, payload []byte) ([]byte, error)

func (f handlerFunc) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	return f(ctx, payload)
}

// States.Runtime and States.DataLimitExceeded end the execution: no Retry or Catch, not
// even on States.ALL, sees them.
func TestTerminalErrors(t *testing.T) {
	t.Parallel()
	const retryCatch = `"Retry": [{"ErrorEquals": ["States.ALL"]}], "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]`
	tests := []struct {
		name, fields string
		handler      Handler
		wantError    string
		wantCause    string
		wantCalls    int
	}{
		{"Parameters path missing", `"Parameters": {"id.$": "$.missing"}`, nil, "States.Runtime",
			`An error occurred while executing the state 'A' (entered at the event id #2). The JSONPath '$.missing' specified for the field 'id.$' could not be found in the input '{"present":1}'`, 0},
		{"InputPath missing", `"InputPath": "$.missing"`, nil, "States.Runtime", "Invalid path '$.missing'", 0},
		{"intrinsic failure", `"Parameters": {"v.$": "States.StringToJson($.present)"}`, nil, "States.Runtime",
			"The function 'States.StringToJson($.present)' specified for the field 'v.$' had the following error: argument 1 must be a string", 0},
		{"ResultSelector path missing", `"ResultSelector": {"x.$": "$.nothing"}`, nil, "States.Runtime", "'$.nothing' specified for the field 'x.$'", 1},
		{"OutputPath missing", `"OutputPath": "$.nothing"`, nil, "States.Runtime", "Invalid path '$.nothing'", 1},
		{"response is not JSON", ``, handlerFunc(func(context.Context, []byte) ([]byte, error) { return []byte("not json"), nil }),
			"States.Runtime", "not JSON", 1},
		{"response too large", ``, handlerFunc(func(context.Context, []byte) ([]byte, error) {
			return []byte(`"` + strings.Repeat("x", maxPayload) + `"`), nil
		}), "States.DataLimitExceeded", "size exceeding", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var c calls
			h := c.handler(func(context.Context, int, json.RawMessage) (any, error) { return map[string]int{"r": 1}, nil })
			if tt.handler != nil {
				inner := tt.handler
				h = handlerFunc(func(ctx context.Context, p []byte) ([]byte, error) {
					c.mu.Lock()
					c.payloads = append(c.payloads, string(p))
					c.mu.Unlock()
					return inner.Invoke(ctx, p)
				})
			}
			sep := ", "
			if tt.fields == "" {
				sep = ""
			}
			e, clock := execute(t, states(`
				"A": {"Type": "Task", "Resource": "f", "Next": "Done", `+retryCatch+sep+tt.fields+`},
				"Caught": {"Type": "Pass", "Next": "Done"},
				"Done": {"Type": "Succeed"}`), `{"present": 1}`, map[string]Handler{"f": h})
			wantStatus(t, e, StatusFailed, tt.wantError)
			if !strings.Contains(e.Cause, tt.wantCause) {
				t.Errorf("Cause %q, want it to contain %q", e.Cause, tt.wantCause)
			}
			if got := len(c.all()); got != tt.wantCalls {
				t.Errorf("handler called %d times, want %d", got, tt.wantCalls)
			}
			if len(clock.Sleeps()) != 0 || !slices.Equal(e.Route(), []string{"A"}) {
				t.Errorf("retried (%v) or caught (route %v)", clock.Sleeps(), e.Route())
			}
		})
	}
}

func TestEmptyResponseIsNull(t *testing.T) {
	t.Parallel()
	e, _ := execute(t, states(`"A": {"Type": "Task", "Resource": "f", "ResultPath": "$.r", "End": true}`), `{}`,
		map[string]Handler{"f": lambdarun.NewHandler(func() error { return nil })})
	wantStatus(t, e, StatusSucceeded, "")
	sameJSON(t, e.Output, `{"r": null}`)
}

func TestMissingHandlerFailsTheTask(t *testing.T) {
	t.Parallel()
	e, _ := execute(t, states(`
		"A": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:Nope", "Next": "Done",
			"Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error", "Next": "Caught"}]},
		"Caught": {"Type": "Pass", "Next": "Done"},
		"Done": {"Type": "Succeed"}`), `{}`, map[string]Handler{"Other": lambdaStub(`{}`)})
	wantStatus(t, e, StatusSucceeded, "")
	if got := e.Route(); !slices.Equal(got, []string{"A", "Caught", "Done"}) {
		t.Errorf("route %v", got)
	}
	if !slices.Contains(eventTypes(e), LambdaFunctionScheduleFailed) || !strings.Contains(string(e.Output), "No handler for resource") {
		t.Errorf("events %v, output %s", eventTypes(e), e.Output)
	}
}

// On a ScaledClock, a sleep of d moves the clock's Now at least d forward, as on the
// real clock, and ends early only when its context does.
func TestScaledClockKeepsItsOwnTime(t *testing.T) {
	t.Parallel()
	c := &ScaledClock{Factor: 1000}
	before := c.Now()
	if err := c.Sleep(context.Background(), 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if elapsed := c.Now().Sub(before); elapsed < 2*time.Second {
		t.Errorf("after Sleep(2s) the clock moved %s", elapsed)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Sleep(ctx, time.Hour); err == nil {
		t.Error("Sleep on an ended context returned no error")
	}
}
