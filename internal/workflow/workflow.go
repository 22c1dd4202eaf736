// Package workflow starts and describes Step Functions (Standard) executions: the one that
// provisions a tenant, named after the tenant id with that id alone as its input, so a
// retried start is recognised and no personal data reaches execution history; and an
// upgrade run's, named after the run id with that id alone as its input.
package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/google/uuid"

	"github.com/healthstack/tenant-provisioning/internal/audit"
	"github.com/healthstack/tenant-provisioning/internal/fault"
)

// API is the part of *sfn.Client the package uses.
type API interface {
	StartExecution(ctx context.Context, params *sfn.StartExecutionInput, optFns ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error)
	DescribeExecution(ctx context.Context, params *sfn.DescribeExecutionInput, optFns ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
}

var _ API = (*sfn.Client)(nil)

const (
	opNew          = "configure workflow client"
	opStart        = "start provisioning execution"
	opStartUpgrade = "start upgrade execution"
	opExisting     = "describe existing provisioning execution"
	opDescribe     = "describe provisioning execution"
	opArn          = "derive execution ARN"
)

// codes classifies the Step Functions errors of StartExecution and DescribeExecution.
// ExecutionAlreadyExists is absent on purpose: Start resolves it before classifying.
var codes = map[string]fault.Kind{
	"ExecutionLimitExceeded":   fault.KindTransient, // open executions drain; try later
	"StateMachineDoesNotExist": fault.KindConfig,
	"StateMachineDeleting":     fault.KindConfig,
	"InvalidArn":               fault.KindConfig,
	"InvalidName":              fault.KindConfig,
	"InvalidExecutionInput":    fault.KindValidation,
	"ExecutionDoesNotExist":    fault.KindNotFound,
	// A customer-managed key the function may not use, or one that is disabled, needs an
	// operator; KMS throttling passes.
	"KmsAccessDeniedException": fault.KindConfig,
	"KmsInvalidStateException": fault.KindConfig,
	"KmsThrottlingException":   fault.KindTransient,
}

func classify(op string, err error) error { return fault.FromAWS(op, err, codes) }

// startSkew absorbs the difference between our clock and Step Functions' when telling an
// execution StartExecution just created from a running one it handed back (see Start).
const startSkew = time.Second

// Client starts and describes executions of one state machine.
type Client struct {
	api             API
	stateMachineArn string
	executionPrefix string // an execution's ARN up to its name
}

// New returns a Client for the unqualified ARN of a Standard state machine. A malformed ARN
// is a *fault.ConfigError: it comes from deployment settings, not from a request.
func New(api API, stateMachineArn string) (*Client, error) {
	if api == nil {
		return nil, &fault.ConfigError{Op: opNew, Msg: "no Step Functions client"}
	}
	prefix, err := executionPrefix(opNew, stateMachineArn)
	if err != nil {
		return nil, err
	}
	return &Client{api: api, stateMachineArn: stateMachineArn, executionPrefix: prefix}, nil
}

// Execution is a tenant's provisioning execution as Start found or created it.
type Execution struct {
	Arn       string
	StartedAt time.Time
	// AlreadyStarted reports that this call did not create the execution: an earlier start
	// for the tenant did, and it may have closed since (see Status).
	AlreadyStarted bool
	// Status is the execution's status when Start returned: RUNNING unless an earlier
	// start's execution has closed (SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE).
	Status string
}

// Input is the whole execution input. Anything else about the tenant is read from the
// control plane by the steps, so execution history never holds personal data.
type Input struct {
	TenantID uuid.UUID `json:"tenantId"`
	// RequestID is the admin request that started the execution (the API's request id,
	// from the context's audit actor), which the state machine passes every step: the audit
	// records and events of the transitions the steps make name it, so one id follows the
	// request from the route to the last step. Always present (the state machine's paths
	// read it), empty when no request started the execution.
	RequestID string `json:"requestId"`
}

// InputFor is the input of tenantID's execution started with ctx.
func InputFor(ctx context.Context, tenantID uuid.UUID) []byte {
	a, _ := audit.From(ctx)
	b, _ := json.Marshal(Input{TenantID: tenantID, RequestID: a.RequestID}) // a UUID and a string always encode
	return b
}

// Start starts the provisioning execution for tenantID, or finds the one an earlier call
// started: the execution name is the tenant id, and Step Functions keeps names unique.
//
// Step Functions answers a repeated start in two ways. While the first execution runs, it
// returns that execution as if it were new; Start reports AlreadyStarted when its start date
// is earlier than this call (less startSkew), so a repeat within about a second of the
// first start reads as a fresh start. Once the first has closed it refuses with
// ExecutionAlreadyExists; Start then describes the execution and returns it, closed, with
// AlreadyStarted, and leaves it to the caller what a closed execution means. An execution
// of the same name whose input is not this tenant's is a *fault.ConflictError.
func (c *Client) Start(ctx context.Context, tenantID uuid.UUID) (Execution, error) {
	return c.StartNamed(ctx, tenantID, tenantID.String())
}

// StartNamed is Start for the execution called name: an admin's retry of a FAILED tenant
// runs as <tenantId>-r<N> (tenant.ExecutionName), each attempt under a name of its own.
func (c *Client) StartNamed(ctx context.Context, tenantID uuid.UUID, name string) (Execution, error) {
	if !validName(name) {
		return Execution{}, &fault.ValidationError{Op: opStart, Fields: []fault.FieldError{{Field: "name", Message: "is not a valid execution name"}}}
	}
	if tenantID == uuid.Nil {
		return Execution{}, &fault.ValidationError{Op: opStart, Fields: []fault.FieldError{{Field: "tenantId", Message: "must not be the nil UUID"}}}
	}
	e, err := c.start(ctx, name, InputFor(ctx, tenantID))
	if _, ok := errors.AsType[*types.ExecutionAlreadyExists](err); ok {
		return c.existing(ctx, tenantID, name, err)
	}
	return e, classify(opStart, err)
}

// StartUpgrade starts the upgrade run's execution, named after the run id with {"runId"}
// as its only input: the run's options are in the control plane. Run ids are fresh, so a
// name already taken is a *fault.ConflictError.
func (c *Client) StartUpgrade(ctx context.Context, runID uuid.UUID) (Execution, error) {
	if runID == uuid.Nil {
		return Execution{}, &fault.ValidationError{Op: opStartUpgrade, Fields: []fault.FieldError{{Field: "runId", Message: "must not be the nil UUID"}}}
	}
	payload, _ := json.Marshal(struct {
		RunID uuid.UUID `json:"runId"`
	}{runID})
	e, err := c.start(ctx, runID.String(), payload)
	if _, ok := errors.AsType[*types.ExecutionAlreadyExists](err); ok {
		return Execution{}, &fault.ConflictError{Op: opStartUpgrade, Msg: "an execution already has this run's name", Err: err}
	}
	return e, classify(opStartUpgrade, err)
}

// start starts the execution called name; the error is StartExecution's, unclassified.
func (c *Client) start(ctx context.Context, name string, payload []byte) (Execution, error) {
	calledAt := time.Now()
	out, err := c.api.StartExecution(ctx, &sfn.StartExecutionInput{
		StateMachineArn: aws.String(c.stateMachineArn),
		Name:            aws.String(name),
		Input:           aws.String(string(payload)),
		TraceHeader:     traceHeader(ctx),
	})
	if err != nil {
		return Execution{}, err
	}
	started := aws.ToTime(out.StartDate)
	return Execution{
		Arn:            aws.ToString(out.ExecutionArn),
		StartedAt:      started,
		AlreadyStarted: started.Before(calledAt.Add(-startSkew)),
		Status:         string(types.ExecutionStatusRunning),
	}, nil
}

// existing returns the execution StartExecution would not start again, if it is this
// tenant's. alreadyExists is StartExecution's refusal, kept as the cause of a conflict.
func (c *Client) existing(ctx context.Context, tenantID uuid.UUID, name string, alreadyExists error) (Execution, error) {
	out, err := c.api.DescribeExecution(ctx, &sfn.DescribeExecutionInput{
		ExecutionArn: aws.String(c.executionPrefix + name),
	})
	if err != nil {
		return Execution{}, classify(opExisting, err)
	}
	// Ours is exactly this tenant's id: an input with more in it, or a tenantId that is not
	// a UUID, was not written by Start.
	dec := json.NewDecoder(strings.NewReader(aws.ToString(out.Input)))
	dec.DisallowUnknownFields()
	var in Input
	if dec.Decode(&in) != nil || in.TenantID != tenantID {
		return Execution{}, &fault.ConflictError{Op: opStart, Msg: "execution name is in use with another input", Err: alreadyExists}
	}
	return Execution{
		Arn:            aws.ToString(out.ExecutionArn),
		StartedAt:      aws.ToTime(out.StartDate),
		AlreadyStarted: true,
		Status:         string(out.Status),
	}, nil
}

// Status is what the status endpoint may show of an execution. The input and output are
// left out: the status endpoint has no business with them.
type Status struct {
	Arn       string
	Name      string
	Status    string // RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE
	StartedAt time.Time
	StoppedAt *time.Time // nil while running
	Error     string     // for FAILED and TIMED_OUT: the error name the state machine ended with
	Cause     string
}

// Describe returns the status of an execution of this client's state machine. An ARN of
// another state machine's execution is a *fault.ValidationError, so a status endpoint that
// passes ARNs through cannot be used to read other workflows.
func (c *Client) Describe(ctx context.Context, executionArn string) (Status, error) {
	name, ok := strings.CutPrefix(executionArn, c.executionPrefix)
	if !ok || !validName(name) {
		return Status{}, &fault.ValidationError{Op: opDescribe, Fields: []fault.FieldError{{Field: "executionArn", Message: "is not an execution of the provisioning state machine"}}}
	}
	out, err := c.api.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(executionArn)})
	if err != nil {
		return Status{}, classify(opDescribe, err)
	}
	return Status{
		Arn:       aws.ToString(out.ExecutionArn),
		Name:      aws.ToString(out.Name),
		Status:    string(out.Status),
		StartedAt: aws.ToTime(out.StartDate),
		StoppedAt: out.StopDate,
		Error:     aws.ToString(out.Error),
		Cause:     aws.ToString(out.Cause),
	}, nil
}

// ExecutionArn is the ARN of this state machine's execution called name.
func (c *Client) ExecutionArn(name string) (string, error) {
	if !validName(name) {
		return "", &fault.ValidationError{Op: opArn, Fields: []fault.FieldError{{Field: "name", Message: "is not a valid execution name"}}}
	}
	return c.executionPrefix + name, nil
}

// ExecutionStatus is the status of this state machine's execution called name (RUNNING,
// SUCCEEDED, FAILED, TIMED_OUT, ABORTED), or "" when there is none: never started, or
// gone from Step Functions' history.
func (c *Client) ExecutionStatus(ctx context.Context, name string) (string, error) {
	arn, err := c.ExecutionArn(name)
	if err != nil {
		return "", err
	}
	s, err := c.Describe(ctx, arn)
	if _, ok := errors.AsType[*fault.NotFoundError](err); ok {
		return "", nil
	}
	return s.Status, err
}

// ExecutionArn returns the ARN Step Functions gives the Standard execution called name of
// the state machine: arn:<partition>:states:<region>:<account>:stateMachine:<sm> becomes
// arn:<partition>:states:<region>:<account>:execution:<sm>:<name>. A malformed state
// machine ARN is a *fault.ConfigError, a name Step Functions would refuse a
// *fault.ValidationError.
func ExecutionArn(stateMachineArn, name string) (string, error) {
	prefix, err := executionPrefix(opArn, stateMachineArn)
	if err != nil {
		return "", err
	}
	if !validName(name) {
		return "", &fault.ValidationError{Op: opArn, Fields: []fault.FieldError{{Field: "name", Message: "is not a valid execution name"}}}
	}
	return prefix + name, nil
}

// executionPrefix checks stateMachineArn and returns the ARN of its executions up to the
// execution name. Messages name the offending part, not its value.
func executionPrefix(op, stateMachineArn string) (string, error) {
	bad := func(msg string) (string, error) {
		return "", &fault.ConfigError{Op: op, Msg: "state machine ARN: " + msg}
	}
	a, err := arn.Parse(stateMachineArn)
	if err != nil {
		return bad("not an ARN")
	}
	sm, ok := strings.CutPrefix(a.Resource, "stateMachine:")
	switch {
	case a.Partition == "" || a.Service != "states":
		return bad("not a Step Functions ARN")
	case !validRegion(a.Region):
		return bad("bad region")
	case !validAccount(a.AccountID):
		return bad("account is not 12 digits")
	case !ok:
		return bad("not a state machine")
	case strings.Contains(sm, ":"):
		// A version or alias ARN runs the same executions, but would make the client's
		// identity depend on what the alias points at; configure the state machine itself.
		return bad("qualified with a version or alias")
	case !validName(sm):
		return bad("bad state machine name")
	}
	a.Resource = "execution:" + sm + ":"
	return a.String(), nil
}

func validRegion(s string) bool {
	return s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-')
	}) < 0
}

func validAccount(s string) bool {
	return len(s) == 12 && strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' }) < 0
}

// validName applies Step Functions' rules for state machine and execution names, so a bad
// name fails here rather than as an InvalidName from the service.
func validName(s string) bool {
	if s == "" || utf8.RuneCountInString(s) > 80 {
		return false
	}
	return strings.IndexFunc(s, func(r rune) bool {
		// IsControl covers U+0000-001F and U+007F-009F; RuneError stands for invalid UTF-8.
		return unicode.IsSpace(r) || unicode.IsControl(r) || r == utf8.RuneError || r == 0xfffe || r == 0xffff ||
			strings.ContainsRune("<>{}[]?*\"#%\\^|~`$&,;:/", r)
	}) < 0
}

// traceHeader is the invocation's X-Ray trace header, which the Lambda runtime puts in the
// handler's context (aws-lambda-go's "x-amzn-trace-id" value): passed on StartExecution,
// the execution's trace continues the route's, so one trace runs from the request to the
// last step. Nil outside Lambda, or for a header StartExecution would refuse (over 256
// characters).
func traceHeader(ctx context.Context) *string {
	h, _ := ctx.Value(lambdaTraceKey).(string)
	if h == "" || len(h) > 256 {
		return nil
	}
	return aws.String(h)
}

// lambdaTraceKey is the context key aws-lambda-go stores the trace header under: a plain
// string, its contract with handlers (lambda/invoke_loop.go).
const lambdaTraceKey = "x-amzn-trace-id"
