package asl

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
)

// states wraps state definitions into a machine starting at A.
func states(s string) string { return `{"StartAt": "A", "States": {` + s + `}}` }

func TestLoadRejects(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 81)
	tests := []struct {
		name, definition, wantErrSub string
	}{
		{"not JSON", `{"StartAt": `, "not valid JSON"},
		{"not an object", `[]`, "must be a JSON object"},
		{"duplicate field", `{"StartAt": "A", "StartAt": "B", "States": {}}`, `duplicate field "StartAt"`},
		{"unknown top-level field", `{"StartAt": "A", "Foo": 1, "States": {"A": {"Type": "Succeed"}}}`, `unknown top-level field "Foo"`},
		{"missing StartAt", `{"States": {"A": {"Type": "Succeed"}}}`, "StartAt is required"},
		{"StartAt not a state", `{"StartAt": "B", "States": {"A": {"Type": "Succeed"}}}`, `StartAt "B" is not a state`},
		{"no states", `{"StartAt": "A", "States": {}}`, "States must be a non-empty object"},
		{"Version", `{"StartAt": "A", "Version": "2.0", "States": {"A": {"Type": "Succeed"}}}`, `Version must be "1.0"`},
		{"machine TimeoutSeconds", `{"StartAt": "A", "TimeoutSeconds": 0, "States": {"A": {"Type": "Succeed"}}}`, "TimeoutSeconds must be an integer from 1"},
		{"JSONata machine", `{"StartAt": "A", "QueryLanguage": "JSONata", "States": {"A": {"Type": "Succeed"}}}`, "JSONata is not supported"},
		{"JSONata state", states(`"A": {"Type": "Succeed", "QueryLanguage": "JSONata"}`), `state "A": QueryLanguage JSONata is not supported`},
		{"bad QueryLanguage", states(`"A": {"Type": "Succeed", "QueryLanguage": "XPath"}`), "must be JSONPath or JSONata"},
		{"unknown state type", states(`"A": {"Type": "Sleep", "End": true}`), `state "A": unknown state type "Sleep"`},
		{"Parallel", states(`"A": {"Type": "Parallel", "Branches": [], "End": true}`), "state type Parallel is not supported by the local engine"},
		{"Map without ItemProcessor", states(`"A": {"Type": "Map", "End": true}`), `state "A": ItemProcessor is required`},
		{"Map field in a Task", states(`"A": {"Type": "Task", "Resource": "f", "End": true, "ItemsPath": "$.x"}`), `field "ItemsPath" is not allowed in a Task state`},
		{"unknown state field", states(`"A": {"Type": "Pass", "End": true, "Resulr": 1}`), `state "A": unknown field "Resulr"`},
		{"field of another type", states(`"A": {"Type": "Pass", "End": true, "Retry": []}`), `state "A": field "Retry" is not allowed in a Pass state`},
		{"Result in a Task", states(`"A": {"Type": "Task", "Resource": "f", "End": true, "Result": 1}`), `field "Result" is not allowed in a Task state`},
		{"unimplemented field", states(`"A": {"Type": "Task", "Resource": "f", "End": true, "TimeoutSecondsPath": "$.t"}`), `field "TimeoutSecondsPath" (dynamic timeouts) is not supported by the local engine`},
		{"variables", states(`"A": {"Type": "Pass", "End": true, "Assign": {"x": 1}}`), `field "Assign" (variables) is not supported`},
		{"name too long", `{"StartAt": "` + long + `", "States": {"` + long + `": {"Type": "Succeed"}}}`, "must have 1 to 80 characters"},
		{"dangling Next", states(`"A": {"Type": "Pass", "Next": "B"}`), `state "A": Next "B" is not a state`},
		{"dangling Catch", states(`"A": {"Type": "Task", "Resource": "f", "End": true, "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Z"}]}`), `Catch[0].Next "Z" is not a state`},
		{"dangling Default", states(`"A": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsNull": true, "Next": "B"}], "Default": "Z"}, "B": {"Type": "Succeed"}`), `Default "Z" is not a state`},
		{"dangling Choice Next", states(`"A": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsNull": true, "Next": "Z"}]}, "B": {"Type": "Succeed"}`), `Choices[0].Next "Z" is not a state`},
		{"Next and End", states(`"A": {"Type": "Pass", "Next": "A", "End": true}`), "Next and End are mutually exclusive"},
		{"neither Next nor End", states(`"A": {"Type": "Pass"}`), "needs Next or"},
		{"End false", states(`"A": {"Type": "Pass", "End": false}`), "End must be true"},
		{"Succeed with Next", states(`"A": {"Type": "Succeed", "Next": "A"}`), `field "Next" is not allowed in a Succeed state`},
		{"Fail with End", states(`"A": {"Type": "Fail", "End": true}`), `field "End" is not allowed in a Fail state`},
		{"Choice with End", states(`"A": {"Type": "Choice", "End": true, "Choices": [{"Variable": "$.x", "IsNull": true, "Next": "B"}]}, "B": {"Type": "Succeed"}`), `field "End" is not allowed in a Choice state`},
		{"unreachable", states(`"A": {"Type": "Succeed"}, "B": {"Type": "Succeed"}`), `state "B" cannot be reached from StartAt`},
		{"no terminal state", states(`"A": {"Type": "Pass", "Next": "A"}`), "no state ends the execution"},
		{"bad InputPath", states(`"A": {"Type": "Pass", "End": true, "InputPath": "a.b"}`), "InputPath: path \"a.b\" must begin with $"},
		{"InputPath filter", states(`"A": {"Type": "Pass", "End": true, "InputPath": "$.a[?(@.b)]"}`), "filter and script expressions are not supported"},
		{"ResultPath wildcard", states(`"A": {"Type": "Pass", "End": true, "ResultPath": "$.a[*]"}`), "ResultPath \"$.a[*]\" must be a reference path"},
		{"OutputPath context", states(`"A": {"Type": "Pass", "End": true, "OutputPath": "$$.Execution"}`), "OutputPath cannot refer to the context object"},
		{"Parameters not an object", states(`"A": {"Type": "Pass", "End": true, "Parameters": [1]}`), "Parameters must be a JSON object"},
		{"Parameters bad path", states(`"A": {"Type": "Pass", "End": true, "Parameters": {"x.$": "$..["}}`), `Parameters: field "x.$"`},
		{"Parameters bad intrinsic", states(`"A": {"Type": "Pass", "End": true, "Parameters": {"x.$": "States.Format('{}')"}}`), "1 placeholders for 0 arguments"},
		{"Resource missing", states(`"A": {"Type": "Task", "End": true}`), "Resource is required"},
		{"unresolved substitution", states(`"A": {"Type": "Task", "Resource": "${MissingFunctionArn}", "End": true}`), "no substitution was given for ${MissingFunctionArn}"},
		{"service integration", states(`"A": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true}`), "only Lambda function ARNs are supported"},
		{"Task TimeoutSeconds 0", states(`"A": {"Type": "Task", "Resource": "f", "End": true, "TimeoutSeconds": 0}`), "TimeoutSeconds must be an integer from 1"},
		{"Task TimeoutSeconds string", states(`"A": {"Type": "Task", "Resource": "f", "End": true, "TimeoutSeconds": "30"}`), "TimeoutSeconds must be an integer"},
		{"Task TimeoutSeconds fraction", states(`"A": {"Type": "Task", "Resource": "f", "End": true, "TimeoutSeconds": 1.5}`), "TimeoutSeconds must be an integer"},
		{"HeartbeatSeconds 0", states(`"A": {"Type": "Task", "Resource": "f", "End": true, "HeartbeatSeconds": 0}`), "HeartbeatSeconds must be an integer from 1"},
		{"HeartbeatSeconds not below TimeoutSeconds", states(`"A": {"Type": "Task", "Resource": "f", "End": true, "TimeoutSeconds": 10, "HeartbeatSeconds": 10}`), "HeartbeatSeconds must be smaller than TimeoutSeconds"},
		{"ErrorEquals missing", states(`"A": {"Type": "Task", "Resource": "f", "End": true, "Retry": [{"MaxAttempts": 1}]}`), "Retry[0]: ErrorEquals must be a non-empty array"},
		{"ErrorEquals empty", states(`"A": {"Type": "Task", "Resource": "f", "End": true, "Retry": [{"ErrorEquals": []}]}`), "ErrorEquals must be a non-empty array"},
		{"States.ALL not alone", states(`"A": {"Type": "Task", "Resource": "f", "End": true, "Retry": [{"ErrorEquals": ["States.ALL", "X"]}]}`), "States.ALL must appear alone"},
		{"States.ALL not last", states(`"A": {"Type": "Task", "Resource": "f", "End": true, "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "A"}, {"ErrorEquals": ["X"], "Next": "A"}]}`), "Catch[0]: States.ALL must be in the last retrier or catcher"},
		{"unknown States error", states(`"A": {"Type": "Task", "Resource": "f", "End": true, "Retry": [{"ErrorEquals": ["States.TimeOut"]}]}`), `unknown error name "States.TimeOut"`},
		{"ErrorEquals not strings", states(`"A": {"Type": "Task", "Resource": "f", "End": true, "Retry": [{"ErrorEquals": [1]}]}`), "ErrorEquals must hold non-empty strings"},
		{"MaxAttempts negative", states(`"A": {"Type": "Task", "Resource": "f", "End": true, "Retry": [{"ErrorEquals": ["X"], "MaxAttempts": -1}]}`), "MaxAttempts must be an integer from 0"},
		{"IntervalSeconds 0", states(`"A": {"Type": "Task", "Resource": "f", "End": true, "Retry": [{"ErrorEquals": ["X"], "IntervalSeconds": 0}]}`), "IntervalSeconds must be an integer from 1"},
		{"BackoffRate below 1", states(`"A": {"Type": "Task", "Resource": "f", "End": true, "Retry": [{"ErrorEquals": ["X"], "BackoffRate": 0.5}]}`), "BackoffRate must be a number no smaller than 1.0"},
		{"MaxDelaySeconds 0", states(`"A": {"Type": "Task", "Resource": "f", "End": true, "Retry": [{"ErrorEquals": ["X"], "MaxDelaySeconds": 0}]}`), "MaxDelaySeconds must be an integer from 1"},
		{"JitterStrategy", states(`"A": {"Type": "Task", "Resource": "f", "End": true, "Retry": [{"ErrorEquals": ["X"], "JitterStrategy": "HALF"}]}`), "JitterStrategy must be FULL or NONE"},
		{"retrier field", states(`"A": {"Type": "Task", "Resource": "f", "End": true, "Retry": [{"ErrorEquals": ["X"], "Backoff": 2}]}`), `Retry[0]: unknown field "Backoff"`},
		{"catcher field", states(`"A": {"Type": "Task", "Resource": "f", "End": true, "Catch": [{"ErrorEquals": ["X"], "Next": "A", "OutputPath": "$"}]}`), `Catch[0]: unknown field "OutputPath"`},
		{"catcher without Next", states(`"A": {"Type": "Task", "Resource": "f", "End": true, "Catch": [{"ErrorEquals": ["X"]}]}`), "Catch[0]: Next is required"},
		{"Wait with two fields", states(`"A": {"Type": "Wait", "Seconds": 1, "SecondsPath": "$.s", "End": true}`), "exactly one of Seconds, Timestamp, SecondsPath or TimestampPath"},
		{"Wait with none", states(`"A": {"Type": "Wait", "End": true}`), "exactly one of"},
		{"Wait Seconds negative", states(`"A": {"Type": "Wait", "Seconds": -1, "End": true}`), "Seconds must be an integer from 0"},
		{"Wait lowercase timestamp", states(`"A": {"Type": "Wait", "Timestamp": "2016-03-14t01:59:00z", "End": true}`), "is not an RFC 3339 timestamp"},
		{"Wait SecondsPath wildcard", states(`"A": {"Type": "Wait", "SecondsPath": "$.s[*]", "End": true}`), "must be a reference path"},
		{"Choice without Choices", states(`"A": {"Type": "Choice", "Default": "B"}, "B": {"Type": "Succeed"}`), "Choices must be a non-empty array"},
		{"Choice rule without Next", states(`"A": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsNull": true}], "Default": "B"}, "B": {"Type": "Succeed"}`), "Choices[0]: Next is required"},
		{"nested rule with Next", states(`"A": {"Type": "Choice", "Choices": [{"Not": {"Variable": "$.x", "IsNull": true, "Next": "B"}, "Next": "B"}]}, "B": {"Type": "Succeed"}`), "Next is only allowed in a top-level Choice rule"},
		{"two operators", states(`"A": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsNull": true, "IsString": true, "Next": "B"}]}, "B": {"Type": "Succeed"}`), "exactly one comparison operator"},
		{"no operator", states(`"A": {"Type": "Choice", "Choices": [{"Variable": "$.x", "Next": "B"}]}, "B": {"Type": "Succeed"}`), "found 0"},
		{"unknown operator", states(`"A": {"Type": "Choice", "Choices": [{"Variable": "$.x", "StringContains": "a", "Next": "B"}]}, "B": {"Type": "Succeed"}`), `unknown field "StringContains"`},
		{"operand type", states(`"A": {"Type": "Choice", "Choices": [{"Variable": "$.x", "StringEquals": 1, "Next": "B"}]}, "B": {"Type": "Succeed"}`), "StringEquals needs a string, not 1"},
		{"numeric operand", states(`"A": {"Type": "Choice", "Choices": [{"Variable": "$.x", "NumericEquals": "1", "Next": "B"}]}, "B": {"Type": "Succeed"}`), "NumericEquals needs a number"},
		{"timestamp operand", states(`"A": {"Type": "Choice", "Choices": [{"Variable": "$.x", "TimestampEquals": "yesterday", "Next": "B"}]}, "B": {"Type": "Succeed"}`), "TimestampEquals needs an RFC 3339 timestamp"},
		{"Is operand", states(`"A": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsNull": "yes", "Next": "B"}]}, "B": {"Type": "Succeed"}`), "IsNull needs true or false"},
		{"Path operand", states(`"A": {"Type": "Choice", "Choices": [{"Variable": "$.x", "StringEqualsPath": "y", "Next": "B"}]}, "B": {"Type": "Succeed"}`), "must begin with $"},
		{"Variable missing", states(`"A": {"Type": "Choice", "Choices": [{"StringEquals": "a", "Next": "B"}]}, "B": {"Type": "Succeed"}`), "StringEquals needs a Variable"},
		{"Variable with And", states(`"A": {"Type": "Choice", "Choices": [{"Variable": "$.x", "And": [{"Variable": "$.x", "IsNull": true}], "Next": "B"}]}, "B": {"Type": "Succeed"}`), "Variable is not allowed with And"},
		{"empty And", states(`"A": {"Type": "Choice", "Choices": [{"And": [], "Next": "B"}]}, "B": {"Type": "Succeed"}`), "And must be a non-empty array"},
		{"JSONata Condition", states(`"A": {"Type": "Choice", "Choices": [{"Condition": "{% true %}", "Next": "B"}]}, "B": {"Type": "Succeed"}`), "Condition is not supported"},
		{"StringMatches trailing backslash", states(`"A": {"Type": "Choice", "Choices": [{"Variable": "$.x", "StringMatches": "a\\", "Next": "B"}]}, "B": {"Type": "Succeed"}`), "unescaped backslash"},
		{"Fail Error and ErrorPath", states(`"A": {"Type": "Fail", "Error": "E", "ErrorPath": "$.e"}`), "Error and ErrorPath are mutually exclusive"},
		{"Fail Cause and CausePath", states(`"A": {"Type": "Fail", "Cause": "C", "CausePath": "$.c"}`), "Cause and CausePath are mutually exclusive"},
		{"Fail CausePath intrinsic", states(`"A": {"Type": "Fail", "CausePath": "States.Format('{}')"}`), "CausePath: intrinsic function"},
		{"Fail ErrorPath indefinite", states(`"A": {"Type": "Fail", "ErrorPath": "$.e[*]"}`), "must be a reference path"},
		{"Fail InputPath", states(`"A": {"Type": "Fail", "InputPath": "$"}`), `field "InputPath" is not allowed in a Fail state`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := Load([]byte(tt.definition), nil)
			var de *DefinitionError
			if !errors.As(err, &de) {
				t.Fatalf("Load = %v, %v; want a *DefinitionError", m, err)
			}
			if !strings.Contains(err.Error(), tt.wantErrSub) {
				t.Errorf("Load error:\n%v\nwant it to mention %q", err, tt.wantErrSub)
			}
		})
	}
}

// One Load reports every problem, so that a definition is fixed in one go.
func TestLoadReportsAllProblems(t *testing.T) {
	t.Parallel()
	_, err := Load([]byte(states(`
		"A": {"Type": "Pass", "Next": "B", "Foo": 1},
		"B": {"Type": "Task", "Resource": "f", "TimeoutSeconds": 0, "End": true}`)), nil)
	var de *DefinitionError
	if !errors.As(err, &de) || len(de.Problems) != 2 {
		t.Fatalf("Load error = %v, want 2 problems", err)
	}
}

func TestLoadSubstitutions(t *testing.T) {
	t.Parallel()
	m, err := Load([]byte(states(`
		"A": {"Type": "Task", "Resource": "${FArn}", "Parameters": {"note": "${Stage}/${Unknown}"}, "Next": "B"},
		"B": {"Type": "Task", "Resource": "arn:aws:lambda:eu-west-1:123456789012:function:G:live", "Next": "C"},
		"C": {"Type": "Task", "Resource": "${FArn}", "End": true}`)),
		map[string]string{"FArn": "arn:aws:lambda:eu-west-1:123456789012:function:F", "Stage": "dev"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"arn:aws:lambda:eu-west-1:123456789012:function:F", "arn:aws:lambda:eu-west-1:123456789012:function:G:live"}
	if got := m.Resources(); !slices.Equal(got, want) {
		t.Errorf("Resources() = %v, want %v", got, want)
	}
	// Substitution happens in every string value, and an unknown name outside a Resource
	// is left as written, as CloudFormation leaves it.
	got, err := m.states["A"].parameters.eval(&env{})
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, encodeJSON(got), `{"note": "dev/${Unknown}"}`)

	stub := lambdaStub(`{}`)
	tests := []struct {
		handlers map[string]Handler
		missing  []string
	}{
		{map[string]Handler{"F": stub, "G": stub}, nil},
		{map[string]Handler{"F": stub, "G:live": stub}, nil},
		{map[string]Handler{want[0]: stub, want[1]: stub}, nil},
		{map[string]Handler{"F": stub}, want[1:]},
		{map[string]Handler{"G": stub, "arn:aws:lambda:eu-west-1:123456789012:function:F:live": stub}, want[:1]},
	}
	for _, tt := range tests {
		if got := m.MissingHandlers(tt.handlers); !slices.Equal(got, tt.missing) {
			t.Errorf("MissingHandlers(%v) = %v, want %v", slices.Sorted(maps.Keys(tt.handlers)), got, tt.missing)
		}
	}
}
