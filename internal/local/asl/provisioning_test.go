package asl

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

// The definition deployed to AWS, run as is with its real substitution names.
const provisioningFile = "../../../statemachine/provisioning.asl.json"

const (
	tenantID  = "0190f5c2-7a3e-7c41-9a52-1b2c3d4e5f60"
	requestID = "CmZ8bjMeoAMEV-w=" // the create request's, which the execution input carries to every step
)

var steps = []string{
	"CreateTenantRecord", "CreateSchema", "RunMigrations", "SeedRolesAndUser",
	"DeploySorobanContract", "StoreContractAddress", "ActivateTenant", "SendWelcomeEmail",
}

// InvariantError and RollbackError stand for the pipeline's permanent errors.
type InvariantError struct{ msg string }

func (e *InvariantError) Error() string { return e.msg }

type RollbackError struct{}

func (RollbackError) Error() string { return "rollback: drop schema: connection refused" }

func loadProvisioning(t *testing.T) *Machine {
	t.Helper()
	definition, err := os.ReadFile(provisioningFile)
	if err != nil {
		t.Fatal(err)
	}
	subs := map[string]string{}
	for _, step := range append(slices.Clone(steps), "Rollback") {
		// SAM passes each function's ARN as ${<LogicalId>Arn}.
		subs[step+"FunctionArn"] = "arn:aws:lambda:eu-west-1:123456789012:function:" + step + "Function"
	}
	m, err := Load(definition, subs)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

type stepFunc func(ctx context.Context, n int, in json.RawMessage) (any, error)

// pipeline is a set of stub functions answering as the real ones do; override replaces some.
type pipeline struct {
	calls    map[string]*calls
	handlers map[string]Handler
}

func newPipeline(override map[string]stepFunc) *pipeline {
	p := &pipeline{calls: map[string]*calls{}, handlers: map[string]Handler{}}
	answers := map[string]any{
		"CreateTenantRecord":    map[string]string{"tenantId": tenantID, "status": "PROVISIONING"},
		"DeploySorobanContract": map[string]string{"contractId": "CDLZFC3SYJYDZT7K67VZ75HPJVIEUVNIXF47ZG2FB2RMQQVU2HHGCYSC", "txHash": "ab12"},
		"Rollback":              map[string]bool{"rolledBack": true},
	}
	for _, step := range append(slices.Clone(steps), "Rollback") {
		c := &calls{}
		f, ok := override[step]
		if !ok {
			answer := answers[step]
			f = func(context.Context, int, json.RawMessage) (any, error) { return answer, nil }
		}
		p.calls[step] = c
		p.handlers[step+"Function"] = c.handler(f)
	}
	return p
}

func (p *pipeline) run(t *testing.T, m *Machine) (*Execution, *FastClock) {
	t.Helper()
	if missing := m.MissingHandlers(p.handlers); len(missing) > 0 {
		t.Fatalf("no handlers for %v", missing)
	}
	clock := NewFastClockAt(epoch)
	e, err := m.Run(t.Context(), json.RawMessage(`{"tenantId": "`+tenantID+`", "requestId": "`+requestID+`"}`), RunOptions{
		Name: tenantID, Handlers: p.handlers, Clock: clock, Region: "eu-west-1", Account: "123456789012", StateMachineName: "tenant-provisioning",
	})
	if err != nil {
		t.Fatal(err)
	}
	return e, clock
}

func wantRoute(t *testing.T, e *Execution, want ...string) {
	t.Helper()
	if got := e.Route(); !slices.Equal(got, want) {
		t.Errorf("route\n%v\nwant\n%v", got, want)
	}
}

func wantSleepsWithin(t *testing.T, got []time.Duration, bounds ...time.Duration) {
	t.Helper()
	if len(got) != len(bounds) {
		t.Fatalf("slept %v, want %d sleeps", got, len(bounds))
	}
	for i, d := range got {
		if d < 0 || d > bounds[i] {
			t.Errorf("sleep %d was %v, want within [0, %v] (FULL jitter)", i+1, d, bounds[i])
		}
	}
}

func TestProvisioningHappyPath(t *testing.T) {
	t.Parallel()
	p := newPipeline(nil)
	e, clock := p.run(t, loadProvisioning(t))
	wantStatus(t, e, StatusSucceeded, "")
	wantRoute(t, e, append(slices.Clone(steps), "Provisioned")...)
	// The claim's output is dropped (ResultPath null): the state carries ids only.
	sameJSON(t, e.Output, `{
		"tenantId": "`+tenantID+`",
		"requestId": "`+requestID+`",
		"contract": {"contractId": "CDLZFC3SYJYDZT7K67VZ75HPJVIEUVNIXF47ZG2FB2RMQQVU2HHGCYSC"}
	}`)
	arn := "arn:aws:states:eu-west-1:123456789012:execution:tenant-provisioning:" + tenantID
	if e.Arn != arn {
		t.Errorf("Arn %s, want %s", e.Arn, arn)
	}
	sameJSON(t, []byte(p.calls["CreateTenantRecord"].all()[0]), `{"tenantId": "`+tenantID+`", "requestId": "`+requestID+`", "executionArn": "`+arn+`"}`)
	sameJSON(t, []byte(p.calls["StoreContractAddress"].all()[0]),
		`{"tenantId": "`+tenantID+`", "requestId": "`+requestID+`", "executionArn": "`+arn+`", "contractId": "CDLZFC3SYJYDZT7K67VZ75HPJVIEUVNIXF47ZG2FB2RMQQVU2HHGCYSC"}`)
	// Every step is told its execution, so it acts only for the tenant's own.
	for _, step := range steps[1:] {
		if step != "StoreContractAddress" {
			sameJSON(t, []byte(p.calls[step].all()[0]), `{"tenantId": "`+tenantID+`", "requestId": "`+requestID+`", "executionArn": "`+arn+`"}`)
		}
	}
	if len(p.calls["Rollback"].all()) != 0 || len(clock.Sleeps()) != 0 {
		t.Errorf("rollback calls %v, sleeps %v", p.calls["Rollback"].all(), clock.Sleeps())
	}
	for _, ev := range e.Events {
		if ev.Type == LambdaFunctionScheduled && ev.Resource != "arn:aws:lambda:eu-west-1:123456789012:function:"+ev.StateName+"Function" {
			t.Errorf("state %s scheduled %s", ev.StateName, ev.Resource)
		}
	}
}

func TestProvisioningRetriesTransientFailure(t *testing.T) {
	t.Parallel()
	p := newPipeline(map[string]stepFunc{
		"CreateSchema": func(_ context.Context, n int, _ json.RawMessage) (any, error) {
			if n <= 2 {
				return nil, &TransientError{}
			}
			return nil, nil
		},
	})
	e, clock := p.run(t, loadProvisioning(t))
	wantStatus(t, e, StatusSucceeded, "")
	wantRoute(t, e, append(slices.Clone(steps), "Provisioned")...)
	if got := len(p.calls["CreateSchema"].all()); got != 3 {
		t.Errorf("CreateSchema ran %d times, want 3", got)
	}
	// The TransientError retrier: IntervalSeconds 2, BackoffRate 2, FULL jitter.
	wantSleepsWithin(t, clock.Sleeps(), 2*time.Second, 4*time.Second)
}

func TestProvisioningRetriesTimeout(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := newPipeline(map[string]stepFunc{
			"DeploySorobanContract": func(ctx context.Context, n int, _ json.RawMessage) (any, error) {
				if n == 1 {
					<-ctx.Done() // the RPC hangs until TimeoutSeconds
					return nil, ctx.Err()
				}
				return map[string]string{"contractId": "C2"}, nil
			},
		})
		start := time.Now()
		e, clock := p.run(t, loadProvisioning(t))
		wantStatus(t, e, StatusSucceeded, "")
		if took := time.Since(start); took != 120*time.Second {
			t.Errorf("the hung attempt took %v, want the state's TimeoutSeconds of 120s", took)
		}
		wantSleepsWithin(t, clock.Sleeps(), 5*time.Second)
		sameJSON(t, e.Output, `{"tenantId": "`+tenantID+`", "requestId": "`+requestID+`", "contract": {"contractId": "C2"}}`)
	})
}

func TestProvisioningPermanentFailureRollsBack(t *testing.T) {
	t.Parallel()
	p := newPipeline(map[string]stepFunc{
		"SeedRolesAndUser": func(context.Context, int, json.RawMessage) (any, error) {
			return nil, &InvariantError{msg: "seed roles: tenant is not PROVISIONING"}
		},
	})
	e, clock := p.run(t, loadProvisioning(t))
	const cause = `{"errorMessage":"seed roles: tenant is not PROVISIONING","errorType":"InvariantError"}`
	wantStatus(t, e, StatusFailed, "InvariantError")
	if e.Cause != cause {
		t.Errorf("Cause %s, want %s", e.Cause, cause)
	}
	wantRoute(t, e, "CreateTenantRecord", "CreateSchema", "RunMigrations", "SeedRolesAndUser", "Rollback", "ProvisioningFailed")
	if got := len(p.calls["SeedRolesAndUser"].all()); got != 1 || len(clock.Sleeps()) != 0 {
		t.Errorf("a permanent error was retried: %d calls, sleeps %v", got, clock.Sleeps())
	}
	rollback := p.calls["Rollback"].all()
	if len(rollback) != 1 {
		t.Fatalf("Rollback ran %d times", len(rollback))
	}
	errJSON, _ := json.Marshal(map[string]string{"Error": "InvariantError", "Cause": cause})
	arn := "arn:aws:states:eu-west-1:123456789012:execution:tenant-provisioning:" + tenantID
	sameJSON(t, []byte(rollback[0]), `{"tenantId": "`+tenantID+`", "requestId": "`+requestID+`", "executionArn": "`+arn+`", "error": `+string(errJSON)+`}`)
	for _, step := range steps[4:] {
		if n := len(p.calls[step].all()); n != 0 {
			t.Errorf("%s ran after the failure", step)
		}
	}
}

func TestProvisioningRollbackFailure(t *testing.T) {
	t.Parallel()
	p := newPipeline(map[string]stepFunc{
		"DeploySorobanContract": func(context.Context, int, json.RawMessage) (any, error) {
			return nil, &InvariantError{msg: "deploy contract: wasm hash mismatch"}
		},
		"Rollback": func(context.Context, int, json.RawMessage) (any, error) { return nil, RollbackError{} },
	})
	e, clock := p.run(t, loadProvisioning(t))
	wantStatus(t, e, StatusFailed, "RollbackFailed")
	want := `step failure: InvariantError {"errorMessage":"deploy contract: wasm hash mismatch","errorType":"InvariantError"}; ` +
		`rollback failure: RollbackError {"errorMessage":"rollback: drop schema: connection refused","errorType":"RollbackError"}`
	if e.Cause != want {
		t.Errorf("Cause\n%s\nwant\n%s", e.Cause, want)
	}
	wantRoute(t, e, "CreateTenantRecord", "CreateSchema", "RunMigrations", "SeedRolesAndUser", "DeploySorobanContract", "Rollback", "RollbackFailed")
	// Rollback's States.ALL retrier: 4 retries from 2s doubling, capped at 30s, FULL jitter.
	if got := len(p.calls["Rollback"].all()); got != 5 {
		t.Errorf("Rollback ran %d times, want 5", got)
	}
	wantSleepsWithin(t, clock.Sleeps(), 2*time.Second, 4*time.Second, 8*time.Second, 16*time.Second)
}
