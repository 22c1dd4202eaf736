package asl

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// The spec's Wait examples; the test clock starts at 01:00Z, an hour before the spec's
// timestamp would be too long to wait for real.
func TestWaitState(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, fields, input string
		wantSleep           time.Duration
		wantError           string
	}{
		{"Seconds", `"Seconds": 10`, `{}`, 10 * time.Second, ""},
		{"an hour", `"Seconds": 3600`, `{}`, time.Hour, ""},
		{"zero", `"Seconds": 0`, `{}`, 0, ""},
		{"Timestamp", `"Timestamp": "2016-03-14T01:59:00Z"`, `{}`, 59 * time.Minute, ""},
		{"Timestamp with offset", `"Timestamp": "2016-03-14T03:00:00+01:00"`, `{}`, time.Hour, ""},
		{"Timestamp passed", `"Timestamp": "2016-03-13T00:00:00Z"`, `{}`, 0, ""},
		{"SecondsPath", `"SecondsPath": "$.wait.s"`, `{"wait": {"s": 5}}`, 5 * time.Second, ""},
		{"TimestampPath", `"TimestampPath": "$.expirydate"`, `{"expirydate": "2016-03-14T01:00:30.5Z"}`, 30500 * time.Millisecond, ""},
		{"SecondsPath not an integer", `"SecondsPath": "$.s"`, `{"s": "5"}`, -1, "States.Runtime"},
		{"SecondsPath negative", `"SecondsPath": "$.s"`, `{"s": -5}`, -1, "States.Runtime"},
		{"SecondsPath missing", `"SecondsPath": "$.s"`, `{}`, -1, "States.Runtime"},
		{"TimestampPath not a timestamp", `"TimestampPath": "$.t"`, `{"t": "tomorrow"}`, -1, "States.Runtime"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, clock := execute(t, states(`"A": {"Type": "Wait", `+tt.fields+`, "Next": "B"}, "B": {"Type": "Succeed"}`), tt.input, nil)
			if tt.wantError != "" {
				wantStatus(t, e, StatusFailed, tt.wantError)
				if len(clock.Sleeps()) != 0 {
					t.Errorf("slept %v", clock.Sleeps())
				}
				return
			}
			wantStatus(t, e, StatusSucceeded, "")
			if got := clock.Sleeps(); !slices.Equal(got, []time.Duration{tt.wantSleep}) {
				t.Errorf("slept %v, want [%v]", got, tt.wantSleep)
			}
			sameJSON(t, e.Output, tt.input)
			if got, want := eventTypes(e)[1:3], []EventType{WaitStateEntered, WaitStateExited}; !slices.Equal(got, want) {
				t.Errorf("events %v, want %v", got, want)
			}
			if got := e.StopDate.Sub(e.StartDate); got != tt.wantSleep {
				t.Errorf("execution took %v on the clock, want %v", got, tt.wantSleep)
			}
		})
	}
}

func TestFailState(t *testing.T) {
	t.Parallel()
	const input = `{"error": {"Error": "InvariantError", "Cause": "{\"errorMessage\":\"bad\"}"}, "n": 3, "name": "x"}`
	tests := []struct {
		name, fields, wantError, wantCause string
	}{
		{"literals", `"Error": "ErrorA", "Cause": "Kaiju attack"`, "ErrorA", "Kaiju attack"},
		{"neither", ``, "", ""},
		{"paths", `"ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"`, "InvariantError", `{"errorMessage":"bad"}`},
		{"context path", `"ErrorPath": "$$.State.Name"`, "A", ""},
		{"intrinsic", `"Error": "E", "CausePath": "States.Format('{} failed {} times: {}', $.name, $.n, $.error.Error)"`, "E", "x failed 3 times: InvariantError"},
		{"intrinsic ErrorPath", `"ErrorPath": "States.JsonToString($.n)"`, "3", ""},
		{"path to a non-string", `"ErrorPath": "$.n"`, "States.Runtime", "The ErrorPath '$.n' must produce a string, not 3"},
		{"missing path", `"CausePath": "$.nope"`, "States.Runtime", "The JSONPath '$.nope' specified for the field 'CausePath' could not be found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sep := ", "
			if tt.fields == "" {
				sep = ""
			}
			e, _ := execute(t, states(`"A": {"Type": "Fail"`+sep+tt.fields+`}`), input, nil)
			wantStatus(t, e, StatusFailed, tt.wantError)
			if !strings.Contains(e.Cause, tt.wantCause) || (tt.wantError != "States.Runtime" && e.Cause != tt.wantCause) {
				t.Errorf("Cause %q, want %q", e.Cause, tt.wantCause)
			}
			if got, want := eventTypes(e), []EventType{ExecutionStarted, FailStateEntered, ExecutionFailed}; !slices.Equal(got, want) {
				t.Errorf("events %v, want %v", got, want)
			}
			if last := e.Events[len(e.Events)-1]; last.Error != e.Error || last.Cause != e.Cause {
				t.Errorf("ExecutionFailed %+v, execution %q %q", last, e.Error, e.Cause)
			}
		})
	}
}

func TestSucceedState(t *testing.T) {
	t.Parallel()
	e, _ := execute(t, states(`"A": {"Type": "Succeed", "InputPath": "$.a", "OutputPath": "$.b"}`), `{"a": {"b": [1]}}`, nil)
	wantStatus(t, e, StatusSucceeded, "")
	sameJSON(t, e.Output, `[1]`)
	if got, want := eventTypes(e), []EventType{ExecutionStarted, SucceedStateEntered, SucceedStateExited, ExecutionSucceeded}; !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
}

// The execution's TimeoutSeconds counts the clock's time: waits and retry intervals.
func TestMachineTimeoutOnTheClock(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, definition string
		wantSleeps       []time.Duration
		wantRoute        []string
	}{
		{"Wait longer than the execution may run", `{"StartAt": "A", "TimeoutSeconds": 60, "States": {
			"A": {"Type": "Wait", "Seconds": 3600, "Next": "B"}, "B": {"Type": "Succeed"}}}`,
			[]time.Duration{time.Minute}, []string{"A"}},
		{"retry intervals use up the time", `{"StartAt": "A", "TimeoutSeconds": 5, "States": {
			"A": {"Type": "Task", "Resource": "f", "End": true,
				"Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 2, "MaxAttempts": 5}],
				"Catch": [{"ErrorEquals": ["States.ALL"], "Next": "B"}]},
			"B": {"Type": "Succeed"}}}`,
			seconds(2, 3), []string{"A"}},
		{"checked between states", `{"StartAt": "A", "TimeoutSeconds": 10, "States": {
			"A": {"Type": "Wait", "Seconds": 9, "Next": "B"},
			"B": {"Type": "Wait", "Seconds": 1, "Next": "C"},
			"C": {"Type": "Succeed"}}}`,
			seconds(9, 1), []string{"A", "B"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var c calls
			e, clock := execute(t, tt.definition, `{}`, map[string]Handler{"f": failWith(&c, "E")})
			wantStatus(t, e, StatusTimedOut, "States.Timeout")
			if got := clock.Sleeps(); !slices.Equal(got, tt.wantSleeps) {
				t.Errorf("slept %v, want %v", got, tt.wantSleeps)
			}
			if got := e.Route(); !slices.Equal(got, tt.wantRoute) {
				t.Errorf("route %v, want %v", got, tt.wantRoute)
			}
			if last := e.Events[len(e.Events)-1]; last.Type != ExecutionTimedOut {
				t.Errorf("last event %s", last.Type)
			}
		})
	}
}
