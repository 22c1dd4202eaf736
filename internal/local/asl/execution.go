package asl

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Status is an execution's status as DescribeExecution reports it.
type Status string

const (
	StatusRunning   Status = "RUNNING"
	StatusSucceeded Status = "SUCCEEDED"
	StatusFailed    Status = "FAILED"
	StatusTimedOut  Status = "TIMED_OUT"
	StatusAborted   Status = "ABORTED"
)

// EventType is a history event type as GetExecutionHistory names it.
type EventType string

// The history events this engine records. A Task whose Resource is a Lambda function (an
// ARN or, locally, a handler key) records LambdaFunction* events, as Step Functions does for
// a Lambda ARN Resource; Task* events belong to service integrations, which are not
// implemented.
const (
	ExecutionStarted             EventType = "ExecutionStarted"
	ExecutionSucceeded           EventType = "ExecutionSucceeded"
	ExecutionFailed              EventType = "ExecutionFailed"
	ExecutionTimedOut            EventType = "ExecutionTimedOut"
	ExecutionAborted             EventType = "ExecutionAborted"
	TaskStateEntered             EventType = "TaskStateEntered"
	TaskStateExited              EventType = "TaskStateExited"
	LambdaFunctionScheduled      EventType = "LambdaFunctionScheduled"
	LambdaFunctionScheduleFailed EventType = "LambdaFunctionScheduleFailed"
	LambdaFunctionStarted        EventType = "LambdaFunctionStarted"
	LambdaFunctionSucceeded      EventType = "LambdaFunctionSucceeded"
	LambdaFunctionFailed         EventType = "LambdaFunctionFailed"
	LambdaFunctionTimedOut       EventType = "LambdaFunctionTimedOut"
	PassStateEntered             EventType = "PassStateEntered"
	PassStateExited              EventType = "PassStateExited"
	ChoiceStateEntered           EventType = "ChoiceStateEntered"
	ChoiceStateExited            EventType = "ChoiceStateExited"
	WaitStateEntered             EventType = "WaitStateEntered"
	WaitStateExited              EventType = "WaitStateExited"
	SucceedStateEntered          EventType = "SucceedStateEntered"
	SucceedStateExited           EventType = "SucceedStateExited"
	FailStateEntered             EventType = "FailStateEntered"

	// An inline Map: its iterations' states record their own events between these.
	MapStateEntered       EventType = "MapStateEntered"
	MapStateStarted       EventType = "MapStateStarted"
	MapIterationStarted   EventType = "MapIterationStarted"
	MapIterationSucceeded EventType = "MapIterationSucceeded"
	MapIterationFailed    EventType = "MapIterationFailed"
	MapIterationAborted   EventType = "MapIterationAborted"
	MapStateSucceeded     EventType = "MapStateSucceeded"
	MapStateFailed        EventType = "MapStateFailed"
	MapStateAborted       EventType = "MapStateAborted"
	MapStateExited        EventType = "MapStateExited"
	// A distributed Map: its child executions have histories of their own (MapRun).
	MapRunStarted   EventType = "MapRunStarted"
	MapRunSucceeded EventType = "MapRunSucceeded"
	MapRunFailed    EventType = "MapRunFailed"
	MapRunAborted   EventType = "MapRunAborted"
)

// Event is one history event. Fields beyond ID, PreviousEventID, Timestamp and Type are
// set where GetExecutionHistory has them, except StateName, which every event of a state
// carries (Step Functions only names the state on ...StateEntered/Exited) so that a UI can
// group them.
type Event struct {
	ID              int64           `json:"id"`
	PreviousEventID int64           `json:"previousEventId"`
	Timestamp       time.Time       `json:"timestamp"`
	Type            EventType       `json:"type"`
	StateName       string          `json:"stateName,omitempty"`
	Input           json.RawMessage `json:"input,omitempty"`  // ExecutionStarted, ...StateEntered, LambdaFunctionScheduled
	Output          json.RawMessage `json:"output,omitempty"` // ExecutionSucceeded, ...StateExited, LambdaFunctionSucceeded
	Resource        string          `json:"resource,omitempty"`
	TimeoutSeconds  int64           `json:"timeoutInSeconds,omitempty"`
	Error           string          `json:"error,omitempty"`
	Cause           string          `json:"cause,omitempty"`
	Length          *int64          `json:"length,omitempty"`    // MapStateStarted: the number of items
	MapRunArn       string          `json:"mapRunArn,omitempty"` // MapRunStarted
	// Index is the item's index on MapIteration* events and, unlike in Step Functions, on
	// the events of the states inside an inline iteration too, so that a UI can tell
	// iterations running at once apart.
	Index *int64 `json:"index,omitempty"`
}

// Execution is what DescribeExecution and GetExecutionHistory report, at one moment.
type Execution struct {
	Name            string          `json:"name"`
	Arn             string          `json:"executionArn"`
	StateMachineArn string          `json:"stateMachineArn"`
	Status          Status          `json:"status"`
	Input           json.RawMessage `json:"input"`
	Output          json.RawMessage `json:"output,omitempty"`
	Error           string          `json:"error,omitempty"`
	Cause           string          `json:"cause,omitempty"`
	StartDate       time.Time       `json:"startDate"`
	StopDate        time.Time       `json:"stopDate,omitzero"`
	Events          []Event         `json:"events"`
	// MapRuns are the runs of the execution's distributed Map states, in the order they
	// started (a retried Map starts a new one), with their child executions.
	MapRuns []MapRun `json:"mapRuns,omitempty"`
}

// MapRun is a distributed Map's run as DescribeMapRun reports it, with its child executions
// (ListExecutions with the Map Run's ARN) and their histories.
type MapRun struct {
	Arn                        string    `json:"mapRunArn"`
	StateName                  string    `json:"stateName"`
	Status                     Status    `json:"status"` // RUNNING, SUCCEEDED, FAILED or ABORTED
	StartDate                  time.Time `json:"startDate"`
	StopDate                   time.Time `json:"stopDate,omitzero"`
	MaxConcurrency             int64     `json:"maxConcurrency"` // 0: no limit
	ToleratedFailurePercentage float64   `json:"toleratedFailurePercentage"`
	ToleratedFailureCount      int64     `json:"toleratedFailureCount"`
	// ItemCounts count items; ExecutionCounts count child executions, which differ when
	// an ItemBatcher puts several items in one.
	ItemCounts      MapRunCounts `json:"itemCounts"`
	ExecutionCounts MapRunCounts `json:"executionCounts"`
	// Executions are the child executions started so far, in item order.
	Executions []Execution `json:"executions"`
}

// MapRunCounts are a Map Run's items or child executions by status. Those never started,
// because the run failed or was aborted first, stay pending.
type MapRunCounts struct {
	Pending   int64 `json:"pending"`
	Running   int64 `json:"running"`
	Succeeded int64 `json:"succeeded"`
	Failed    int64 `json:"failed"`
	Aborted   int64 `json:"aborted"`
	Total     int64 `json:"total"`
}

// Route lists the states the execution entered, in order. A retried Task appears once:
// retries happen inside one entry. The states of an inline Map's iterations appear after
// the Map, in the order they were entered, interleaved when iterations run at once (Event
// Index tells them apart); a distributed Map's children have routes of their own.
func (e *Execution) Route() []string {
	var out []string
	for _, ev := range e.Events {
		if strings.HasSuffix(string(ev.Type), "StateEntered") {
			out = append(out, ev.StateName)
		}
	}
	return out
}

// RunOptions configure one execution.
type RunOptions struct {
	// Name is the execution name (Step Functions' rules: 1-80 characters, no whitespace or
	// <>{}[]?*"#%\^|~`$&,;:/). Empty: a random UUID, as StartExecution does.
	Name string
	// Handlers serve Task Resources: by the Resource itself, or by the function name of a
	// Lambda function ARN (arn:aws:lambda:<region>:<account>:function:<name>).
	Handlers map[string]Handler
	// Clock paces waits and retries and stamps history; nil is RealClock.
	Clock Clock
	// Region, Account and StateMachineName build the ARNs in history and in $$; they
	// default to "local", "000000000000" and "local".
	Region, Account, StateMachineName string
	// OnEvent, if set, sees every event as it is recorded: ExecutionStarted on the
	// goroutine calling Start or Run, the rest on the execution's own or, inside an inline
	// Map, on its iterations'. Calls come one at a time, in history order. It must not
	// block for long, as the execution waits for it. It sees none of the events of a
	// distributed Map's child executions (Snapshot's MapRuns has them).
	OnEvent func(Event)
}

// maxPayload is Step Functions' limit on inputs, outputs and task payloads (256 KiB).
const maxPayload = 256 * 1024

// Running is an execution started by Start. Its methods are safe to call from any goroutine
// while it runs and after it ends.
type Running struct {
	emit    sync.Mutex // held while an event is numbered, stored and shown to OnEvent
	mu      sync.Mutex // guards exec, lastID and mapRuns
	exec    Execution
	lastID  int64
	mapRuns []*liveMapRun
	done    chan struct{}
	cancel  context.CancelCauseFunc
}

// liveMapRun is a MapRun while it runs: its children are copied by Snapshot.
type liveMapRun struct {
	run      MapRun // without Executions
	children []*Running
}

// Snapshot copies the execution as it is now, with its Map Runs' child executions.
func (r *Running) Snapshot() Execution {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.exec
	e.Events = slices.Clone(r.exec.Events)
	for _, lm := range r.mapRuns {
		mr := lm.run
		mr.Executions = make([]Execution, len(lm.children))
		for i, c := range lm.children {
			// Locks go parent, then child: a child never waits on its parent's lock.
			mr.Executions[i] = c.Snapshot()
		}
		e.MapRuns = append(e.MapRuns, mr)
	}
	return e
}

// Done is closed when the execution has ended.
func (r *Running) Done() <-chan struct{} { return r.done }

// Wait blocks until the execution ends and returns its final state.
func (r *Running) Wait() Execution {
	<-r.done
	return r.Snapshot()
}

// Stop aborts the execution as StopExecution does; errorName and cause are optional.
func (r *Running) Stop(errorName, cause string) {
	r.cancel(&stopCause{errorName: errorName, cause: cause})
}

type stopCause struct{ errorName, cause string }

func (s *stopCause) Error() string { return "execution stopped" }

// Run executes the machine to its end and returns the final execution. The error is only
// for an execution that cannot start (bad input or options); how the execution ended is
// its Status. Cancelling ctx aborts the execution.
func (m *Machine) Run(ctx context.Context, input json.RawMessage, opts RunOptions) (*Execution, error) {
	r, err := m.Start(ctx, input, opts)
	if err != nil {
		return nil, err
	}
	e := r.Wait()
	return &e, nil
}

// Start begins an execution in the background, as StartExecution does. It runs until it
// ends, ctx is cancelled, or Stop is called.
func (m *Machine) Start(ctx context.Context, input json.RawMessage, opts RunOptions) (*Running, error) {
	if len(bytes.TrimSpace(input)) == 0 {
		input = json.RawMessage("{}")
	}
	data, err := decodeJSON(input)
	if err != nil {
		return nil, fmt.Errorf("asl: execution input is not JSON: %v", err)
	}
	enc := encodeJSON(data)
	if len(enc) > maxPayload {
		return nil, fmt.Errorf("asl: execution input is %d bytes, over Step Functions' limit of %d", len(enc), maxPayload)
	}
	if opts.Name == "" {
		opts.Name = uuid.NewString()
	}
	opts.Region = orDefault(opts.Region, "local")
	opts.Account = orDefault(opts.Account, "000000000000")
	opts.StateMachineName = orDefault(opts.StateMachineName, "local")
	if err := validName("execution", opts.Name); err != nil {
		return nil, err
	}
	if err := validName("state machine", opts.StateMachineName); err != nil {
		return nil, err
	}
	if opts.Clock == nil {
		opts.Clock = RealClock{}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	r := &run{
		g:           &m.graph,
		timeout:     m.timeout,
		handlers:    opts.Handlers,
		clock:       opts.Clock,
		onEvent:     opts.OnEvent,
		region:      opts.Region,
		account:     opts.Account,
		name:        opts.Name,
		machineName: opts.StateMachineName,
		machineArn:  fmt.Sprintf("arn:aws:states:%s:%s:stateMachine:%s", opts.Region, opts.Account, opts.StateMachineName),
		arn:         fmt.Sprintf("arn:aws:states:%s:%s:execution:%s:%s", opts.Region, opts.Account, opts.StateMachineName, opts.Name),
		input:       data,
		start:       opts.Clock.Now(),
	}
	if m.timeout > 0 {
		r.deadline = r.start.Add(m.timeout)
	}
	r.begin(enc, cancel)
	go func() {
		defer cancel(nil)
		r.execute(ctx)
	}()
	return r.live, nil
}

// begin makes the execution visible, RUNNING, with its ExecutionStarted event.
func (r *run) begin(input json.RawMessage, cancel context.CancelCauseFunc) {
	r.live = &Running{done: make(chan struct{}), cancel: cancel, exec: Execution{
		Name:            r.name,
		Arn:             r.arn,
		StateMachineArn: r.machineArn,
		Status:          StatusRunning,
		Input:           input,
		StartDate:       r.start,
	}}
	r.record(Event{Type: ExecutionStarted, Input: input}, nil)
}

func orDefault(v, fallback string) string {
	if v == "" {
		return fallback
	}
	return v
}

func validName(what, s string) error {
	if s == "" || utf8.RuneCountInString(s) > maxNameLength {
		return fmt.Errorf("asl: %s name %q must have 1 to %d characters", what, s, maxNameLength)
	}
	if c, bad := forbiddenNameRune(s); bad {
		return fmt.Errorf("asl: %s name %q contains %q, which Step Functions does not allow", what, s, c)
	}
	return nil
}

// forbiddenNameRune finds a character Step Functions does not allow in names and labels.
func forbiddenNameRune(s string) (rune, bool) {
	for _, c := range s {
		if unicode.IsSpace(c) || unicode.IsControl(c) || strings.ContainsRune("<>{}[]?*\"#%\\^|~`$&,;:/", c) {
			return c, true
		}
	}
	return 0, false
}

// failure is a state's error on its way to a Retry, a Catch or the execution's end.
type failure struct {
	name, cause string
}

func (f *failure) Error() string { return f.name + ": " + f.cause }

// catchable is false for the errors Step Functions documents as terminal: no Retry or
// Catch sees them, not even one on States.ALL.
func (f *failure) catchable() bool {
	return f.name != errRuntime && f.name != errDataLimit
}

// halt ends the execution whatever the definition says: its TimeoutSeconds or a stop.
type halt struct {
	status      Status
	name, cause string
}

func (h *halt) Error() string { return string(h.status) + ": " + h.cause }

const (
	errAll        = "States.ALL"
	errTaskFailed = "States.TaskFailed"
	errTimeout    = "States.Timeout"
	errRuntime    = "States.Runtime"
	errDataLimit  = "States.DataLimitExceeded"
	errResultPath = "States.ResultPathMatchFailure"
	errNoChoice   = "States.NoChoiceMatched"
	errTolerated  = "States.ExceedToleratedFailureThreshold"
)
