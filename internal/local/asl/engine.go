package asl

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"
	"unicode"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/google/uuid"

	"github.com/healthstack/tenant-provisioning/internal/local/lambdarun"
)

// run is one execution in progress. It is not modified once the execution starts, apart
// from live (locked) and result (by finish): the iterations of an inline Map run on
// copies of it, the same execution with their own index.
type run struct {
	g        *graph
	timeout  time.Duration // the machine's TimeoutSeconds, for its Cause
	live     *Running
	handlers map[string]Handler
	clock    Clock
	onEvent  func(Event)

	region, account                    string
	name, arn, machineName, machineArn string
	input                              any
	start, deadline                    time.Time // deadline zero: no TimeoutSeconds
	// child is set on a distributed Map's child execution, whose deadline is its parent's:
	// reaching it aborts the child, as the parent's timing out does in Step Functions.
	child  bool
	index  *int64 // an inline Map iteration's item index, set on its events
	result any    // the output, once finished
}

// visit is one entry into a state.
type visit struct {
	s         *state
	input     any // the state's raw input
	enteredID int64
	entered   time.Time
}

// record adds ev to history. Inline Map iterations record from their own goroutines:
// emit keeps IDs in history order and OnEvent calls one at a time, in that order, while
// mu alone guards what Snapshot reads.
func (r *run) record(ev Event, end func(*Execution, Event)) Event {
	l := r.live
	l.emit.Lock()
	defer l.emit.Unlock()
	l.mu.Lock()
	l.lastID++
	ev.ID, ev.PreviousEventID, ev.Timestamp = l.lastID, l.lastID-1, r.clock.Now()
	if ev.Index == nil {
		ev.Index = r.index
	}
	l.exec.Events = append(l.exec.Events, ev)
	if end != nil {
		end(&l.exec, ev)
	}
	l.mu.Unlock()
	if r.onEvent != nil {
		r.onEvent(ev)
	}
	return ev
}

func (r *run) execute(ctx context.Context) {
	out, err := r.runGraph(ctx, r.g, r.input)
	r.finish(out, err)
}

// runGraph runs states from g's StartAt until one ends: the execution's, or an iteration's.
func (r *run) runGraph(ctx context.Context, g *graph, input any) (any, error) {
	name, data := g.startAt, input
	for {
		if err := r.interrupted(ctx); err != nil {
			return nil, err
		}
		out, next, err := r.runState(ctx, &visit{s: g.states[name], input: data})
		if err != nil || next == "" {
			return out, err
		}
		name, data = next, out
	}
}

func (r *run) finish(out any, err error) {
	var ev Event
	status := StatusSucceeded
	var f *failure
	var h *halt
	switch {
	case err == nil:
		ev = Event{Type: ExecutionSucceeded, Output: encodeJSON(out)}
	case errors.As(err, &f):
		status = StatusFailed
		ev = Event{Type: ExecutionFailed, Error: f.name, Cause: f.cause}
	case errors.As(err, &h):
		status = h.status
		ev = Event{Type: ExecutionAborted, Error: h.name, Cause: h.cause}
		if h.status == StatusTimedOut {
			ev.Type = ExecutionTimedOut
		}
	}
	r.result = out
	r.record(ev, func(e *Execution, ev Event) {
		e.Status, e.StopDate = status, ev.Timestamp
		e.Output, e.Error, e.Cause = ev.Output, ev.Error, ev.Cause
	})
	close(r.live.done)
}

func (r *run) interrupted(ctx context.Context) error {
	if ctx.Err() != nil {
		return r.aborted(ctx)
	}
	if !r.deadline.IsZero() && !r.clock.Now().Before(r.deadline) {
		return r.timedOut()
	}
	return nil
}

func (r *run) aborted(ctx context.Context) *halt {
	h := &halt{status: StatusAborted}
	var sc *stopCause
	if errors.As(context.Cause(ctx), &sc) {
		h.name, h.cause = sc.errorName, sc.cause
	}
	return h
}

func (r *run) timedOut() *halt {
	if r.child {
		return &halt{status: StatusAborted}
	}
	return &halt{status: StatusTimedOut, name: errTimeout,
		cause: fmt.Sprintf("The execution ran longer than the state machine's TimeoutSeconds of %d.", int64(r.timeout/time.Second))}
}

// sleep waits on the clock, but not past the execution's deadline.
func (r *run) sleep(ctx context.Context, d time.Duration) error {
	d = max(d, 0)
	if !r.deadline.IsZero() {
		if left := r.deadline.Sub(r.clock.Now()); d >= left {
			if left > 0 && r.clock.Sleep(ctx, left) != nil {
				return r.aborted(ctx)
			}
			return r.timedOut()
		}
	}
	if r.clock.Sleep(ctx, d) != nil {
		return r.aborted(ctx)
	}
	return nil
}

func (r *run) contextObject(v *visit, retries int) map[string]any {
	return map[string]any{
		"Execution": map[string]any{
			"Id":           r.arn,
			"Input":        r.input,
			"Name":         r.name,
			"StartTime":    isoTime(r.start),
			"RedriveCount": number(0),
		},
		"State": map[string]any{
			"EnteredTime": isoTime(v.entered),
			"Name":        v.s.name,
			"RetryCount":  number(int64(retries)),
		},
		"StateMachine": map[string]any{
			"Id":   r.machineArn,
			"Name": r.machineName,
		},
	}
}

// isoTime formats times as the context object does: UTC, milliseconds.
func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func (r *run) runState(ctx context.Context, v *visit) (any, string, error) {
	ev := r.record(Event{Type: EventType(v.s.kind + "StateEntered"), StateName: v.s.name, Input: encodeJSON(v.input)}, nil)
	v.enteredID, v.entered = ev.ID, ev.Timestamp
	switch v.s.kind {
	case "Task":
		return r.task(ctx, v)
	case "Map":
		return r.mapState(ctx, v)
	case "Pass":
		return r.pass(v)
	case "Choice":
		return r.choice(v)
	case "Wait":
		return r.wait(ctx, v)
	case "Succeed":
		e, err := r.effectiveInput(v, 0)
		if err != nil {
			return nil, "", err
		}
		out, err := r.outputPath(v, e.input)
		if err != nil {
			return nil, "", err
		}
		return r.exit(v, out, "")
	case "Fail":
		return nil, "", r.fail(v)
	}
	panic("asl: unknown state type " + v.s.kind) // Load admits no other
}

// exit records the state's output and moves on to next ("" ends the execution).
func (r *run) exit(v *visit, out any, next string) (any, string, error) {
	enc := encodeJSON(out)
	if len(enc) > maxPayload {
		return nil, "", &failure{name: errDataLimit, cause: fmt.Sprintf(
			"The state/task '%s' returned a result with a size exceeding the maximum number of bytes service limit.", v.s.name)}
	}
	r.record(Event{Type: EventType(v.s.kind + "StateExited"), StateName: v.s.name, Output: enc}, nil)
	return out, next, nil
}

// runtimeError is States.Runtime, worded as Step Functions words it.
func (r *run) runtimeError(v *visit, msg string) *failure {
	return &failure{name: errRuntime, cause: fmt.Sprintf(
		"An error occurred while executing the state '%s' (entered at the event id #%d). %s", v.s.name, v.enteredID, msg)}
}

// describe words a path or intrinsic failure against the data it was applied to.
func describe(err error, data any) string {
	var fe *fieldError
	var mp *missingPathError
	var ie *intrinsicError
	switch {
	case errors.As(err, &fe) && errors.As(err, &mp) && !errors.As(err, &ie):
		where := fmt.Sprintf("the input '%s'", encodeJSON(data))
		if mp.path.context {
			where = "the context object"
		}
		return fmt.Sprintf("The JSONPath '%s' specified for the field '%s' could not be found in %s", mp.path, fe.field, where)
	case errors.As(err, &fe) && errors.As(err, &ie):
		return fmt.Sprintf("The function '%s' specified for the field '%s' had the following error: %v", ie.call, fe.field, ie.err)
	}
	msg := []rune(err.Error())
	if len(msg) > 0 {
		msg[0] = unicode.ToUpper(msg[0])
	}
	return string(msg)
}

// effectiveInput applies InputPath and builds the environment of the state's paths.
func (r *run) effectiveInput(v *visit, retries int) (*env, error) {
	e := &env{input: map[string]any{}, context: r.contextObject(v, retries)}
	if p := v.s.inputPath; p != nil {
		in, err := p.eval(&env{input: v.input})
		if err != nil {
			return nil, r.runtimeError(v, fmt.Sprintf("Invalid path '%s' : No results for path in the state input '%s'", p, encodeJSON(v.input)))
		}
		e.input = in
	}
	return e, nil
}

func (r *run) outputPath(v *visit, data any) (any, error) {
	p := v.s.outputPath
	if p == nil {
		return map[string]any{}, nil
	}
	out, err := p.eval(&env{input: data})
	if err != nil {
		return nil, r.runtimeError(v, fmt.Sprintf("Invalid path '%s' : No results for path in '%s'", p, encodeJSON(data)))
	}
	return out, nil
}

// placeResult applies ResultPath to the raw input, then OutputPath.
func (r *run) placeResult(v *visit, result any) (any, error) {
	out := v.input
	if p := v.s.resultPath; p != nil {
		var err error
		if out, err = p.set(v.input, result); err != nil {
			return nil, &failure{name: errResultPath, cause: fmt.Sprintf(
				"Unable to apply ResultPath '%s' to input '%s': %v", p, encodeJSON(v.input), err)}
		}
	}
	return r.outputPath(v, out)
}

func (r *run) pass(v *visit) (any, string, error) {
	e, err := r.effectiveInput(v, 0)
	if err != nil {
		return nil, "", err
	}
	result := e.input
	if v.s.parameters != nil {
		if result, err = v.s.parameters.eval(e); err != nil {
			return nil, "", r.runtimeError(v, describe(err, e.input))
		}
	}
	if v.s.hasResult {
		result = v.s.result
	}
	out, err := r.placeResult(v, result)
	if err != nil {
		return nil, "", err
	}
	return r.exit(v, out, v.s.next)
}

func (r *run) choice(v *visit) (any, string, error) {
	e, err := r.effectiveInput(v, 0)
	if err != nil {
		return nil, "", err
	}
	next := v.s.defaultNext
	for _, rule := range v.s.choices {
		ok, err := rule.match(e)
		if err != nil {
			return nil, "", r.runtimeError(v, err.Error())
		}
		if ok {
			next = rule.next
			break
		}
	}
	if next == "" {
		return nil, "", &failure{name: errNoChoice, cause: fmt.Sprintf(
			"No Choice Rule of state '%s' matched and it has no Default.", v.s.name)}
	}
	out, err := r.outputPath(v, e.input)
	if err != nil {
		return nil, "", err
	}
	return r.exit(v, out, next)
}

func (r *run) wait(ctx context.Context, v *visit) (any, string, error) {
	e, err := r.effectiveInput(v, 0)
	if err != nil {
		return nil, "", err
	}
	s := v.s
	var d time.Duration
	switch {
	case s.seconds:
		d = time.Duration(s.waitSeconds) * time.Second
	case s.timestamp:
		d = s.waitUntil.Sub(r.clock.Now())
	default:
		val, err := s.waitPath.eval(e)
		if err != nil {
			return nil, "", r.runtimeError(v, fmt.Sprintf("Invalid path '%s': no value in the input '%s'", s.waitPath, encodeJSON(e.input)))
		}
		if s.secondsPath {
			n, ok := integer(val)
			if !ok || n < 0 || n > maxSeconds {
				return nil, "", r.runtimeError(v, fmt.Sprintf("The SecondsPath '%s' must hold an integer from 0 to %d, not %s", s.waitPath, maxSeconds, encodeJSON(val)))
			}
			d = time.Duration(n) * time.Second
		} else {
			str, _ := val.(string)
			t, ok := parseTimestamp(str)
			if !ok {
				return nil, "", r.runtimeError(v, fmt.Sprintf("The TimestampPath '%s' must hold an RFC 3339 timestamp, not %s", s.waitPath, encodeJSON(val)))
			}
			d = t.Sub(r.clock.Now())
		}
	}
	if err := r.sleep(ctx, d); err != nil {
		return nil, "", err
	}
	out, err := r.outputPath(v, e.input)
	if err != nil {
		return nil, "", err
	}
	return r.exit(v, out, s.next)
}

func (r *run) fail(v *visit) error {
	f := &failure{name: v.s.errorName, cause: v.s.cause}
	e := &env{input: v.input, context: r.contextObject(v, 0)}
	for _, field := range []struct {
		name string
		ex   expr
		dst  *string
	}{{"ErrorPath", v.s.errorExpr, &f.name}, {"CausePath", v.s.causeExpr, &f.cause}} {
		if field.ex == nil {
			continue
		}
		val, err := field.ex.eval(e)
		if err != nil {
			return r.runtimeError(v, describe(&fieldError{field: field.name, err: err}, v.input))
		}
		s, ok := val.(string)
		if !ok {
			return r.runtimeError(v, fmt.Sprintf("The %s '%s' must produce a string, not %s", field.name, field.ex, encodeJSON(val)))
		}
		*field.dst = s
	}
	return f
}

func (r *run) task(ctx context.Context, v *visit) (any, string, error) {
	return r.withRetry(ctx, v, func(retries int) (any, error) { return r.attempt(ctx, v, retries) })
}

// withRetry makes attempts at a Task or Map state under its Retry, then hands a failure
// to its Catch.
func (r *run) withRetry(ctx context.Context, v *visit, attempt func(retries int) (any, error)) (any, string, error) {
	s := v.s
	attempts := make([]int64, len(s.retry))
	retries := 0
	for {
		out, err := attempt(retries)
		if err == nil {
			return r.exit(v, out, s.next)
		}
		var f *failure
		if !errors.As(err, &f) || !f.catchable() {
			return nil, "", err
		}
		// The first retrier that matches decides, even once it is exhausted: later ones
		// are not consulted.
		if i := firstMatch(len(s.retry), func(i int) []string { return s.retry[i].errorEquals }, f.name); i >= 0 && attempts[i] < s.retry[i].maxAttempts {
			d := s.retry[i].delay(attempts[i])
			attempts[i]++
			retries++
			if err := r.sleep(ctx, d); err != nil {
				return nil, "", err
			}
			continue
		}
		if i := firstMatch(len(s.catch), func(i int) []string { return s.catch[i].errorEquals }, f.name); i >= 0 {
			c := s.catch[i]
			out := v.input
			if c.resultPath != nil {
				errorOutput := map[string]any{"Error": f.name, "Cause": f.cause}
				if out, err = c.resultPath.set(v.input, errorOutput); err != nil {
					return nil, "", &failure{name: errResultPath, cause: fmt.Sprintf(
						"Unable to apply the Catch ResultPath '%s' to input '%s': %v", c.resultPath, encodeJSON(v.input), err)}
				}
			}
			return r.exit(v, out, c.next)
		}
		return nil, "", f
	}
}

func firstMatch(n int, errorEquals func(int) []string, name string) int {
	for i := range n {
		for _, e := range errorEquals(i) {
			// States.TaskFailed is a wildcard for everything but States.Timeout.
			if e == name || e == errAll || (e == errTaskFailed && name != errTimeout) {
				return i
			}
		}
	}
	return -1
}

// delay is the retrier's wait before retry number attempt+1: IntervalSeconds ×
// BackoffRate^attempt, capped by MaxDelaySeconds, then with FULL jitter drawn uniformly
// from [0, that].
func (rt retrier) delay(attempt int64) time.Duration {
	secs := float64(rt.interval) * math.Pow(rt.backoff, float64(attempt))
	if rt.maxDelay > 0 {
		secs = min(secs, float64(rt.maxDelay))
	}
	d := time.Duration(min(secs, maxSeconds) * float64(time.Second))
	if rt.fullJitter {
		d = rand.N(d + 1)
	}
	return d
}

// attempt runs the Task once: Parameters, the handler, ResultSelector, ResultPath,
// OutputPath. A failure comes back as *failure (for Retry and Catch) or *halt.
func (r *run) attempt(ctx context.Context, v *visit, retries int) (any, error) {
	s := v.s
	e, err := r.effectiveInput(v, retries)
	if err != nil {
		return nil, err
	}
	payload := e.input
	if s.parameters != nil {
		if payload, err = s.parameters.eval(e); err != nil {
			return nil, r.runtimeError(v, describe(err, e.input))
		}
	}
	body := encodeJSON(payload)
	if len(body) > maxPayload {
		return nil, &failure{name: errDataLimit, cause: fmt.Sprintf(
			"The state/task '%s' has an input with a size exceeding the maximum number of bytes service limit.", s.name)}
	}
	h := resolveHandler(r.handlers, s.resource)
	if h == nil {
		f := &failure{name: errTaskFailed, cause: fmt.Sprintf(
			"No handler for resource '%s': RunOptions.Handlers has neither that key nor its Lambda function name.", s.resource)}
		r.record(Event{Type: LambdaFunctionScheduleFailed, StateName: s.name, Error: f.name, Cause: f.cause}, nil)
		return nil, f
	}
	r.record(Event{Type: LambdaFunctionScheduled, StateName: s.name, Resource: s.resource, Input: body, TimeoutSeconds: s.timeout}, nil)
	r.record(Event{Type: LambdaFunctionStarted, StateName: s.name}, nil)
	res, err := r.call(ctx, v, h, body)
	if err != nil {
		return nil, err
	}
	if res.err != nil {
		f := &failure{name: res.err.Type, cause: lambdarun.Cause(res.err)}
		r.record(Event{Type: LambdaFunctionFailed, StateName: s.name, Error: f.name, Cause: f.cause}, nil)
		return nil, f
	}
	var f *failure
	var result any
	switch {
	case len(res.output) > maxPayload:
		f = &failure{name: errDataLimit, cause: fmt.Sprintf(
			"The state/task '%s' returned a result with a size exceeding the maximum number of bytes service limit.", s.name)}
	case len(strings.TrimSpace(string(res.output))) == 0:
		// A function that returns nothing answers null.
	default:
		if result, err = decodeJSON(res.output); err != nil {
			f = r.runtimeError(v, fmt.Sprintf("The Lambda function returned a response that is not JSON: %v", err))
		}
	}
	if f != nil {
		r.record(Event{Type: LambdaFunctionFailed, StateName: s.name, Error: f.name, Cause: f.cause}, nil)
		return nil, f
	}
	r.record(Event{Type: LambdaFunctionSucceeded, StateName: s.name, Output: encodeJSON(result)}, nil)
	if s.resultSelector != nil {
		sel, err := s.resultSelector.eval(&env{input: result, context: e.context})
		if err != nil {
			return nil, r.runtimeError(v, describe(err, result))
		}
		result = sel
	}
	return r.placeResult(v, result)
}

// call invokes the handler under the Task's timeout and the execution's, both in real
// time: they bound the handler's work, which no clock can skip. A result that arrives
// after the deadline is discarded, as Step Functions discards it.
func (r *run) call(ctx context.Context, v *visit, h Handler, body []byte) (invocation, error) {
	s := v.s
	var limit time.Duration
	field := "TimeoutSeconds"
	if s.timeout > 0 {
		limit = time.Duration(s.timeout) * time.Second
	}
	if s.heartbeat > 0 {
		// A Lambda function never heartbeats, so HeartbeatSeconds is its timeout too.
		limit, field = time.Duration(s.heartbeat)*time.Second, "HeartbeatSeconds"
	}
	machine := false
	if !r.deadline.IsZero() {
		if left := r.deadline.Sub(r.clock.Now()); limit == 0 || left < limit {
			if left <= 0 {
				return invocation{}, r.timedOut()
			}
			limit, machine = left, true
		}
	}
	var callCtx context.Context
	var cancel context.CancelFunc
	if limit > 0 {
		callCtx, cancel = context.WithTimeout(ctx, limit)
	} else {
		callCtx, cancel = context.WithCancel(ctx)
	}
	defer cancel()
	lc := &lambdacontext.LambdaContext{AwsRequestID: uuid.NewString()}
	if _, _, ok := lambdaFunction(s.resource); ok {
		lc.InvokedFunctionArn = s.resource
	}
	done := make(chan invocation, 1) // buffered: an abandoned handler must not block
	go func() { done <- invoke(lambdacontext.NewContext(callCtx, lc), h, body) }()
	var res invocation
	select {
	case res = <-done:
	case <-callCtx.Done():
	}
	switch {
	case ctx.Err() != nil:
		return invocation{}, r.aborted(ctx)
	case callCtx.Err() == nil:
		return res, nil
	case machine:
		return invocation{}, r.timedOut()
	}
	f := &failure{name: errTimeout, cause: fmt.Sprintf("The Lambda function did not finish within the state's %s of %d.", field, int64(limit/time.Second))}
	r.record(Event{Type: LambdaFunctionTimedOut, StateName: s.name, Error: f.name, Cause: f.cause}, nil)
	return invocation{}, f
}
