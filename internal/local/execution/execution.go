// Package execution runs executions on a developer machine: the local ASL engine on the
// very definitions SAM deploys (statemachine/provisioning.asl.json, upgrade.asl.json), with
// the functions' handlers addressed by logical id, and keeps each execution for people to
// follow.
package execution

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/google/uuid"

	"github.com/healthstack/tenant-provisioning/internal/local/asl"
	"github.com/healthstack/tenant-provisioning/internal/local/handlers"
	"github.com/healthstack/tenant-provisioning/internal/workflow"
	"github.com/healthstack/tenant-provisioning/statemachine"
)

// The local state machines' names, in execution ARNs.
const (
	StateMachineName        = "tenant-provisioning"
	UpgradeStateMachineName = "tenant-provisioning-upgrade"
)

// Runner starts executions and remembers them.
type Runner struct {
	machine  *asl.Machine
	name     string // the state machine's
	handlers map[string]asl.Handler
	clock    asl.Clock
	onEvent  func(name string, ev asl.Event)
	keep     int

	mu   sync.Mutex
	runs map[string]*asl.Running
	seq  []string
}

// Options configure a Runner.
type Options struct {
	// Clock paces waits and retries; nil is the real clock.
	Clock asl.Clock
	// OnEvent sees each history event of every execution as it happens.
	OnEvent func(execution string, ev asl.Event)
	// Keep is how many executions the Runner remembers (0: DefaultKeep). Past it, the
	// oldest finished ones are forgotten, as Step Functions forgets old executions: a
	// long `make dev` session must not grow with every tenant it ever provisioned.
	Keep int
}

// DefaultKeep is how many executions a Runner remembers by default: each keeps its whole
// history, about 15 KB for a provisioning.
const DefaultKeep = 1000

// NewRunner loads the provisioning definition with the catalogue's functions as the
// ${…FunctionArn} substitutions, and refuses to run if any Task has no handler.
func NewRunner(catalog map[string]lambda.Handler, o Options) (*Runner, error) {
	return newRunner(statemachine.Provisioning, StateMachineName, catalog, o)
}

// NewUpgradeRunner is NewRunner for the upgrade state machine.
func NewUpgradeRunner(catalog map[string]lambda.Handler, o Options) (*Runner, error) {
	return newRunner(statemachine.Upgrade, UpgradeStateMachineName, catalog, o)
}

func newRunner(definition []byte, name string, catalog map[string]lambda.Handler, o Options) (*Runner, error) {
	m, handlers, err := load(definition, catalog)
	if err != nil {
		return nil, err
	}
	keep := o.Keep
	if keep <= 0 {
		keep = DefaultKeep
	}
	return &Runner{machine: m, name: name, handlers: handlers, clock: o.Clock, onEvent: o.OnEvent, keep: keep, runs: map[string]*asl.Running{}}, nil
}

// load is a release: the definition with the catalogue's functions as its ${…FunctionArn}
// substitutions, refused if a Task has no handler.
func load(definition []byte, catalog map[string]lambda.Handler) (*asl.Machine, map[string]asl.Handler, error) {
	m, err := asl.Load(definition, handlers.Substitutions(catalog))
	if err != nil {
		return nil, nil, err
	}
	hs := make(map[string]asl.Handler, len(catalog))
	for k, h := range catalog {
		hs[k] = h
	}
	if missing := m.MissingHandlers(hs); len(missing) > 0 {
		return nil, nil, fmt.Errorf("execution: no handler for %v", missing)
	}
	return m, hs, nil
}

// Deploy puts a new release in place, as a deploy updates the state machine with a
// definition that names the new function versions: executions started from now on run
// definition with catalog's handlers, while those already running keep the definition and
// the handlers they started with, as in Step Functions.
func (r *Runner) Deploy(definition []byte, catalog map[string]lambda.Handler) error {
	m, handlers, err := load(definition, catalog)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.machine, r.handlers = m, handlers
	return nil
}

// Start begins the tenant's execution, named after the tenant id with input {"tenantId"}
// only, as the API does in AWS. Starting a tenant's execution again returns the existing
// one, with started false.
func (r *Runner) Start(ctx context.Context, tenantID uuid.UUID) (run *asl.Running, started bool, err error) {
	return r.StartNamed(ctx, tenantID.String(), tenantID)
}

// StartNamed begins an execution of that name for the tenant, as an admin's retry
// (<tenantId>-r<N>) or the console's "New execution" with the tenant's input does. Names
// are unique, as in Step Functions: a name already started returns that execution.
func (r *Runner) StartNamed(ctx context.Context, name string, tenantID uuid.UUID) (run *asl.Running, started bool, err error) {
	return r.start(ctx, name, workflow.InputFor(ctx, tenantID))
}

// StartUpgrade begins the upgrade run's execution, named after the run with {"runId"} as
// its input, as the API does in AWS.
func (r *Runner) StartUpgrade(ctx context.Context, runID uuid.UUID) (run *asl.Running, started bool, err error) {
	input, _ := json.Marshal(map[string]string{"runId": runID.String()})
	return r.start(ctx, runID.String(), input)
}

func (r *Runner) start(ctx context.Context, name string, input []byte) (run *asl.Running, started bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if run, ok := r.runs[name]; ok {
		return run, false, nil
	}
	opts := asl.RunOptions{Name: name, Handlers: r.handlers, Clock: r.clock, StateMachineName: r.name}
	if r.onEvent != nil {
		opts.OnEvent = func(ev asl.Event) { r.onEvent(name, ev) }
	}
	// The execution outlives the request that started it, as in Step Functions.
	run, err = r.machine.Start(context.WithoutCancel(ctx), input, opts)
	if err != nil {
		return nil, false, err
	}
	r.runs[name] = run
	r.seq = append(r.seq, name)
	r.forgetOldest()
	return run, true, nil
}

// forgetOldest drops the oldest finished executions while more than keep are remembered.
// Running ones stay whatever their age. The caller holds r.mu.
func (r *Runner) forgetOldest() {
	excess := len(r.seq) - r.keep
	if excess <= 0 {
		return
	}
	kept := r.seq[:0]
	for _, name := range r.seq {
		if excess > 0 && finished(r.runs[name]) {
			delete(r.runs, name)
			excess--
			continue
		}
		kept = append(kept, name)
	}
	clear(r.seq[len(kept):])
	r.seq = kept
}

func finished(run *asl.Running) bool {
	select {
	case <-run.Done():
		return true
	default:
		return false
	}
}

// ExecutionArn is the ARN the local engine gives the execution called name (its default
// region and account), so the reconciler can name an execution that never started.
func (r *Runner) ExecutionArn(name string) (string, error) {
	return "arn:aws:states:local:000000000000:execution:" + r.name + ":" + name, nil
}

// ExecutionStatus is the status of the execution called name, or "" when this Runner has
// none (never started, or forgotten), as the reconciler asks Step Functions.
func (r *Runner) ExecutionStatus(_ context.Context, name string) (string, error) {
	run, ok := r.Get(name)
	if !ok {
		return "", nil
	}
	return string(run.Snapshot().Status), nil
}

// Get returns the execution of that name (a tenant id, or an upgrade run's id).
func (r *Runner) Get(name string) (*asl.Running, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	run, ok := r.runs[name]
	return run, ok
}

// List returns every execution's current state, newest first.
func (r *Runner) List() []asl.Execution {
	r.mu.Lock()
	names := slices.Clone(r.seq)
	r.mu.Unlock()
	out := make([]asl.Execution, 0, len(names))
	for i := len(names) - 1; i >= 0; i-- {
		if run, ok := r.Get(names[i]); ok {
			out = append(out, run.Snapshot())
		}
	}
	return out
}
