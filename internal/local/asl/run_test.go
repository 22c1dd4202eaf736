package asl

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/healthstack/tenant-provisioning/internal/local/lambdarun"
)

// epoch is where test clocks start: an hour before the spec's Wait example timestamp.
var epoch = time.Date(2016, 3, 14, 1, 0, 0, 0, time.UTC)

// lambdaStub answers every invocation with out.
func lambdaStub(out string) Handler {
	return lambdarun.NewHandler(func(context.Context, json.RawMessage) (json.RawMessage, error) {
		return json.RawMessage(out), nil
	})
}

// calls records the payloads a handler received.
type calls struct {
	mu       sync.Mutex
	payloads []string
}

// handler wraps f as the Lambda runtime would; n counts invocations from 1.
func (c *calls) handler(f func(ctx context.Context, n int, in json.RawMessage) (any, error)) Handler {
	return lambdarun.NewHandler(func(ctx context.Context, in json.RawMessage) (any, error) {
		c.mu.Lock()
		c.payloads = append(c.payloads, string(in))
		n := len(c.payloads)
		c.mu.Unlock()
		return f(ctx, n, in)
	})
}

func (c *calls) all() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.payloads)
}

func execute(t *testing.T, definition, input string, handlers map[string]Handler) (*Execution, *FastClock) {
	t.Helper()
	m, err := Load([]byte(definition), nil)
	if err != nil {
		t.Fatal(err)
	}
	clock := NewFastClockAt(epoch)
	e, err := m.Run(t.Context(), json.RawMessage(input), RunOptions{Name: "test", Handlers: handlers, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	return e, clock
}

func wantStatus(t *testing.T, e *Execution, status Status, errorName string) {
	t.Helper()
	if e.Status != status || e.Error != errorName {
		t.Fatalf("execution %s (error %q, cause %q), want %s (error %q); route %v", e.Status, e.Error, e.Cause, status, errorName, e.Route())
	}
}

func eventTypes(e *Execution) []EventType {
	var out []EventType
	for _, ev := range e.Events {
		out = append(out, ev.Type)
	}
	return out
}

// The spec's InputPath / ResultPath / OutputPath example (a Task adding two numbers) and
// the null forms of each field.
func TestInputResultOutputPath(t *testing.T) {
	t.Parallel()
	const input = `{"title": "Numbers to add", "numbers": {"val1": 3, "val2": 4}}`
	add := lambdarun.NewHandler(func(in map[string]int) (int, error) { return in["val1"] + in["val2"], nil })
	echo := lambdarun.NewHandler(func(in json.RawMessage) (json.RawMessage, error) { return in, nil })
	tests := []struct {
		name, fields, want string
	}{
		{"spec example", `"InputPath": "$.numbers", "ResultPath": "$.sum", "OutputPath": "$"`,
			`{"title": "Numbers to add", "numbers": {"val1": 3, "val2": 4}, "sum": 7}`},
		{"OutputPath selects", `"InputPath": "$.numbers", "ResultPath": "$.sum", "OutputPath": "$.sum"`, `7`},
		{"defaults replace the input", `"InputPath": "$.numbers"`, `7`},
		{"ResultPath null keeps the input", `"InputPath": "$.numbers", "ResultPath": null`, input},
		{"ResultPath nested", `"InputPath": "$.numbers", "ResultPath": "$.numbers.sum"`,
			`{"title": "Numbers to add", "numbers": {"val1": 3, "val2": 4, "sum": 7}}`},
		{"ResultPath creates objects", `"InputPath": "$.numbers", "ResultPath": "$.a.b.c"`,
			`{"title": "Numbers to add", "numbers": {"val1": 3, "val2": 4}, "a": {"b": {"c": 7}}}`},
		{"OutputPath null", `"InputPath": "$.numbers", "OutputPath": null`, `{}`},
		{"InputPath null", `"Resource": "echo", "InputPath": null, "ResultPath": "$.got"`,
			`{"title": "Numbers to add", "numbers": {"val1": 3, "val2": 4}, "got": {}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resource := `"Resource": "add", `
			if strings.Contains(tt.fields, `"Resource"`) {
				resource = ""
			}
			e, _ := execute(t, states(`"A": {"Type": "Task", `+resource+tt.fields+`, "End": true}`), input,
				map[string]Handler{"add": add, "echo": echo})
			wantStatus(t, e, StatusSucceeded, "")
			sameJSON(t, e.Output, tt.want)
		})
	}
}

// The spec's Pass example; numbers leave exactly as written.
func TestPassState(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, state, input, want string
	}{
		{"spec example", `"Result": {"x-datum": 0.381018, "y-datum": 622.2269926397355}, "ResultPath": "$.coords"`,
			`{"georefOf": "Home"}`, `{"georefOf": "Home", "coords": {"x-datum": 0.381018, "y-datum": 622.2269926397355}}`},
		{"no Result passes the input", ``, `{"a": 1}`, `{"a": 1}`},
		{"Parameters", `"Parameters": {"b.$": "$.a", "name.$": "$$.State.Name"}`, `{"a": 1}`, `{"b": 1, "name": "A"}`},
		{"Result wins over Parameters", `"Parameters": {"b.$": "$.a"}, "Result": "r", "ResultPath": "$.r"`, `{"a": 1}`, `{"a": 1, "r": "r"}`},
		{"InputPath then OutputPath", `"InputPath": "$.a", "ResultPath": "$.copy", "OutputPath": "$.copy.b"`, `{"a": {"b": 2}}`, `2`},
		{"big integers stay exact", `"ResultPath": "$.copy"`, `{"n": 12345678901234567890}`, `{"n": 12345678901234567890, "copy": {"n": 12345678901234567890}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sep := ", "
			if tt.state == "" {
				sep = ""
			}
			e, _ := execute(t, states(`"A": {"Type": "Pass"`+sep+tt.state+`, "End": true}`), tt.input, nil)
			wantStatus(t, e, StatusSucceeded, "")
			sameJSON(t, e.Output, tt.want)
			for _, n := range regexp.MustCompile(`\d+\.\d+|\d{10,}`).FindAllString(tt.want, -1) {
				if !strings.Contains(string(e.Output), n) {
					t.Errorf("output %s lost the number %s", e.Output, n)
				}
			}
		})
	}
	e, _ := execute(t, states(`"A": {"Type": "Pass", "ResultPath": "$.a.b", "End": true}`), `{"a": 1}`, nil)
	wantStatus(t, e, StatusFailed, "States.ResultPathMatchFailure")
}

// The spec's ResultSelector example: keep what matters of a verbose result.
func TestResultSelector(t *testing.T) {
	t.Parallel()
	result := `{
		"resourceType": "elasticmapreduce",
		"resource": "createCluster.sync",
		"output": {
			"SdkHttpMetadata": {"HttpHeaders": {"Content-Length": "1112"}, "HttpStatusCode": 200},
			"SdkResponseMetadata": {"RequestId": "1234-5678-9012"},
			"ClusterId": "AKIAIOSFODNN7EXAMPLE"
		}
	}`
	e, _ := execute(t, states(`"A": {"Type": "Task", "Resource": "emr",
		"ResultSelector": {"ClusterId.$": "$.output.ClusterId", "ResourceType.$": "$.resourceType", "fixed": 1},
		"ResultPath": "$.EMROutput", "End": true}`), `{"cluster": "c"}`, map[string]Handler{"emr": lambdaStub(result)})
	wantStatus(t, e, StatusSucceeded, "")
	sameJSON(t, e.Output, `{"cluster": "c", "EMROutput": {"ClusterId": "AKIAIOSFODNN7EXAMPLE", "ResourceType": "elasticmapreduce", "fixed": 1}}`)
}

func TestContextObject(t *testing.T) {
	t.Parallel()
	var c calls
	h := c.handler(func(_ context.Context, n int, in json.RawMessage) (any, error) {
		if n == 1 {
			return nil, &TransientError{}
		}
		return in, nil
	})
	m, err := Load([]byte(states(`"A": {"Type": "Task", "Resource": "f", "End": true,
		"Retry": [{"ErrorEquals": ["TransientError"], "IntervalSeconds": 5}],
		"Parameters": {
			"id.$": "$$.Execution.Id", "name.$": "$$.Execution.Name", "start.$": "$$.Execution.StartTime",
			"input.$": "$$.Execution.Input", "state.$": "$$.State.Name", "entered.$": "$$.State.EnteredTime",
			"retry.$": "$$.State.RetryCount", "machine.$": "$$.StateMachine.Id", "machineName.$": "$$.StateMachine.Name"}}`)), nil)
	if err != nil {
		t.Fatal(err)
	}
	e, err := m.Run(t.Context(), json.RawMessage(`{"tenantId": "t-1"}`), RunOptions{
		Name: "t-1", Handlers: map[string]Handler{"f": h}, Clock: NewFastClockAt(epoch),
		Region: "eu-west-1", Account: "123456789012", StateMachineName: "provisioning",
	})
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, e, StatusSucceeded, "")
	if want := "arn:aws:states:eu-west-1:123456789012:execution:provisioning:t-1"; e.Arn != want {
		t.Errorf("Arn = %s, want %s", e.Arn, want)
	}
	got := c.all()
	if len(got) != 2 {
		t.Fatalf("handler called %d times, want 2", len(got))
	}
	for i, p := range got {
		sameJSON(t, []byte(p), `{
			"id": "arn:aws:states:eu-west-1:123456789012:execution:provisioning:t-1",
			"name": "t-1",
			"start": "2016-03-14T01:00:00.000Z",
			"input": {"tenantId": "t-1"},
			"state": "A",
			"entered": "2016-03-14T01:00:00.000Z",
			"retry": `+string(number(int64(i)))+`,
			"machine": "arn:aws:states:eu-west-1:123456789012:stateMachine:provisioning",
			"machineName": "provisioning"}`)
	}
}

func TestHistory(t *testing.T) {
	t.Parallel()
	var c calls
	h := c.handler(func(ctx context.Context, n int, _ json.RawMessage) (any, error) {
		if lc, ok := lambdacontext.FromContext(ctx); !ok || lc.AwsRequestID == "" {
			t.Errorf("handler context has no Lambda context: %+v", lc)
		}
		if n == 1 {
			return nil, &TransientError{}
		}
		return map[string]string{"ok": "yes"}, nil
	})
	e, _ := execute(t, states(`
		"A": {"Type": "Pass", "Result": {"x": 1}, "Next": "B"},
		"B": {"Type": "Task", "Resource": "f", "TimeoutSeconds": 30, "ResultPath": "$.b", "Next": "C",
			"Retry": [{"ErrorEquals": ["TransientError"]}]},
		"C": {"Type": "Succeed"}`), `{"in": true}`, map[string]Handler{"f": h})
	wantStatus(t, e, StatusSucceeded, "")
	want := []EventType{
		ExecutionStarted,
		PassStateEntered, PassStateExited,
		TaskStateEntered,
		LambdaFunctionScheduled, LambdaFunctionStarted, LambdaFunctionFailed,
		LambdaFunctionScheduled, LambdaFunctionStarted, LambdaFunctionSucceeded,
		TaskStateExited,
		SucceedStateEntered, SucceedStateExited,
		ExecutionSucceeded,
	}
	if got := eventTypes(e); !slices.Equal(got, want) {
		t.Fatalf("events:\n%v\nwant\n%v", got, want)
	}
	for i, ev := range e.Events {
		if ev.ID != int64(i+1) || ev.PreviousEventID != int64(i) {
			t.Errorf("event %d has ID %d, PreviousEventID %d", i, ev.ID, ev.PreviousEventID)
		}
	}
	if got, want := e.Route(), []string{"A", "B", "C"}; !slices.Equal(got, want) {
		t.Errorf("Route() = %v, want %v", got, want)
	}
	sched := e.Events[4]
	if sched.Resource != "f" || sched.TimeoutSeconds != 30 || sched.StateName != "B" {
		t.Errorf("LambdaFunctionScheduled = %+v", sched)
	}
	sameJSON(t, sched.Input, `{"x": 1}`)
	sameJSON(t, e.Events[0].Input, `{"in": true}`)
	sameJSON(t, e.Events[3].Input, `{"x": 1}`)
	sameJSON(t, e.Events[9].Output, `{"ok": "yes"}`)
	sameJSON(t, e.Events[10].Output, `{"x": 1, "b": {"ok": "yes"}}`)
	if f := e.Events[6]; f.Error != "TransientError" || f.Cause != `{"errorMessage":"transient","errorType":"TransientError"}` {
		t.Errorf("LambdaFunctionFailed = %+v", f)
	}
	// The retry waited IntervalSeconds on the clock, and history shows it.
	if d := e.Events[7].Timestamp.Sub(e.Events[6].Timestamp); d != time.Second {
		t.Errorf("retry scheduled %v after the failure, want 1s", d)
	}
	if !e.StartDate.Equal(epoch) || !e.StopDate.Equal(epoch.Add(time.Second)) {
		t.Errorf("StartDate %v, StopDate %v", e.StartDate, e.StopDate)
	}
	sameJSON(t, e.Output, `{"x": 1, "b": {"ok": "yes"}}`)
	if _, err := json.Marshal(e); err != nil {
		t.Errorf("the execution does not marshal: %v", err)
	}
}

func TestRunningSnapshotsAndStop(t *testing.T) {
	t.Parallel()
	m, err := Load([]byte(states(`
		"A": {"Type": "Task", "Resource": "block", "Next": "B"},
		"B": {"Type": "Succeed"}`)), nil)
	if err != nil {
		t.Fatal(err)
	}
	entered := make(chan struct{})
	h := lambdarun.NewHandler(func(ctx context.Context) error {
		close(entered)
		<-ctx.Done()
		return ctx.Err()
	})
	onEvent, seen := recordTypes()
	r, err := m.Start(context.Background(), nil, RunOptions{
		Handlers: map[string]Handler{"block": h},
		Clock:    NewFastClock(),
		OnEvent:  onEvent,
	})
	if err != nil {
		t.Fatal(err)
	}
	<-entered
	// A UI polls while the execution runs.
	pollWhileRunning(t, r, 4, 50)
	snap := r.Snapshot()
	if got, want := eventTypes(&snap), []EventType{ExecutionStarted, TaskStateEntered, LambdaFunctionScheduled, LambdaFunctionStarted}; !slices.Equal(got, want) {
		t.Errorf("events while running = %v, want %v", got, want)
	}
	if string(snap.Input) != "{}" {
		t.Errorf("empty input became %s, want {}", snap.Input)
	}
	r.Stop("Operator", "stopped from the console")
	final := r.Wait()
	if final.Status != StatusAborted || final.Error != "Operator" || final.Cause != "stopped from the console" {
		t.Errorf("after Stop: %s %q %q", final.Status, final.Error, final.Cause)
	}
	if last := final.Events[len(final.Events)-1]; last.Type != ExecutionAborted {
		t.Errorf("last event %s, want ExecutionAborted", last.Type)
	}
	if !slices.Equal(seen(), eventTypes(&final)) {
		t.Errorf("OnEvent saw %v, history has %v", seen(), eventTypes(&final))
	}
}

func TestRunCancelledAborts(t *testing.T) {
	t.Parallel()
	m, err := Load([]byte(states(`"A": {"Type": "Wait", "Seconds": 60, "End": true}`)), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	e, err := m.Run(ctx, nil, RunOptions{Clock: NewFastClock()})
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, e, StatusAborted, "")
}

func TestRunOptions(t *testing.T) {
	t.Parallel()
	m, err := Load([]byte(states(`"A": {"Type": "Succeed"}`)), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		input      string
		opts       RunOptions
		wantErrSub string
	}{
		{`{`, RunOptions{}, "not JSON"},
		{`{} {}`, RunOptions{}, "not JSON"},
		{`{}`, RunOptions{Name: "has space"}, "does not allow"},
		{`{}`, RunOptions{Name: "a:b"}, "does not allow"},
		{`{}`, RunOptions{Name: strings.Repeat("n", 81)}, "1 to 80"},
		{`{}`, RunOptions{StateMachineName: "a/b"}, "does not allow"},
		{`"` + strings.Repeat("x", maxPayload) + `"`, RunOptions{}, "limit"},
	} {
		if _, err := m.Run(t.Context(), json.RawMessage(tt.input), tt.opts); err == nil || !strings.Contains(err.Error(), tt.wantErrSub) {
			t.Errorf("Run(%.20s, %+v) error = %v, want it to mention %q", tt.input, tt.opts, err, tt.wantErrSub)
		}
	}
	e, err := m.Run(t.Context(), json.RawMessage(`[1, "two"]`), RunOptions{Clock: NewFastClock()})
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, e, StatusSucceeded, "")
	if !regexp.MustCompile(`^arn:aws:states:local:000000000000:execution:local:[0-9a-f-]{36}$`).MatchString(e.Arn) || !strings.HasSuffix(e.Arn, e.Name) {
		t.Errorf("default Arn %s, Name %s", e.Arn, e.Name)
	}
	sameJSON(t, e.Output, `[1, "two"]`)
}

// recordTypes records the types of the events an OnEvent sees, safe to read meanwhile.
func recordTypes() (onEvent func(Event), seen func() []EventType) {
	var mu sync.Mutex
	var types []EventType
	return func(ev Event) {
			mu.Lock()
			types = append(types, ev.Type)
			mu.Unlock()
		}, func() []EventType {
			mu.Lock()
			defer mu.Unlock()
			return slices.Clone(types)
		}
}

// pollWhileRunning reads snapshots of the running execution from workers goroutines at
// once, times each, as a UI does: each must say RUNNING and render (a race here is what
// -race finds).
func pollWhileRunning(t *testing.T, r *Running, workers, times int) {
	t.Helper()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range times {
				s := r.Snapshot()
				if s.Status != StatusRunning {
					t.Errorf("status %s while handlers run", s.Status)
				}
				_ = s.Route()
				if _, err := json.Marshal(s); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
}
