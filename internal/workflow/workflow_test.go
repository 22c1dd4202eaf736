package workflow

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/healthstack/tenant-provisioning/internal/audit"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/smithy-go"
	"github.com/google/uuid"

	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/testkit/awstest"
)

// The Wait keeps executions RUNNING on an emulator that does run definitions (LocalStack);
// moto_server leaves them RUNNING anyway.
const definition = `{
  "StartAt": "Hold",
  "States": {
    "Hold": {"Type": "Wait", "Seconds": 3600, "Next": "Done"},
    "Done": {"Type": "Succeed"}
  }
}`

// newStateMachine creates a state machine of its own for the test, on the emulator.
func newStateMachine(t *testing.T) (*sfn.Client, string) {
	t.Helper()
	return awstest.StateMachine(t, definition)
}

func newClient(t *testing.T) (*Client, *sfn.Client, string) {
	t.Helper()
	api, arn := newStateMachine(t)
	c, err := New(api, arn)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c, api, arn
}

func inputOf(id string) string { return `{"tenantId":"` + id + `"}` }

// The execution is named after the tenant, and its input is the tenant's id and the id of
// the admin request that started it, nothing else; the invocation's X-Ray trace header is
// passed on, so that the execution's trace continues the route's.
func TestStartNamesTheExecutionAfterTheTenantAndPassesOnlyItsID(t *testing.T) {
	t.Parallel()
	api, smArn := newStateMachine(t)
	sent := &recorder{next: awshttp.NewBuildableClient()}
	c, err := New(sfn.NewFromConfig(awstest.Config(t), func(o *sfn.Options) { o.HTTPClient = sent }), smArn)
	if err != nil {
		t.Fatal(err)
	}
	id := uuid.New()
	const trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
	ctx := audit.With(context.WithValue(t.Context(), lambdaTraceKey, trace), audit.Actor{Name: audit.Admin("https://issuer.example", "a"), RequestID: "CmZ8bjMeoAMEV-w="})

	calledAt := time.Now()
	got, err := c.Start(ctx, id)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	wantArn, _ := ExecutionArn(smArn, id.String())
	if got.Arn != wantArn || got.AlreadyStarted || got.Status != "RUNNING" {
		t.Errorf("Start = %+v, want Arn %s, not AlreadyStarted, RUNNING", got, wantArn)
	}
	if d := got.StartedAt.Sub(calledAt); d < -startSkew || d > time.Minute {
		t.Errorf("StartedAt %v is %v from the call", got.StartedAt, d)
	}

	desc, err := api.DescribeExecution(t.Context(), &sfn.DescribeExecutionInput{ExecutionArn: &got.Arn})
	if err != nil {
		t.Fatalf("DescribeExecution: %v", err)
	}
	if name := aws.ToString(desc.Name); name != id.String() {
		t.Errorf("execution name = %q, want the tenant id %s", name, id)
	}
	// Byte for byte: anything beside the ids would be data the history should not hold.
	if in, want := aws.ToString(desc.Input), `{"tenantId":"`+id.String()+`","requestId":"CmZ8bjMeoAMEV-w="}`; in != want {
		t.Errorf("execution input = %s, want %s", in, want)
	}
	var start struct {
		TraceHeader string `json:"traceHeader"`
	}
	if bodies := sent.all(); len(bodies) != 1 || json.Unmarshal([]byte(bodies[0]), &start) != nil || start.TraceHeader != trace {
		t.Errorf("StartExecution sent %q, want the trace header %q", bodies, trace)
	}
	// Without a request or a trace (an execution started by a tool): the request id is
	// empty, present all the same, as the state machine reads it.
	other := uuid.New()
	if _, err := c.Start(t.Context(), other); err != nil {
		t.Fatal(err)
	}
	desc, err = api.DescribeExecution(t.Context(), &sfn.DescribeExecutionInput{ExecutionArn: aws.String(strings.TrimSuffix(got.Arn, id.String()) + other.String())})
	if err != nil || aws.ToString(desc.Input) != `{"tenantId":"`+other.String()+`","requestId":""}` {
		t.Errorf("input without a request: %v, %v", aws.ToString(desc.Input), err)
	}
	if bodies := sent.all(); len(bodies) != 2 || strings.Contains(bodies[1], "traceHeader") {
		t.Errorf("a start without a trace sent %q", bodies)
	}
}

// recorder keeps the bodies of the requests a client sends, and sends them on.
type recorder struct {
	mu     sync.Mutex
	bodies []string
	next   *awshttp.BuildableClient
}

func (r *recorder) Do(req *http.Request) (*http.Response, error) {
	b, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	req.Body = io.NopCloser(bytes.NewReader(b))
	r.mu.Lock()
	r.bodies = append(r.bodies, string(b))
	r.mu.Unlock()
	return r.next.Do(req)
}

func (r *recorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.bodies)
}

func TestStartTwiceFindsTheFirstExecution(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		between    func(t *testing.T, api *sfn.Client, arn string)
		wantStatus string
	}{
		{
			// Step Functions hands the running execution back as if new; Start tells by the
			// start date, so the repeat must come later than startSkew.
			name: "while it runs",
			between: func(t *testing.T, _ *sfn.Client, _ string) {
				time.Sleep(startSkew + 500*time.Millisecond)
			},
			wantStatus: "RUNNING",
		},
		{
			// Step Functions refuses with ExecutionAlreadyExists.
			name: "right away, after it closed",
			between: func(t *testing.T, api *sfn.Client, arn string) {
				if _, err := api.StopExecution(t.Context(), &sfn.StopExecutionInput{ExecutionArn: &arn}); err != nil {
					t.Fatalf("StopExecution: %v", err)
				}
			},
			wantStatus: "ABORTED",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, api, smArn := newClient(t)
			id := uuid.New()
			first, err := c.Start(t.Context(), id)
			if err != nil {
				t.Fatalf("first Start: %v", err)
			}
			tc.between(t, api, first.Arn)

			again, err := c.Start(t.Context(), id)
			if err != nil {
				t.Fatalf("second Start: %v", err)
			}
			want := Execution{Arn: first.Arn, StartedAt: first.StartedAt, AlreadyStarted: true, Status: tc.wantStatus}
			if !again.StartedAt.Equal(want.StartedAt) || again.Arn != want.Arn || again.AlreadyStarted != want.AlreadyStarted || again.Status != want.Status {
				t.Errorf("second Start = %+v, want %+v", again, want)
			}

			list, err := api.ListExecutions(t.Context(), &sfn.ListExecutionsInput{StateMachineArn: &smArn})
			if err != nil {
				t.Fatalf("ListExecutions: %v", err)
			}
			if len(list.Executions) != 1 || aws.ToString(list.Executions[0].ExecutionArn) != first.Arn {
				t.Errorf("executions = %d, want only %s", len(list.Executions), first.Arn)
			}
		})
	}
}

func TestStartRefusesAnExecutionOfTheSameNameWithAnotherInput(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		input func(id uuid.UUID) string
	}{
		{"another tenant", func(uuid.UUID) string { return inputOf(uuid.NewString()) }},
		{"no tenant", func(uuid.UUID) string { return `{}` }},
		{"tenant id not a UUID", func(uuid.UUID) string { return inputOf("clinic") }},
		{"same tenant and more", func(id uuid.UUID) string {
			return `{"tenantId":"` + id.String() + `","email":"x@example.org"}`
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, api, smArn := newClient(t)
			id := uuid.New()
			_, err := api.StartExecution(t.Context(), &sfn.StartExecutionInput{
				StateMachineArn: &smArn,
				Name:            aws.String(id.String()),
				Input:           aws.String(tc.input(id)),
			})
			if err != nil {
				t.Fatalf("StartExecution: %v", err)
			}

			_, err = c.Start(t.Context(), id)
			if _, ok := errors.AsType[*fault.ConflictError](err); !ok {
				t.Fatalf("Start = %v (%s), want ConflictError", err, fault.Name(err))
			}
			if strings.Contains(err.Error(), id.String()) {
				t.Errorf("error %q quotes the tenant id", err)
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		stop        bool
		wantStatus  string
		wantStopped bool
	}{
		{"running", false, "RUNNING", false},
		{"stopped", true, "ABORTED", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, api, _ := newClient(t)
			id := uuid.New()
			ex, err := c.Start(t.Context(), id)
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			if tc.stop {
				if _, err := api.StopExecution(t.Context(), &sfn.StopExecutionInput{ExecutionArn: &ex.Arn}); err != nil {
					t.Fatalf("StopExecution: %v", err)
				}
			}

			got, err := c.Describe(t.Context(), ex.Arn)
			if err != nil {
				t.Fatalf("Describe: %v", err)
			}
			if got.Arn != ex.Arn || got.Name != id.String() || got.Status != tc.wantStatus || !got.StartedAt.Equal(ex.StartedAt) {
				t.Errorf("Describe = %+v, want %s named %s, %s, started %v", got, ex.Arn, id, tc.wantStatus, ex.StartedAt)
			}
			if (got.StoppedAt != nil) != tc.wantStopped || got.StoppedAt != nil && got.StoppedAt.Before(got.StartedAt) {
				t.Errorf("StoppedAt = %v, want set: %v, not before the start", got.StoppedAt, tc.wantStopped)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		call func(t *testing.T, c *Client, api *sfn.Client, smArn string) error
		want string
	}{
		{"start on a deleted state machine", func(t *testing.T, c *Client, api *sfn.Client, smArn string) error {
			if _, err := api.DeleteStateMachine(t.Context(), &sfn.DeleteStateMachineInput{StateMachineArn: &smArn}); err != nil {
				t.Fatalf("DeleteStateMachine: %v", err)
			}
			_, err := c.Start(t.Context(), uuid.New())
			return err
		}, "ConfigError"},
		{"start on a state machine that never was", func(t *testing.T, _ *Client, api *sfn.Client, smArn string) error {
			missing := smArn[:strings.LastIndex(smArn, ":")+1] + awstest.UniqueName("missing")
			c, err := New(api, missing)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			_, err = c.Start(t.Context(), uuid.New())
			return err
		}, "ConfigError"},
		{"start for the nil tenant", func(t *testing.T, c *Client, _ *sfn.Client, _ string) error {
			_, err := c.Start(t.Context(), uuid.Nil)
			return err
		}, "ValidationError"},
		{"describe an unknown execution", func(t *testing.T, c *Client, _ *sfn.Client, smArn string) error {
			arn, err := ExecutionArn(smArn, uuid.NewString())
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Describe(t.Context(), arn)
			return err
		}, "NotFoundError"},
		{"describe another state machine's execution", func(t *testing.T, c *Client, _ *sfn.Client, smArn string) error {
			arn, err := ExecutionArn(smArn+"-other", uuid.NewString())
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Describe(t.Context(), arn)
			return err
		}, "ValidationError"},
		{"describe a malformed ARN", func(t *testing.T, c *Client, _ *sfn.Client, _ string) error {
			_, err := c.Describe(t.Context(), "not-an-arn")
			return err
		}, "ValidationError"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, api, smArn := newClient(t)
			err := tc.call(t, c, api, smArn)
			// Handlers return errors as they are, so the class must be the error itself.
			if got := fault.Name(err); got != tc.want {
				t.Errorf("error = %v (%s), want %s", err, got, tc.want)
			}
		})
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	api := sfn.New(sfn.Options{Region: "us-east-1"})
	cases := []struct {
		name, arn string
		ok        bool
	}{
		{"state machine", "arn:aws:states:eu-central-1:123456789012:stateMachine:tenant-provisioning", true},
		{"other partition", "arn:aws-us-gov:states:us-gov-west-1:123456789012:stateMachine:tp", true},
		{"empty", "", false},
		{"not an ARN", "tenant-provisioning", false},
		{"other service", "arn:aws:lambda:eu-central-1:123456789012:function:tp", false},
		{"execution", "arn:aws:states:eu-central-1:123456789012:execution:tp:x", false},
		{"activity", "arn:aws:states:eu-central-1:123456789012:activity:tp", false},
		{"version", "arn:aws:states:eu-central-1:123456789012:stateMachine:tp:1", false},
		{"alias", "arn:aws:states:eu-central-1:123456789012:stateMachine:tp:PROD", false},
		{"no region", "arn:aws:states::123456789012:stateMachine:tp", false},
		{"short account", "arn:aws:states:eu-central-1:1234:stateMachine:tp", false},
		{"no name", "arn:aws:states:eu-central-1:123456789012:stateMachine:", false},
		{"name with space", "arn:aws:states:eu-central-1:123456789012:stateMachine:tenant provisioning", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := New(api, tc.arn)
			if tc.ok {
				if err != nil || c == nil {
					t.Fatalf("New = %v, %v", c, err)
				}
				return
			}
			if _, ok := errors.AsType[*fault.ConfigError](err); !ok {
				t.Fatalf("New = %v (%s), want ConfigError", err, fault.Name(err))
			}
		})
	}
	if _, err := New(nil, cases[0].arn); fault.Name(err) != "ConfigError" {
		t.Errorf("New(nil) = %v, want ConfigError", err)
	}
}

func TestExecutionArn(t *testing.T) {
	t.Parallel()
	const sm = "arn:aws:states:eu-central-1:123456789012:stateMachine:tenant-provisioning"
	id := "3f1c9a52-6b1e-4c1a-9f4e-1d2b3c4d5e6f"
	cases := []struct {
		name, smArn, execName string
		want                  string
		wantErr               string
	}{
		{"tenant id", sm, id, "arn:aws:states:eu-central-1:123456789012:execution:tenant-provisioning:" + id, ""},
		{"china partition", "arn:aws-cn:states:cn-north-1:123456789012:stateMachine:tp", "x_1",
			"arn:aws-cn:states:cn-north-1:123456789012:execution:tp:x_1", ""},
		{"80 characters", sm, strings.Repeat("a", 80), "arn:aws:states:eu-central-1:123456789012:execution:tenant-provisioning:" + strings.Repeat("a", 80), ""},
		{"81 characters", sm, strings.Repeat("a", 81), "", "ValidationError"},
		{"empty name", sm, "", "", "ValidationError"},
		{"colon in name", sm, "a:b", "", "ValidationError"},
		{"slash in name", sm, "a/b", "", "ValidationError"},
		{"control character", sm, "a\x01b", "", "ValidationError"},
		{"invalid UTF-8", sm, "a\xffb", "", "ValidationError"},
		{"execution ARN for state machine", "arn:aws:states:eu-central-1:123456789012:execution:tp:x", id, "", "ConfigError"},
		{"alias", sm + ":PROD", id, "", "ConfigError"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ExecutionArn(tc.smArn, tc.execName)
			if got != tc.want || fault.Name(err) != tc.wantErr {
				t.Errorf("ExecutionArn = %q, %v (%s); want %q, %s", got, err, fault.Name(err), tc.want, tc.wantErr)
			}
		})
	}
}

// The SDK wraps service errors as below; only here is that built by hand, so that codes the
// emulator never returns are covered too.
func TestClassify(t *testing.T) {
	t.Parallel()
	cases := []struct {
		code  string
		fault smithy.ErrorFault
		want  string
	}{
		{"ExecutionLimitExceeded", smithy.FaultClient, "TransientError"},
		{"StateMachineDoesNotExist", smithy.FaultClient, "ConfigError"},
		{"StateMachineDeleting", smithy.FaultClient, "ConfigError"},
		{"InvalidArn", smithy.FaultClient, "ConfigError"},
		{"InvalidName", smithy.FaultClient, "ConfigError"},
		{"InvalidExecutionInput", smithy.FaultClient, "ValidationError"},
		{"ExecutionDoesNotExist", smithy.FaultClient, "NotFoundError"},
		{"KmsAccessDeniedException", smithy.FaultClient, "ConfigError"},
		{"KmsInvalidStateException", smithy.FaultClient, "ConfigError"},
		{"KmsThrottlingException", smithy.FaultClient, "TransientError"},
		{"ThrottlingException", smithy.FaultClient, "TransientError"},
		{"InternalFailure", smithy.FaultServer, "TransientError"},
		// Start resolves it before classifying; anywhere else it is a bug.
		{"ExecutionAlreadyExists", smithy.FaultClient, "InvariantError"},
		{"ValidationException", smithy.FaultClient, "InvariantError"},
	}
	for _, tc := range cases {
		t.Run(tc.code, func(t *testing.T) {
			t.Parallel()
			err := &smithy.OperationError{ServiceID: "SFN", OperationName: "StartExecution", Err: &smithy.GenericAPIError{
				Code: tc.code, Message: "Execution Already Exists: 'arn:...:jane@example.org'", Fault: tc.fault,
			}}
			got := classify(opStart, err)
			if fault.Name(got) != tc.want {
				t.Errorf("classify(%s) = %v (%s), want %s", tc.code, got, fault.Name(got), tc.want)
			}
			if strings.Contains(got.Error(), "example.org") {
				t.Errorf("error %q repeats the service message", got)
			}
		})
	}
}
