package asl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/healthstack/tenant-provisioning/internal/local/lambdarun"
)

var echo = lambdarun.NewHandler(func(in json.RawMessage) (json.RawMessage, error) { return in, nil })

// inline and distributed are the ProcessorConfigs of the two modes.
const (
	inline      = `{"Mode": "INLINE"}`
	distributed = `{"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}`
)

// mapOf is a machine whose state A is a Map with the given fields, its ItemProcessor in
// the given mode running processorStates from P.
func mapOf(fields, config, processorStates string) string {
	if fields != "" {
		fields += ", "
	}
	return states(`"A": {"Type": "Map", ` + fields + `"End": true,
		"ItemProcessor": {"ProcessorConfig": ` + config + `, "StartAt": "P", "States": {` + processorStates + `}}}`)
}

// Each field changes the output: a test that ignored one would fail.
func TestMapFields(t *testing.T) {
	t.Parallel()
	const input = `{"tenants": [{"id": "a"}, {"id": "b"}], "stage": "dev"}`
	pass := `"P": {"Type": "Pass", "End": true}`
	tests := []struct {
		name, fields, processor, want string
	}{
		{"ItemsPath", `"ItemsPath": "$.tenants"`, pass, `[{"id": "a"}, {"id": "b"}]`},
		{"ItemsPath from the context object", `"ItemsPath": "$$.Execution.Input.tenants"`, pass, `[{"id": "a"}, {"id": "b"}]`},
		{"InputPath then ItemsPath", `"InputPath": "$.tenants", "ItemsPath": "$"`, pass, `[{"id": "a"}, {"id": "b"}]`},
		{"ItemSelector", `"ItemsPath": "$.tenants", "ItemSelector": {
				"index.$": "$$.Map.Item.Index", "tenant.$": "$$.Map.Item.Value.id", "stage.$": "$.stage", "fixed": 1}`, pass,
			`[{"index": 0, "tenant": "a", "stage": "dev", "fixed": 1}, {"index": 1, "tenant": "b", "stage": "dev", "fixed": 1}]`},
		{"Parameters is ItemSelector's older name", `"ItemsPath": "$.tenants", "Parameters": {"i.$": "$$.Map.Item.Index"}`, pass,
			`[{"i": 0}, {"i": 1}]`},
		{"iterations run the processor", `"ItemsPath": "$.tenants"`,
			`"P": {"Type": "Pass", "Result": "done", "ResultPath": "$.r", "Next": "Q"}, "Q": {"Type": "Succeed", "OutputPath": "$.r"}`,
			`["done", "done"]`},
		{"ResultSelector, ResultPath", `"ItemsPath": "$.tenants", "ResultSelector": {"first.$": "$[0].id"}, "ResultPath": "$.out"`, pass,
			`{"tenants": [{"id": "a"}, {"id": "b"}], "stage": "dev", "out": {"first": "a"}}`},
		{"OutputPath", `"ItemsPath": "$.tenants", "ResultPath": "$.out", "OutputPath": "$.out[1]"`, pass, `{"id": "b"}`},
		{"a Task in the processor", `"ItemsPath": "$.tenants"`, `"P": {"Type": "Task", "Resource": "echo", "End": true}`,
			`[{"id": "a"}, {"id": "b"}]`},
		{"nested Map", `"ItemsPath": "$.tenants", "ItemSelector": {"pair.$": "States.Array($$.Map.Item.Value.id, $.stage)"}`,
			`"P": {"Type": "Map", "ItemsPath": "$.pair", "End": true, "ItemSelector": {"v.$": "$$.Map.Item.Value"},
				"ItemProcessor": {"StartAt": "Inner", "States": {"Inner": {"Type": "Pass", "End": true}}}}`,
			`[[{"v": "a"}, {"v": "dev"}], [{"v": "b"}, {"v": "dev"}]]`},
	}
	for _, tt := range tests {
		for _, mode := range []string{inline, distributed} {
			t.Run(tt.name+" "+mode, func(t *testing.T) {
				t.Parallel()
				e, _ := execute(t, mapOf(tt.fields, mode, tt.processor), input, map[string]Handler{"echo": echo})
				wantStatus(t, e, StatusSucceeded, "")
				sameJSON(t, e.Output, tt.want)
			})
		}
	}
	e, _ := execute(t, mapOf(`"ItemsPath": "$.none"`, inline, pass), `{"none": []}`, nil)
	wantStatus(t, e, StatusSucceeded, "")
	sameJSON(t, e.Output, `[]`)
}

func TestMapItemsMustBeAnArray(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{inline, distributed} {
		e, _ := execute(t, mapOf(`"ItemsPath": "$.x", "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "A"}]`, mode,
			`"P": {"Type": "Pass", "End": true}`), `{"x": {"not": "an array"}}`, nil)
		wantStatus(t, e, StatusFailed, "States.Runtime")
		if want := `An error occurred while executing the state 'A' (entered at the event id #2). The ItemsPath '$.x' must select a JSON array, not {"not":"an array"}`; e.Cause != want {
			t.Errorf("Cause %q\nwant %q", e.Cause, want)
		}
		if got := eventTypes(e); !slices.Equal(got, []EventType{ExecutionStarted, MapStateEntered, MapStateFailed, ExecutionFailed}) {
			t.Errorf("events %v", got)
		}
	}
}

// inFlight counts the handlers running at once, and makes each wait until as many run as
// the engine should allow, so that the limit is reached and never passed without relying on
// timing.
type inFlight struct {
	mu                 sync.Mutex
	now, peak, done    int
	limit, total       int
	payloads, finished []string
}

// handler counts the invocations in flight.
func (f *inFlight) handler() Handler {
	return handlerFunc(func(ctx context.Context, in []byte) ([]byte, error) {
		f.mu.Lock()
		f.now++
		f.peak = max(f.peak, f.now)
		f.mu.Unlock()
		for {
			f.mu.Lock()
			ready := f.now >= min(f.limit, f.total-f.done)
			f.mu.Unlock()
			if ready {
				break
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Millisecond):
			}
		}
		f.mu.Lock()
		f.now--
		f.done++
		f.mu.Unlock()
		return in, nil
	})
}

func TestMapMaxConcurrency(t *testing.T) {
	t.Parallel()
	items := `[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]`
	for _, tt := range []struct {
		mode           string
		maxConcurrency int
		want           int
	}{
		{inline, 3, 3}, {distributed, 3, 3}, {inline, 1, 1}, {distributed, 0, 10}, {inline, 0, 10}, {distributed, 25, 10},
	} {
		t.Run(fmt.Sprintf("%s %d", tt.mode, tt.maxConcurrency), func(t *testing.T) {
			t.Parallel()
			f := &inFlight{limit: tt.want, total: 10}
			e, _ := execute(t, mapOf(fmt.Sprintf(`"MaxConcurrency": %d`, tt.maxConcurrency), tt.mode,
				`"P": {"Type": "Task", "Resource": "f", "End": true}`), items, map[string]Handler{"f": f.handler()})
			wantStatus(t, e, StatusSucceeded, "")
			sameJSON(t, e.Output, items)
			if f.peak != tt.want {
				t.Errorf("%d handlers ran at once at most, want %d", f.peak, tt.want)
			}
		})
	}
}

// Iterations calling one Handler at once each get their own result.
func TestMapSharedHandler(t *testing.T) {
	t.Parallel()
	items := make([]string, 50)
	for i := range items {
		items[i] = fmt.Sprintf(`{"n": %d, "pad": %q}`, i, strings.Repeat("x", i*37))
	}
	input := "[" + strings.Join(items, ",") + "]"
	for _, mode := range []string{inline, distributed} {
		e, _ := execute(t, mapOf(``, mode, `"P": {"Type": "Task", "Resource": "echo", "End": true}`), input, map[string]Handler{"echo": echo})
		wantStatus(t, e, StatusSucceeded, "")
		sameJSON(t, e.Output, input)
	}
}

func TestMapItemBatcher(t *testing.T) {
	t.Parallel()
	const input = `{"stage": "dev", "items": [{"n": 1}, {"n": 2}, {"n": 3}, {"n": 4}, {"n": 5}]}`
	tests := []struct {
		name, batcher, want string
	}{
		{"MaxItemsPerBatch", `{"MaxItemsPerBatch": 2}`,
			`[{"Items": [{"n": 1}, {"n": 2}]}, {"Items": [{"n": 3}, {"n": 4}]}, {"Items": [{"n": 5}]}]`},
		// {"Items":[{"n":1},{"n":2}]} is 27 bytes; a third item would make it 35.
		{"MaxInputBytesPerBatch", `{"MaxInputBytesPerBatch": 34}`,
			`[{"Items": [{"n": 1}, {"n": 2}]}, {"Items": [{"n": 3}, {"n": 4}]}, {"Items": [{"n": 5}]}]`},
		{"MaxInputBytesPerBatch exactly", `{"MaxInputBytesPerBatch": 35}`,
			`[{"Items": [{"n": 1}, {"n": 2}, {"n": 3}]}, {"Items": [{"n": 4}, {"n": 5}]}]`},
		{"both limits", `{"MaxItemsPerBatch": 1, "MaxInputBytesPerBatch": 1000}`,
			`[{"Items": [{"n": 1}]}, {"Items": [{"n": 2}]}, {"Items": [{"n": 3}]}, {"Items": [{"n": 4}]}, {"Items": [{"n": 5}]}]`},
		{"BatchInput", `{"MaxItemsPerBatch": 3, "BatchInput": {"stage.$": "$.stage", "machine.$": "$$.StateMachine.Name", "fixed": true}}`,
			`[{"BatchInput": {"stage": "dev", "machine": "local", "fixed": true}, "Items": [{"n": 1}, {"n": 2}, {"n": 3}]},
			  {"BatchInput": {"stage": "dev", "machine": "local", "fixed": true}, "Items": [{"n": 4}, {"n": 5}]}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, _ := execute(t, mapOf(`"ItemsPath": "$.items", "ItemBatcher": `+tt.batcher, distributed,
				`"P": {"Type": "Task", "Resource": "echo", "End": true}`), input, map[string]Handler{"echo": echo})
			wantStatus(t, e, StatusSucceeded, "")
			sameJSON(t, e.Output, tt.want)
			var want []any
			if err := json.Unmarshal([]byte(tt.want), &want); err != nil {
				t.Fatal(err)
			}
			mr := onlyMapRun(t, e)
			if int(mr.ExecutionCounts.Total) != len(want) || mr.ItemCounts.Total != 5 || mr.ItemCounts.Succeeded != 5 {
				t.Errorf("item counts %+v, execution counts %+v", mr.ItemCounts, mr.ExecutionCounts)
			}
		})
	}
	t.Run("an item no batch can hold", func(t *testing.T) {
		t.Parallel()
		e, _ := execute(t, mapOf(`"ItemsPath": "$.items", "ItemBatcher": {"MaxInputBytesPerBatch": 20}`, distributed,
			`"P": {"Type": "Pass", "End": true}`), `{"items": [1, "a long string of some size"]}`, nil)
		wantStatus(t, e, StatusFailed, "States.Runtime")
		if !strings.Contains(e.Cause, "The item at index 1 makes a batch of 40 bytes, over the ItemBatcher's MaxInputBytesPerBatch of 20") {
			t.Errorf("Cause %q", e.Cause)
		}
		if got := eventTypes(e); !slices.Equal(got, []EventType{ExecutionStarted, MapStateEntered, MapStateStarted,
			MapRunStarted, MapRunFailed, MapStateFailed, ExecutionFailed}) {
			t.Errorf("events %v", got)
		}
	})
}

func onlyMapRun(t *testing.T, e *Execution) MapRun {
	t.Helper()
	if len(e.MapRuns) != 1 {
		t.Fatalf("%d map runs, want 1", len(e.MapRuns))
	}
	return e.MapRuns[0]
}

// failOdd fails for the items whose "fail" is true.
var failOdd = lambdarun.NewHandler(func(in struct {
	N    int  `json:"n"`
	Fail bool `json:"fail"`
}) (int, error) {
	if in.Fail {
		return 0, messages.InvokeResponse_Error{Type: "ItemError", Message: fmt.Sprintf("item %d", in.N)}
	}
	return in.N * 10, nil
})

func TestMapToleratedFailures(t *testing.T) {
	t.Parallel()
	oneOfFour := `{"items": [{"n": 1}, {"n": 2, "fail": true}, {"n": 3}, {"n": 4}]}`
	twoOfFour := `{"items": [{"n": 1}, {"n": 2, "fail": true}, {"n": 3, "fail": true}, {"n": 4}]}`
	tests := []struct {
		name, fields, input string
		wantFailed          bool
		wantFailedItems     int64
	}{
		{"no tolerance", ``, oneOfFour, true, 1},
		{"count tolerates", `"ToleratedFailureCount": 1`, oneOfFour, false, 1},
		{"count exceeded", `"ToleratedFailureCount": 1`, twoOfFour, true, 2},
		{"percentage tolerates", `"ToleratedFailurePercentage": 25`, oneOfFour, false, 1},
		{"percentage exceeded", `"ToleratedFailurePercentage": 25`, twoOfFour, true, 2},
		{"either exceeded fails", `"ToleratedFailureCount": 5, "ToleratedFailurePercentage": 25`, twoOfFour, true, 2},
		{"fractional percentage", `"ToleratedFailurePercentage": 50.5`, twoOfFour, false, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sep := ", "
			if tt.fields == "" {
				sep = ""
			}
			e, _ := execute(t, states(`
				"A": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1, `+tt.fields+sep+`"Next": "Done",
					"Catch": [{"ErrorEquals": ["States.ExceedToleratedFailureThreshold"], "ResultPath": "$.error", "Next": "TooManyFailed"}],
					"ItemProcessor": {"ProcessorConfig": `+distributed+`, "StartAt": "P", "States": {
						"P": {"Type": "Task", "Resource": "f", "End": true}}}},
				"TooManyFailed": {"Type": "Pass", "Next": "Done"},
				"Done": {"Type": "Succeed"}`), tt.input, map[string]Handler{"f": failOdd})
			wantStatus(t, e, StatusSucceeded, "")
			mr := onlyMapRun(t, e)
			if mr.ItemCounts.Failed != tt.wantFailedItems {
				t.Errorf("item counts %+v, want %d failed", mr.ItemCounts, tt.wantFailedItems)
			}
			if tt.wantFailed {
				if got := e.Route(); !slices.Equal(got, []string{"A", "TooManyFailed", "Done"}) {
					t.Errorf("route %v", got)
				}
				sameJSON(t, e.Output, string(mustSet(t, tt.input, "$.error",
					`{"Error": "States.ExceedToleratedFailureThreshold", "Cause": "The specified tolerated failure threshold was exceeded"}`)))
				if mr.Status != StatusFailed {
					t.Errorf("map run %s", mr.Status)
				}
				if !slices.Contains(eventTypes(e), MapRunFailed) {
					t.Errorf("events %v", eventTypes(e))
				}
				return
			}
			if mr.Status != StatusSucceeded {
				t.Errorf("map run %s", mr.Status)
			}
			// A tolerated failure keeps its item's place, as the failed child's description.
			var raw []json.RawMessage
			if err := json.Unmarshal(e.Output, &raw); err != nil || len(raw) != 4 {
				t.Fatalf("output %s", e.Output)
			}
			sameJSON(t, raw[0], `10`)
			sameJSON(t, raw[3], `40`)
			var failed struct {
				ExecutionArn, Name, Status, Error, Cause, Input, StartDate, StopDate, StateMachineArn string
			}
			if err := json.Unmarshal(raw[1], &failed); err != nil {
				t.Fatal(err)
			}
			child := mr.Executions[1]
			if failed.Status != "FAILED" || failed.Error != "ItemError" || !strings.Contains(failed.Cause, "item 2") ||
				failed.ExecutionArn != child.Arn || failed.Name != child.Name || failed.StateMachineArn != child.StateMachineArn ||
				failed.Input != `{"fail":true,"n":2}` || failed.StartDate == "" || failed.StopDate == "" {
				t.Errorf("failed child's result %s", raw[1])
			}
		})
	}
}

// mustSet is input with value placed at path, as ResultPath places it.
func mustSet(t *testing.T, input, path, value string) json.RawMessage {
	t.Helper()
	in, err := decodeJSON([]byte(input))
	if err != nil {
		t.Fatal(err)
	}
	v, err := decodeJSON([]byte(value))
	if err != nil {
		t.Fatal(err)
	}
	p, err := parsePath(path)
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.set(in, v)
	if err != nil {
		t.Fatal(err)
	}
	return encodeJSON(out)
}

// Once the threshold is passed, the children not yet started never start.
func TestMapStopsSchedulingPastThreshold(t *testing.T) {
	t.Parallel()
	var c calls
	h := c.handler(func(context.Context, int, json.RawMessage) (any, error) {
		return nil, messages.InvokeResponse_Error{Type: "ItemError", Message: "always"}
	})
	e, _ := execute(t, mapOf(`"MaxConcurrency": 1, "ToleratedFailureCount": 1`, distributed,
		`"P": {"Type": "Task", "Resource": "f", "End": true}`), `[1, 2, 3, 4, 5]`, map[string]Handler{"f": h})
	wantStatus(t, e, StatusFailed, "States.ExceedToleratedFailureThreshold")
	if got := len(c.all()); got != 2 {
		t.Errorf("%d children ran, want 2: the second failure passes the threshold", got)
	}
	mr := onlyMapRun(t, e)
	if want := (MapRunCounts{Pending: 3, Failed: 2, Total: 5}); mr.ItemCounts != want {
		t.Errorf("item counts %+v, want %+v", mr.ItemCounts, want)
	}
}

func TestMapInlineFailure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, fields string
		errors       []string
		wantRoute    []string
		wantCalls    int
		wantOutput   string
	}{
		{"Catch", `"Catch": [{"ErrorEquals": ["ItemError"], "ResultPath": "$.error", "Next": "Caught"}]`,
			[]string{"ItemError"}, []string{"A", "P", "Caught"}, 1,
			`{"items": [1, 2, 3], "error": {"Error": "ItemError", "Cause": "{\"errorMessage\":\"failed with ItemError\",\"errorType\":\"ItemError\"}"}}`},
		{"Retry re-runs the whole Map", `"Retry": [{"ErrorEquals": ["ItemError"], "IntervalSeconds": 3}]`,
			[]string{"ItemError", "", "", "", ""}, []string{"A", "P", "P", "P", "P"}, 4,
			`{"items": [1, 2, 3], "out": [{}, {}, {}]}`},
		{"Retry then Catch", `"Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 1}],
				"Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": null, "Next": "Caught"}]`,
			[]string{"ItemError"}, []string{"A", "P", "P", "Caught"}, 2, `{"items": [1, 2, 3]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var c calls
			caught := ""
			if strings.Contains(tt.fields, `"Caught"`) {
				caught = `"Caught": {"Type": "Pass", "Next": "Done"},`
			}
			e, clock := execute(t, states(`
				"A": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1, "ResultPath": "$.out", "Next": "Done", `+tt.fields+`,
					"ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Task", "Resource": "f", "End": true}}}},
				`+caught+`
				"Done": {"Type": "Succeed"}`), `{"items": [1, 2, 3]}`, map[string]Handler{"f": failWith(&c, tt.errors...)})
			wantStatus(t, e, StatusSucceeded, "")
			if got := e.Route(); !slices.Equal(got, append(tt.wantRoute, "Done")) {
				t.Errorf("route %v, want %v", got, append(tt.wantRoute, "Done"))
			}
			if got := len(c.all()); got != tt.wantCalls {
				t.Errorf("handler called %d times, want %d", got, tt.wantCalls)
			}
			sameJSON(t, e.Output, tt.wantOutput)
			if tt.name == "Retry re-runs the whole Map" && !slices.Equal(clock.Sleeps(), seconds(3)) {
				t.Errorf("slept %v", clock.Sleeps())
			}
		})
	}
}

// The first failing iteration fails the Map; the others running are stopped.
func TestMapInlineFailureAbortsOthers(t *testing.T) {
	t.Parallel()
	started := make(chan struct{}, 3)
	h := handlerFunc(func(ctx context.Context, in []byte) ([]byte, error) {
		started <- struct{}{}
		if string(in) == "2" {
			for range 3 {
				<-started
			}
			return nil, messages.InvokeResponse_Error{Type: "TransientError", Message: "transient"}
		}
		<-ctx.Done()
		return nil, ctx.Err()
	})
	e, _ := execute(t, mapOf(``, inline, `"P": {"Type": "Task", "Resource": "f", "End": true}`), `[1, 2, 3]`, map[string]Handler{"f": h})
	wantStatus(t, e, StatusFailed, "TransientError")
	count := map[EventType]int{}
	for _, ev := range e.Events {
		count[ev.Type]++
	}
	if count[MapIterationStarted] != 3 || count[MapIterationFailed] != 1 || count[MapIterationAborted] != 2 || count[MapStateFailed] != 1 {
		t.Errorf("events %v", eventTypes(e))
	}
}

func TestMapInlineHistory(t *testing.T) {
	t.Parallel()
	e, _ := execute(t, states(`
		"A": {"Type": "Map", "MaxConcurrency": 1, "Next": "B",
			"ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Task", "Resource": "echo", "End": true}}}},
		"B": {"Type": "Succeed"}`), `["x", "y"]`, map[string]Handler{"echo": echo})
	wantStatus(t, e, StatusSucceeded, "")
	iteration := []EventType{MapIterationStarted, TaskStateEntered, LambdaFunctionScheduled, LambdaFunctionStarted,
		LambdaFunctionSucceeded, TaskStateExited, MapIterationSucceeded}
	want := slices.Concat([]EventType{ExecutionStarted, MapStateEntered, MapStateStarted}, iteration, iteration,
		[]EventType{MapStateSucceeded, MapStateExited, SucceedStateEntered, SucceedStateExited, ExecutionSucceeded})
	if got := eventTypes(e); !slices.Equal(got, want) {
		t.Fatalf("events:\n%v\nwant\n%v", got, want)
	}
	if got := e.Route(); !slices.Equal(got, []string{"A", "P", "P", "B"}) {
		t.Errorf("route %v", got)
	}
	for i, ev := range e.Events {
		if ev.ID != int64(i+1) || ev.PreviousEventID != int64(i) {
			t.Errorf("event %d has ID %d", i, ev.ID)
		}
		inside := i >= 3 && i < 3+2*len(iteration)
		if wantIndex := int64((i - 3) / len(iteration)); inside && (ev.Index == nil || *ev.Index != wantIndex) || !inside && ev.Index != nil {
			t.Errorf("event %d %s has index %v", i, ev.Type, ev.Index)
		}
	}
	if l := e.Events[2].Length; l == nil || *l != 2 {
		t.Errorf("MapStateStarted length %v", l)
	}
	sameJSON(t, e.Events[4].Input, `"x"`)
	sameJSON(t, e.Events[len(e.Events)-4].Output, `["x", "y"]`)
	if len(e.MapRuns) != 0 {
		t.Errorf("an inline Map has no map run: %+v", e.MapRuns)
	}
}

// Inside an iteration, $$.Execution is the parent's; inside a child execution, its own.
func TestMapContextObject(t *testing.T) {
	t.Parallel()
	processor := `"P": {"Type": "Pass", "Parameters": {"id.$": "$$.Execution.Id", "machine.$": "$$.StateMachine.Id", "state.$": "$$.State.Name"}, "End": true}`
	e, _ := execute(t, mapOf(``, inline, processor), `[1]`, nil)
	wantStatus(t, e, StatusSucceeded, "")
	sameJSON(t, e.Output, `[{"id": "arn:aws:states:local:000000000000:execution:local:test", "machine": "arn:aws:states:local:000000000000:stateMachine:local", "state": "P"}]`)

	e, _ = execute(t, mapOf(`"Label": "Fan"`, distributed, processor), `[1]`, nil)
	wantStatus(t, e, StatusSucceeded, "")
	child := onlyMapRun(t, e).Executions[0]
	sameJSON(t, e.Output, fmt.Sprintf(`[{"id": %q, "machine": "arn:aws:states:local:000000000000:stateMachine:local/Fan", "state": "P"}]`, child.Arn))
}

func TestMapDistributedHistory(t *testing.T) {
	t.Parallel()
	m, err := Load([]byte(states(`
		"A": {"Type": "Map", "Label": "Tenants", "MaxConcurrency": 1, "ToleratedFailureCount": 3, "ToleratedFailurePercentage": 50, "Next": "B",
			"ItemProcessor": {"ProcessorConfig": `+distributed+`, "StartAt": "P", "States": {
				"P": {"Type": "Task", "Resource": "f", "End": true}}}},
		"B": {"Type": "Succeed"}`)), nil)
	if err != nil {
		t.Fatal(err)
	}
	onEvent, seen := recordTypes()
	e, err := m.Run(t.Context(), json.RawMessage(`[{"n": 1}, {"n": 2, "fail": true}]`), RunOptions{
		Name: "parent", Handlers: map[string]Handler{"f": failOdd}, Clock: NewFastClockAt(epoch),
		Region: "eu-west-1", Account: "123456789012", StateMachineName: "upgrade",
		OnEvent: onEvent,
	})
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, e, StatusSucceeded, "")
	want := []EventType{ExecutionStarted, MapStateEntered, MapStateStarted, MapRunStarted, MapRunSucceeded,
		MapStateSucceeded, MapStateExited, SucceedStateEntered, SucceedStateExited, ExecutionSucceeded}
	if got := eventTypes(e); !slices.Equal(got, want) {
		t.Fatalf("events:\n%v\nwant\n%v", got, want)
	}
	if !slices.Equal(seen(), want) {
		t.Errorf("OnEvent saw %v: only the parent's events", seen())
	}
	mr := onlyMapRun(t, e)
	if !regexp.MustCompile(`^arn:aws:states:eu-west-1:123456789012:mapRun:upgrade/Tenants:[0-9a-f-]{36}$`).MatchString(mr.Arn) ||
		e.Events[3].MapRunArn != mr.Arn {
		t.Errorf("map run ARN %s, MapRunStarted %+v", mr.Arn, e.Events[3])
	}
	if mr.StateName != "A" || mr.Status != StatusSucceeded || mr.MaxConcurrency != 1 || mr.ToleratedFailureCount != 3 ||
		mr.ToleratedFailurePercentage != 50 || !mr.StartDate.Equal(epoch) || !mr.StopDate.Equal(epoch) {
		t.Errorf("map run %+v", mr)
	}
	if want := (MapRunCounts{Succeeded: 1, Failed: 1, Total: 2}); mr.ItemCounts != want || mr.ExecutionCounts != want {
		t.Errorf("counts %+v %+v, want %+v", mr.ItemCounts, mr.ExecutionCounts, want)
	}
	if len(mr.Executions) != 2 {
		t.Fatalf("%d child executions", len(mr.Executions))
	}
	for i, child := range mr.Executions {
		if !regexp.MustCompile(`^arn:aws:states:eu-west-1:123456789012:execution:upgrade/Tenants:[0-9a-f-]{36}$`).MatchString(child.Arn) ||
			!strings.HasSuffix(child.Arn, ":"+child.Name) || child.StateMachineArn != "arn:aws:states:eu-west-1:123456789012:stateMachine:upgrade/Tenants" {
			t.Errorf("child %d: ARN %s, name %s, machine %s", i, child.Arn, child.Name, child.StateMachineArn)
		}
		if got := child.Route(); !slices.Equal(got, []string{"P"}) {
			t.Errorf("child %d route %v", i, got)
		}
	}
	ok, failed := mr.Executions[0], mr.Executions[1]
	if ok.Status != StatusSucceeded || failed.Status != StatusFailed || failed.Error != "ItemError" {
		t.Errorf("children %s, %s %s", ok.Status, failed.Status, failed.Error)
	}
	sameJSON(t, ok.Input, `{"n": 1}`)
	sameJSON(t, ok.Output, `10`)
	if got, want := eventTypes(&ok), []EventType{ExecutionStarted, TaskStateEntered, LambdaFunctionScheduled, LambdaFunctionStarted,
		LambdaFunctionSucceeded, TaskStateExited, ExecutionSucceeded}; !slices.Equal(got, want) {
		t.Errorf("child history %v, want %v", got, want)
	}
	if got := eventTypes(&failed); got[len(got)-1] != ExecutionFailed {
		t.Errorf("failed child history %v", got)
	}
	if _, err := json.Marshal(e); err != nil {
		t.Errorf("the execution does not marshal: %v", err)
	}
}

// A Task's Retry inside a child execution retries within that child.
func TestMapChildRetry(t *testing.T) {
	t.Parallel()
	var c calls
	e, clock := execute(t, mapOf(`"MaxConcurrency": 1`, distributed, `"P": {"Type": "Task", "Resource": "f", "End": true,
		"Retry": [{"ErrorEquals": ["TransientError"], "IntervalSeconds": 2}]}`), `[1, 2]`,
		map[string]Handler{"f": failWith(&c, "TransientError", "", "")})
	wantStatus(t, e, StatusSucceeded, "")
	sameJSON(t, e.Output, `[{}, {}]`)
	if !slices.Equal(clock.Sleeps(), seconds(2)) {
		t.Errorf("slept %v", clock.Sleeps())
	}
	first := onlyMapRun(t, e).Executions[0]
	if got := eventTypes(&first); !slices.Equal(got, []EventType{ExecutionStarted, TaskStateEntered,
		LambdaFunctionScheduled, LambdaFunctionStarted, LambdaFunctionFailed,
		LambdaFunctionScheduled, LambdaFunctionStarted, LambdaFunctionSucceeded, TaskStateExited, ExecutionSucceeded}) {
		t.Errorf("child history %v", got)
	}
}

// Stopping the execution stops its iterations and child executions, and a UI can follow
// them all while they run.
func TestMapStop(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{inline, distributed} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			m, err := Load([]byte(mapOf(`"MaxConcurrency": 2`, mode, `"P": {"Type": "Task", "Resource": "block", "End": true}`)), nil)
			if err != nil {
				t.Fatal(err)
			}
			entered := make(chan struct{}, 4)
			h := handlerFunc(func(ctx context.Context, _ []byte) ([]byte, error) {
				entered <- struct{}{}
				<-ctx.Done()
				return nil, ctx.Err()
			})
			r, err := m.Start(t.Context(), json.RawMessage(`[1, 2, 3, 4]`), RunOptions{Handlers: map[string]Handler{"block": h}, Clock: NewFastClock()})
			if err != nil {
				t.Fatal(err)
			}
			<-entered
			<-entered
			pollWhileRunning(t, r, 3, 20)
			if mode == distributed {
				mr := r.Snapshot().MapRuns[0]
				if mr.Status != StatusRunning || len(mr.Executions) != 2 || mr.ItemCounts != (MapRunCounts{Pending: 2, Running: 2, Total: 4}) {
					t.Errorf("running map run %+v", mr)
				}
			}
			r.Stop("Operator", "stopped")
			e := r.Wait()
			wantStatus(t, &e, StatusAborted, "Operator")
			types := eventTypes(&e)
			if mode == inline {
				if n := countOf(types, MapIterationAborted); n != 2 || !slices.Contains(types, MapStateAborted) {
					t.Errorf("events %v", types)
				}
				return
			}
			mr := onlyMapRun(t, &e)
			if mr.Status != StatusAborted || mr.ItemCounts != (MapRunCounts{Pending: 2, Aborted: 2, Total: 4}) {
				t.Errorf("map run %s, counts %+v", mr.Status, mr.ItemCounts)
			}
			for _, c := range mr.Executions {
				if c.Status != StatusAborted || c.Events[len(c.Events)-1].Type != ExecutionAborted {
					t.Errorf("child %s, events %v", c.Status, eventTypes(&c))
				}
			}
			if !slices.Contains(types, MapRunAborted) || !slices.Contains(types, MapStateAborted) {
				t.Errorf("events %v", types)
			}
		})
	}
}

func countOf(types []EventType, t EventType) int {
	n := 0
	for _, x := range types {
		if x == t {
			n++
		}
	}
	return n
}

func TestMapLoadRejects(t *testing.T) {
	t.Parallel()
	pass := `"P": {"Type": "Pass", "End": true}`
	tests := []struct {
		name, definition, wantErrSub string
	}{
		{"ItemBatcher on INLINE", mapOf(`"ItemBatcher": {"MaxItemsPerBatch": 2}`, inline, pass),
			`state "A": ItemBatcher is only allowed in a DISTRIBUTED Map`},
		{"Label on INLINE", mapOf(`"Label": "x"`, inline, pass), `Label is only allowed in a DISTRIBUTED Map`},
		{"tolerance on the default mode", states(`"A": {"Type": "Map", "ToleratedFailureCount": 1, "End": true,
			"ItemProcessor": {"StartAt": "P", "States": {` + pass + `}}}`), `ToleratedFailureCount is only allowed in a DISTRIBUTED Map`},
		{"DISTRIBUTED without ExecutionType", mapOf(``, `{"Mode": "DISTRIBUTED"}`, pass),
			`state "A": ItemProcessor: ProcessorConfig: ExecutionType (STANDARD or EXPRESS) is required with Mode DISTRIBUTED`},
		{"ExecutionType on INLINE", mapOf(``, `{"Mode": "INLINE", "ExecutionType": "STANDARD"}`, pass), "ExecutionType is only allowed with Mode DISTRIBUTED"},
		{"bad ExecutionType", mapOf(``, `{"Mode": "DISTRIBUTED", "ExecutionType": "FAST"}`, pass), `ExecutionType must be STANDARD or EXPRESS, not "FAST"`},
		{"bad Mode", mapOf(``, `{"Mode": "PARALLEL"}`, pass), `Mode must be INLINE or DISTRIBUTED, not "PARALLEL"`},
		{"ItemReader", mapOf(`"ItemReader": {"Resource": "arn:aws:states:::s3:getObject"}`, distributed, pass),
			`state "A": field "ItemReader" (Map items read from S3) is not supported by the local engine`},
		{"ResultWriter", mapOf(`"ResultWriter": {}`, distributed, pass), `field "ResultWriter" (Map results written to S3) is not supported`},
		{"MaxConcurrencyPath", mapOf(`"MaxConcurrencyPath": "$.n"`, distributed, pass), `field "MaxConcurrencyPath" (dynamic Map settings) is not supported`},
		{"ItemBatcher path", mapOf(`"ItemBatcher": {"MaxItemsPerBatchPath": "$.n"}`, distributed, pass),
			`ItemBatcher: field "MaxItemsPerBatchPath" (dynamic Map settings) is not supported`},
		{"transition out of the processor", states(`
			"A": {"Type": "Map", "Next": "B", "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "Next": "B"}}}},
			"B": {"Type": "Succeed"}`),
			`state "A": ItemProcessor: state "P": Next "B" is not a state of this ItemProcessor`},
		{"processor state problem located", mapOf(``, inline, `"P": {"Type": "Task", "Resource": "f", "End": true, "TimeoutSeconds": 0}`),
			`state "A": ItemProcessor: state "P": TimeoutSeconds must be an integer from 1`},
		{"unreachable in the processor", mapOf(``, inline, pass+`, "Q": {"Type": "Succeed"}`),
			`state "A": ItemProcessor: state "Q" cannot be reached from StartAt`},
		{"processor that never ends", mapOf(``, inline, `"P": {"Type": "Pass", "Next": "P"}`),
			`state "A": ItemProcessor: no state ends an iteration`},
		{"processor StartAt", states(`"A": {"Type": "Map", "End": true, "ItemProcessor": {"States": {` + pass + `}}}`),
			`state "A": ItemProcessor: StartAt is required`},
		{"processor field", states(`"A": {"Type": "Map", "End": true, "ItemProcessor": {"StartAt": "P", "Foo": 1, "States": {` + pass + `}}}`),
			`state "A": ItemProcessor: unknown field "Foo"`},
		{"nested Map located", mapOf(``, inline, `"P": {"Type": "Map", "End": true, "ItemProcessor": {"StartAt": "Q", "States": {
				"Q": {"Type": "Pass", "End": true, "Bad": 1}}}}`),
			`state "A": ItemProcessor: state "P": ItemProcessor: state "Q": unknown field "Bad"`},
		{"state name used twice", mapOf(``, inline, `"A": {"Type": "Pass", "End": true}`), `state name "A" is used more than once`},
		{"ItemProcessor and Iterator", states(`"A": {"Type": "Map", "End": true,
			"ItemProcessor": {"StartAt": "P", "States": {` + pass + `}}, "Iterator": {"StartAt": "Q", "States": {"Q": {"Type": "Succeed"}}}}`),
			"ItemProcessor and Iterator are mutually exclusive"},
		{"Iterator DISTRIBUTED", states(`"A": {"Type": "Map", "End": true,
			"Iterator": {"ProcessorConfig": ` + distributed + `, "StartAt": "P", "States": {` + pass + `}}}`), "Iterator only runs INLINE"},
		{"ItemSelector and Parameters", mapOf(`"ItemSelector": {"a": 1}, "Parameters": {"b": 2}`, inline, pass),
			"ItemSelector and Parameters are mutually exclusive"},
		{"ItemSelector not an object", mapOf(`"ItemSelector": [1]`, inline, pass), "ItemSelector must be a JSON object"},
		{"ItemsPath wildcard", mapOf(`"ItemsPath": "$.a[*]"`, inline, pass), "must be a reference path"},
		{"MaxConcurrency negative", mapOf(`"MaxConcurrency": -1`, inline, pass), "MaxConcurrency must be an integer from 0"},
		{"ItemBatcher empty", mapOf(`"ItemBatcher": {}`, distributed, pass), "ItemBatcher: needs MaxItemsPerBatch or MaxInputBytesPerBatch"},
		{"MaxItemsPerBatch 0", mapOf(`"ItemBatcher": {"MaxItemsPerBatch": 0}`, distributed, pass), "MaxItemsPerBatch must be an integer from 1"},
		{"MaxInputBytesPerBatch too big", mapOf(`"ItemBatcher": {"MaxInputBytesPerBatch": 262145}`, distributed, pass),
			"MaxInputBytesPerBatch must be an integer from 1 to 262144"},
		{"BatchInput not an object", mapOf(`"ItemBatcher": {"MaxItemsPerBatch": 1, "BatchInput": "x"}`, distributed, pass),
			"BatchInput must be a JSON object"},
		{"ToleratedFailurePercentage over 100", mapOf(`"ToleratedFailurePercentage": 101`, distributed, pass),
			"ToleratedFailurePercentage must be a number from 0 to 100"},
		{"ToleratedFailureCount fraction", mapOf(`"ToleratedFailureCount": 1.5`, distributed, pass), "ToleratedFailureCount must be an integer"},
		{"Label too long", mapOf(`"Label": "`+strings.Repeat("l", 41)+`"`, distributed, pass), "must have 1 to 40 characters"},
		{"Label character", mapOf(`"Label": "a b"`, distributed, pass), `Label "a b" contains ' ', which Step Functions does not allow`},
		{"Map Retry", mapOf(`"Retry": [{"ErrorEquals": ["States.Nope"]}]`, inline, pass), `unknown error name "States.Nope"`},
		{"Map Catch target", mapOf(`"Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Z"}]`, inline, pass), `state "A": Catch[0].Next "Z" is not a state`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load([]byte(tt.definition), nil)
			var de *DefinitionError
			if !errors.As(err, &de) {
				t.Fatalf("Load = %v; want a *DefinitionError", err)
			}
			if !strings.Contains(err.Error(), tt.wantErrSub) {
				t.Errorf("Load error:\n%v\nwant it to mention %q", err, tt.wantErrSub)
			}
		})
	}
}

// Problems inside a processor are reported with the rest.
func TestMapLoadReportsAllProblems(t *testing.T) {
	t.Parallel()
	_, err := Load([]byte(states(`
		"A": {"Type": "Map", "Next": "B", "Foo": 1, "ItemBatcher": {"MaxItemsPerBatch": 1},
			"ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true, "Bar": 2}}}},
		"B": {"Type": "Pass", "End": true, "Baz": 3}`)), nil)
	var de *DefinitionError
	if !errors.As(err, &de) || len(de.Problems) != 4 {
		t.Fatalf("Load error = %v, want 4 problems", err)
	}
}

func TestMapResources(t *testing.T) {
	t.Parallel()
	m, err := Load([]byte(states(`
		"A": {"Type": "Task", "Resource": "first", "Next": "Fan"},
		"Fan": {"Type": "Map", "Next": "Z", "ItemProcessor": {"ProcessorConfig": `+distributed+`, "StartAt": "P", "States": {
			"P": {"Type": "Task", "Resource": "inner", "Next": "Q"},
			"Q": {"Type": "Map", "End": true, "ItemProcessor": {"StartAt": "R", "States": {
				"R": {"Type": "Task", "Resource": "innermost", "End": true}}}}}}},
		"Z": {"Type": "Task", "Resource": "first", "End": true}`)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m.Resources(), []string{"first", "inner", "innermost"}; !slices.Equal(got, want) {
		t.Errorf("Resources() = %v, want %v", got, want)
	}
	stub := lambdaStub(`{}`)
	if got, want := m.MissingHandlers(map[string]Handler{"first": stub, "inner": stub}), []string{"innermost"}; !slices.Equal(got, want) {
		t.Errorf("MissingHandlers = %v, want %v", got, want)
	}
}

// The execution's TimeoutSeconds stops iterations and child executions too; the children
// end ABORTED, as in Step Functions.
func TestMapMachineTimeout(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{inline, distributed} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				h := handlerFunc(func(ctx context.Context, _ []byte) ([]byte, error) {
					<-ctx.Done()
					return nil, ctx.Err()
				})
				e, _ := execute(t, `{"StartAt": "A", "TimeoutSeconds": 10, "States": {
					"A": {"Type": "Map", "Next": "B", "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "B"}],
						"ItemProcessor": {"ProcessorConfig": `+mode+`, "StartAt": "P", "States": {
							"P": {"Type": "Task", "Resource": "block", "End": true}}}},
					"B": {"Type": "Succeed"}}}`, `[1, 2]`, map[string]Handler{"block": h})
				wantStatus(t, e, StatusTimedOut, "States.Timeout")
				types := eventTypes(e)
				if !slices.Contains(types, MapStateAborted) || types[len(types)-1] != ExecutionTimedOut {
					t.Errorf("events %v", types)
				}
				if mode == inline {
					if countOf(types, MapIterationAborted) != 2 {
						t.Errorf("events %v", types)
					}
					return
				}
				mr := onlyMapRun(t, e)
				if mr.Status != StatusAborted || mr.ItemCounts != (MapRunCounts{Aborted: 2, Total: 2}) {
					t.Errorf("map run %s %+v", mr.Status, mr.ItemCounts)
				}
				for _, c := range mr.Executions {
					if c.Status != StatusAborted {
						t.Errorf("child %s", c.Status)
					}
				}
				synctest.Wait()
			})
		})
	}
}
