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
}

// Route lists the states the execution entered, in order. A retried Task appears once:
// retries happen inside one entry.
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
	// goroutine calling Start or Run, the rest on the execution's own. It must not block
	// for long, as the execution waits for it.
	OnEvent func(Event)
}

// maxPayload is Step Functions' limit on inputs, outputs and task payloads (256 KiB).
const maxPayload = 256 * 1024

// Running is an execution started by Start. Its methods are safe to call from any goroutine
// while it runs and after it ends.
type Running struct {
	mu     sync.Mutex
	exec   Execution
	done   chan struct{}
	cancel context.CancelCauseFunc
}

// Snapshot copies the execution as it is now.
func (r *Running) Snapshot() Execution {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.exec
	e.Events = slices.Clone(r.exec.Events)
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
		m:           m,
		handlers:    opts.Handlers,
		clock:       opts.Clock,
		onEvent:     opts.OnEvent,
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
	r.live = &Running{done: make(chan struct{}), cancel: cancel, exec: Execution{
		Name:            r.name,
		Arn:             r.arn,
		StateMachineArn: r.machineArn,
		Status:          StatusRunning,
		Input:           enc,
		StartDate:       r.start,
	}}
	r.record(Event{Type: ExecutionStarted, Input: enc}, nil)
	go func() {
		defer cancel(nil)
		r.execute(ctx)
	}()
	return r.live, nil
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
	for _, c := range s {
		if unicode.IsSpace(c) || unicode.IsControl(c) || strings.ContainsRune("<>{}[]?*\"#%\\^|~`$&,;:/", c) {
			return fmt.Errorf("asl: %s name %q contains %q, which Step Functions does not allow", what, s, c)
		}
	}
	return nil
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
)
