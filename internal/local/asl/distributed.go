package asl

import (
	"cmp"
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
)

// mapRun runs a DISTRIBUTED Map as a Map Run: every item, or batch of items, is a child
// execution with a history of its own, and the run fails once more items have failed
// than it tolerates.
func (r *run) mapRun(ctx context.Context, v *visit, e *env, items []any) ([]any, error) {
	s := v.s
	label := cmp.Or(s.label, s.name)
	lm := &liveMapRun{run: MapRun{
		Arn:                        fmt.Sprintf("arn:aws:states:%s:%s:mapRun:%s/%s:%s", r.region, r.account, r.machineName, label, uuid.NewString()),
		StateName:                  s.name,
		Status:                     StatusRunning,
		StartDate:                  r.clock.Now(),
		MaxConcurrency:             s.maxConcurrency,
		ToleratedFailurePercentage: s.tolerance.percentage,
		ToleratedFailureCount:      s.tolerance.count,
		Executions:                 []Execution{},
	}}
	r.live.mu.Lock()
	r.live.mapRuns = append(r.live.mapRuns, lm)
	r.live.mu.Unlock()
	r.record(Event{Type: MapRunStarted, StateName: s.name, MapRunArn: lm.run.Arn}, nil)

	results, err := r.children(ctx, v, e, lm, label, items)

	ev := Event{Type: MapRunSucceeded, StateName: s.name}
	status := StatusSucceeded
	var f *failure
	var h *halt
	switch {
	case errors.As(err, &h):
		ev.Type, status = MapRunAborted, StatusAborted
	case errors.As(err, &f):
		ev.Type, status = MapRunFailed, StatusFailed
		ev.Error, ev.Cause = f.name, f.cause
	}
	r.record(ev, func(_ *Execution, ev Event) { lm.run.Status, lm.run.StopDate = status, ev.Timestamp })
	return results, err
}

// children starts the child executions, at most MaxConcurrency at once, and collects their
// results in item order.
func (r *run) children(ctx context.Context, v *visit, e *env, lm *liveMapRun, label string, items []any) ([]any, error) {
	s := v.s
	inputs, sizes, err := r.batches(v, e, items)
	if err != nil {
		return nil, err
	}
	total := int64(len(items))
	r.live.mu.Lock()
	lm.run.ItemCounts = MapRunCounts{Pending: total, Total: total}
	lm.run.ExecutionCounts = MapRunCounts{Pending: int64(len(inputs)), Total: int64(len(inputs))}
	r.live.mu.Unlock()

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	results := make([]any, len(inputs))
	// Guarded by r.live.mu, with the counts. A child that ends ABORTED although nothing
	// stopped it reached the execution's deadline, which it shares.
	exceeded, deadline := false, false
	slots := concurrency(s.maxConcurrency, len(inputs))
	done := make(chan struct{}, len(inputs))
	started := 0
schedule:
	for i, input := range inputs {
		select {
		case slots <- struct{}{}:
		case <-runCtx.Done():
			break schedule
		}
		if runCtx.Err() != nil {
			break
		}
		c := r.newChild(s, label, input)
		n := sizes[i]
		r.live.mu.Lock()
		lm.children = append(lm.children, c.live)
		move(n, &lm.run.ItemCounts.Pending, &lm.run.ItemCounts.Running)
		move(1, &lm.run.ExecutionCounts.Pending, &lm.run.ExecutionCounts.Running)
		r.live.mu.Unlock()
		started++
		go func() {
			defer func() { <-slots; done <- struct{}{} }()
			c.execute(runCtx)
			c.live.mu.Lock()
			status := c.live.exec.Status
			results[i] = childResult(c)
			c.live.mu.Unlock()
			r.live.mu.Lock()
			defer r.live.mu.Unlock()
			to := &lm.run.ItemCounts.Succeeded
			toExec := &lm.run.ExecutionCounts.Succeeded
			switch status {
			case StatusFailed, StatusTimedOut:
				to, toExec = &lm.run.ItemCounts.Failed, &lm.run.ExecutionCounts.Failed
			case StatusAborted:
				to, toExec = &lm.run.ItemCounts.Aborted, &lm.run.ExecutionCounts.Aborted
				if runCtx.Err() == nil {
					deadline = true
					stop()
				}
			}
			move(n, &lm.run.ItemCounts.Running, to)
			move(1, &lm.run.ExecutionCounts.Running, toExec)
			// Once the threshold is passed the run cannot succeed: stop the rest.
			if !exceeded && s.tolerance.exceeded(lm.run.ItemCounts.Failed, total) {
				exceeded = true
				stop()
			}
		}()
	}
	for range started {
		<-done
	}
	if err := r.interrupted(ctx); err != nil {
		return nil, err
	}
	if deadline {
		return nil, r.timedOut()
	}
	if exceeded {
		return nil, &failure{name: errTolerated, cause: "The specified tolerated failure threshold was exceeded"}
	}
	return results, nil
}

// move shifts n from one count to another.
func move(n int64, from, to *int64) {
	*from -= n
	*to += n
}

// exceeded reports whether failed of total items is more than the run tolerates.
func (t tolerance) exceeded(failed, total int64) bool {
	if !t.hasCount && !t.hasPercent {
		return failed > 0
	}
	return (t.hasCount && failed > t.count) ||
		(t.hasPercent && total > 0 && float64(failed)*100 > t.percentage*float64(total))
}

// newChild prepares a child execution of the Map Run, named as Step Functions names them:
// under <state machine>/<label>, which is also its state machine's name in $$.
func (r *run) newChild(s *state, label string, input any) *run {
	name := uuid.NewString()
	machine := r.machineName + "/" + label
	c := &run{
		g:           &s.processor.graph,
		handlers:    r.handlers,
		clock:       r.clock,
		region:      r.region,
		account:     r.account,
		name:        name,
		machineName: machine,
		machineArn:  fmt.Sprintf("arn:aws:states:%s:%s:stateMachine:%s", r.region, r.account, machine),
		arn:         fmt.Sprintf("arn:aws:states:%s:%s:execution:%s:%s", r.region, r.account, machine, name),
		input:       input,
		start:       r.clock.Now(),
		deadline:    r.deadline,
		child:       true,
	}
	c.begin(encodeJSON(input), func(error) {})
	return c
}

// childResult is what a finished child adds to the Map's output. Without a ResultWriter
// Step Functions returns each child's output (its COMPACT transformation), but a child
// that did not succeed "returns its execution result unchanged", as the NONE
// transformation has it: the description of the execution, with its Error and Cause and
// its input as a string, as ResultWriter writes it to S3. A tolerated failure thus shows
// in the output, in its item's place, instead of vanishing or becoming null. Locked by
// the caller.
func childResult(c *run) any {
	e := &c.live.exec
	if e.Status == StatusSucceeded {
		return c.result
	}
	out := map[string]any{
		"ExecutionArn":    e.Arn,
		"Name":            e.Name,
		"StateMachineArn": e.StateMachineArn,
		"Status":          string(e.Status),
		"Input":           string(e.Input),
		"InputDetails":    map[string]any{"Included": true},
		"StartDate":       isoTime(e.StartDate),
		"StopDate":        isoTime(e.StopDate),
	}
	if e.Error != "" {
		out["Error"] = e.Error
	}
	if e.Cause != "" {
		out["Cause"] = e.Cause
	}
	return out
}

// batches groups the items into the inputs of the child executions, reporting how many
// items each holds. Without an ItemBatcher, each item is one child's input; with one,
// consecutive items fill {"Items": [...], "BatchInput": ...} up to MaxItemsPerBatch items
// and MaxInputBytesPerBatch bytes of that JSON.
func (r *run) batches(v *visit, e *env, items []any) ([]any, []int64, error) {
	b := v.s.batcher
	if b == nil {
		sizes := make([]int64, len(items))
		for i := range sizes {
			sizes[i] = 1
		}
		return items, sizes, nil
	}
	var batchInput any
	if b.input != nil {
		var err error
		if batchInput, err = b.input.eval(e); err != nil {
			return nil, nil, r.runtimeError(v, describe(err, e.input))
		}
	}
	wrap := func(batch []any) any {
		w := map[string]any{"Items": batch}
		if b.input != nil {
			w["BatchInput"] = batchInput
		}
		return w
	}
	limit, limitName := b.maxBytes, "the ItemBatcher's MaxInputBytesPerBatch"
	if limit == 0 {
		limit, limitName = maxPayload, "Step Functions' limit on an execution's input"
	}
	// The encoding is compact: each item adds its own bytes, and a comma after the first.
	base := int64(len(encodeJSON(wrap([]any{}))))
	var inputs []any
	var sizes []int64
	var batch []any
	size := base
	for i, item := range items {
		n := int64(len(encodeJSON(item)))
		if base+n > limit {
			return nil, nil, r.runtimeError(v, fmt.Sprintf(
				"The item at index %d makes a batch of %d bytes, over %s of %d: no batch can hold it.", i, base+n, limitName, limit))
		}
		full := b.maxItems > 0 && int64(len(batch)) >= b.maxItems
		if len(batch) > 0 && (full || size+1+n > limit) {
			inputs, sizes = append(inputs, wrap(batch)), append(sizes, int64(len(batch)))
			batch, size = nil, base
		}
		if len(batch) > 0 {
			size++
		}
		batch, size = append(batch, item), size+n
	}
	if len(batch) > 0 {
		inputs, sizes = append(inputs, wrap(batch)), append(sizes, int64(len(batch)))
	}
	return inputs, sizes, nil
}
