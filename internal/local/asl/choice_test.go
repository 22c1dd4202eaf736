package asl

import (
	"slices"
	"strings"
	"testing"
)

// The spec's Choice state example; the And's IsPresent guards the comparisons after it.
func TestChoiceSpecExample(t *testing.T) {
	t.Parallel()
	const definition = `{"StartAt": "ChoiceStateX", "States": {
		"ChoiceStateX": {
			"Type": "Choice",
			"Choices": [
				{"Not": {"Variable": "$.type", "StringEquals": "Private"}, "Next": "Public"},
				{"And": [
					{"Variable": "$.value", "IsPresent": true},
					{"Variable": "$.value", "IsNumeric": true},
					{"Variable": "$.value", "NumericGreaterThanEquals": 20},
					{"Variable": "$.value", "NumericLessThan": 30}
				], "Next": "ValueInTwenties"},
				{"Variable": "$.rating", "NumericGreaterThanPath": "$.auditThreshold", "Next": "StartAudit"}
			],
			"Default": "RecordEvent"
		},
		"Public": {"Type": "Succeed"},
		"ValueInTwenties": {"Type": "Succeed"},
		"StartAudit": {"Type": "Succeed"},
		"RecordEvent": {"Type": "Succeed"}
	}}`
	tests := []struct {
		input, wantState, wantError string
	}{
		{`{"type": "Public"}`, "Public", ""},
		{`{"type": "Private", "value": 22}`, "ValueInTwenties", ""},
		{`{"type": "Private", "value": 30, "rating": 50, "auditThreshold": 40}`, "StartAudit", ""},
		{`{"type": "Private", "value": "22", "rating": 50, "auditThreshold": 40}`, "StartAudit", ""},
		{`{"type": "Private", "rating": 10, "auditThreshold": 40}`, "RecordEvent", ""},
		// Without the guard's field, the last rule's Variable is missing: States.Runtime.
		{`{"type": "Private", "auditThreshold": 40}`, "", "States.Runtime"},
	}
	for _, tt := range tests {
		t.Run(tt.input, func(t *testing.T) {
			t.Parallel()
			e, _ := execute(t, definition, tt.input, nil)
			if tt.wantError != "" {
				wantStatus(t, e, StatusFailed, tt.wantError)
				if !strings.Contains(e.Cause, "Invalid path '$.rating': The choice state's condition path references an invalid value.") {
					t.Errorf("Cause %q", e.Cause)
				}
				return
			}
			wantStatus(t, e, StatusSucceeded, "")
			if got, want := e.Route(), []string{"ChoiceStateX", tt.wantState}; !slices.Equal(got, want) {
				t.Errorf("route %v, want %v", got, want)
			}
			sameJSON(t, e.Output, tt.input)
		})
	}
}

func compileRule(t *testing.T, js string) *rule {
	t.Helper()
	v, err := decodeDefinition([]byte(js), nil)
	if err != nil {
		t.Fatal(err)
	}
	l := &loader{}
	r := l.rule("rule", v.(*object), false)
	if len(l.problems) > 0 {
		t.Fatalf("rule %s: %v", js, l.problems)
	}
	return r
}

func TestChoiceOperators(t *testing.T) {
	t.Parallel()
	const input = `{
		"s": "log-2024.txt", "t": "b", "star": "a*b", "slash": "a\\b",
		"n": 10, "f": 10.0, "neg": -2.5, "other": 20,
		"yes": true, "no": false, "nil": null,
		"ts": "2016-03-14T01:59:00Z", "tsOffset": "2016-03-14T02:59:00+01:00", "tsLater": "2016-03-14T01:59:00.5Z",
		"obj": {}, "arr": []
	}`
	tests := []struct {
		rule string
		want bool
	}{
		{`{"Variable": "$.t", "StringEquals": "b"}`, true},
		{`{"Variable": "$.t", "StringEquals": "B"}`, false},
		{`{"Variable": "$.t", "StringLessThan": "c"}`, true},
		{`{"Variable": "$.t", "StringLessThan": "b"}`, false},
		{`{"Variable": "$.t", "StringGreaterThan": "a"}`, true},
		{`{"Variable": "$.t", "StringLessThanEquals": "b"}`, true},
		{`{"Variable": "$.t", "StringGreaterThanEquals": "c"}`, false},
		{`{"Variable": "$.t", "StringEqualsPath": "$.t"}`, true},
		{`{"Variable": "$.t", "StringLessThanPath": "$.s"}`, true},
		{`{"Variable": "$.s", "StringGreaterThanPath": "$.t"}`, true},
		{`{"Variable": "$.n", "StringEquals": "10"}`, false},
		{`{"Variable": "$.s", "StringMatches": "log-*.txt"}`, true},
		{`{"Variable": "$.s", "StringMatches": "*.txt"}`, true},
		{`{"Variable": "$.s", "StringMatches": "log-*.csv"}`, false},
		{`{"Variable": "$.s", "StringMatches": "*"}`, true},
		{`{"Variable": "$.star", "StringMatches": "a\\*b"}`, true},
		{`{"Variable": "$.s", "StringMatches": "log-2024\\*txt"}`, false},
		{`{"Variable": "$.slash", "StringMatches": "a\\\\b"}`, true},
		{`{"Variable": "$.n", "StringMatches": "*"}`, false},
		{`{"Variable": "$.n", "NumericEquals": 10}`, true},
		{`{"Variable": "$.f", "NumericEquals": 10}`, true},
		{`{"Variable": "$.n", "NumericEquals": 1e1}`, true},
		{`{"Variable": "$.n", "NumericLessThan": 10}`, false},
		{`{"Variable": "$.neg", "NumericLessThan": -2}`, true},
		{`{"Variable": "$.n", "NumericGreaterThan": 9.99}`, true},
		{`{"Variable": "$.n", "NumericLessThanEquals": 10}`, true},
		{`{"Variable": "$.n", "NumericGreaterThanEquals": 11}`, false},
		{`{"Variable": "$.n", "NumericEqualsPath": "$.f"}`, true},
		{`{"Variable": "$.n", "NumericLessThanPath": "$.other"}`, true},
		{`{"Variable": "$.n", "NumericGreaterThanPath": "$.other"}`, false},
		{`{"Variable": "$.n", "NumericLessThanEqualsPath": "$.f"}`, true},
		{`{"Variable": "$.n", "NumericGreaterThanEqualsPath": "$.other"}`, false},
		{`{"Variable": "$.t", "NumericEquals": 10}`, false},
		{`{"Variable": "$.n", "NumericEqualsPath": "$.t"}`, false},
		{`{"Variable": "$.yes", "BooleanEquals": true}`, true},
		{`{"Variable": "$.no", "BooleanEquals": true}`, false},
		{`{"Variable": "$.yes", "BooleanEqualsPath": "$.no"}`, false},
		{`{"Variable": "$.nil", "BooleanEquals": false}`, false},
		{`{"Variable": "$.ts", "TimestampEquals": "2016-03-14T01:59:00Z"}`, true},
		{`{"Variable": "$.tsOffset", "TimestampEquals": "2016-03-14T01:59:00Z"}`, true},
		{`{"Variable": "$.ts", "TimestampLessThan": "2016-03-14T01:59:00.001Z"}`, true},
		{`{"Variable": "$.ts", "TimestampGreaterThan": "2016-03-14T01:59:00Z"}`, false},
		{`{"Variable": "$.ts", "TimestampLessThanEquals": "2016-03-14T01:59:00Z"}`, true},
		{`{"Variable": "$.ts", "TimestampGreaterThanEquals": "2016-03-15T00:00:00Z"}`, false},
		{`{"Variable": "$.ts", "TimestampEqualsPath": "$.tsOffset"}`, true},
		{`{"Variable": "$.ts", "TimestampLessThanPath": "$.tsLater"}`, true},
		{`{"Variable": "$.tsLater", "TimestampGreaterThanPath": "$.ts"}`, true},
		{`{"Variable": "$.ts", "TimestampLessThanEqualsPath": "$.tsOffset"}`, true},
		{`{"Variable": "$.ts", "TimestampGreaterThanEqualsPath": "$.tsLater"}`, false},
		{`{"Variable": "$.t", "TimestampEquals": "2016-03-14T01:59:00Z"}`, false},
		{`{"Variable": "$.nil", "IsNull": true}`, true},
		{`{"Variable": "$.n", "IsNull": true}`, false},
		{`{"Variable": "$.n", "IsNull": false}`, true},
		{`{"Variable": "$.n", "IsPresent": true}`, true},
		{`{"Variable": "$.nope", "IsPresent": true}`, false},
		{`{"Variable": "$.nope.deeper[0]", "IsPresent": false}`, true},
		{`{"Variable": "$.nil", "IsPresent": true}`, true},
		{`{"Variable": "$.f", "IsNumeric": true}`, true},
		{`{"Variable": "$.t", "IsNumeric": true}`, false},
		{`{"Variable": "$.t", "IsString": true}`, true},
		{`{"Variable": "$.obj", "IsString": false}`, true},
		{`{"Variable": "$.no", "IsBoolean": true}`, true},
		{`{"Variable": "$.arr", "IsBoolean": true}`, false},
		{`{"Variable": "$.ts", "IsTimestamp": true}`, true},
		{`{"Variable": "$.s", "IsTimestamp": true}`, false},
		{`{"And": [{"Variable": "$.n", "NumericEquals": 10}, {"Variable": "$.t", "StringEquals": "b"}]}`, true},
		{`{"And": [{"Variable": "$.n", "NumericEquals": 10}, {"Variable": "$.t", "StringEquals": "x"}]}`, false},
		{`{"Or": [{"Variable": "$.n", "NumericEquals": 1}, {"Variable": "$.t", "StringEquals": "b"}]}`, true},
		{`{"Or": [{"Variable": "$.n", "NumericEquals": 1}, {"Variable": "$.t", "StringEquals": "x"}]}`, false},
		{`{"Not": {"Variable": "$.n", "NumericEquals": 1}}`, true},
		{`{"Not": {"Or": [{"Variable": "$.yes", "BooleanEquals": true}, {"Variable": "$.nope", "IsNull": true}]}}`, false},
		{`{"Variable": "$$.State.Name", "StringEquals": "S"}`, true},
	}
	data := mustDecode(t, input)
	ctxObj := mustDecode(t, `{"State": {"Name": "S"}}`)
	for _, tt := range tests {
		got, err := compileRule(t, tt.rule).match(&env{input: data, context: ctxObj})
		if err != nil {
			t.Errorf("%s: %v", tt.rule, err)
		} else if got != tt.want {
			t.Errorf("%s = %v, want %v", tt.rule, got, tt.want)
		}
	}
}

func TestChoiceMissingPaths(t *testing.T) {
	t.Parallel()
	data := mustDecode(t, `{"a": 1}`)
	for _, r := range []string{
		`{"Variable": "$.nope", "NumericEquals": 1}`,
		`{"Variable": "$.nope", "IsNull": true}`,
		`{"Variable": "$.a", "NumericEqualsPath": "$.nope"}`,
		`{"Not": {"Variable": "$.nope", "IsString": false}}`,
	} {
		if got, err := compileRule(t, r).match(&env{input: data}); err == nil {
			t.Errorf("%s = %v, want the choice path error", r, got)
		}
	}
}

func TestChoiceState(t *testing.T) {
	t.Parallel()
	const definition = `{"StartAt": "C", "States": {
		"C": {"Type": "Choice", "InputPath": "$.in", "OutputPath": "$.keep",
			"Choices": [{"Variable": "$.n", "NumericEquals": 1, "Next": "One"}]},
		"One": {"Type": "Succeed"}
	}}`
	e, _ := execute(t, definition, `{"in": {"n": 1, "keep": {"k": true}}, "dropped": 1}`, nil)
	wantStatus(t, e, StatusSucceeded, "")
	sameJSON(t, e.Output, `{"k": true}`)
	if got, want := eventTypes(e)[1:4], []EventType{ChoiceStateEntered, ChoiceStateExited, SucceedStateEntered}; !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
	e, _ = execute(t, definition, `{"in": {"n": 2}}`, nil)
	wantStatus(t, e, StatusFailed, "States.NoChoiceMatched")
}
