package asl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"
	"unicode/utf8"
)

// processor is a Map state's ItemProcessor (or Iterator): the states each item runs through.
type processor struct {
	graph
	distributed   bool   // Mode DISTRIBUTED: every item (or batch) is a child execution
	executionType string // DISTRIBUTED only: STANDARD or EXPRESS, both run alike here
}

// batcher is a distributed Map's ItemBatcher: consecutive items share one child execution.
type batcher struct {
	maxItems, maxBytes int64 // 0: no limit of that kind
	input              template
}

// tolerance is how many failed items a Map Run survives. Neither set: none.
type tolerance struct {
	count                int64
	percentage           float64
	hasCount, hasPercent bool
}

const (
	maxLabelLength    = 40
	maxBatchBytes     = maxPayload
	maxMapConcurrency = math.MaxInt32
)

func (l *loader) mapState(where string, o *object, s *state) {
	l.errorHandling(where, o, s)
	if v, ok := o.vals["ItemsPath"]; ok {
		s.itemsPath = l.referencePath(where+": ItemsPath", v, true)
	} else {
		s.itemsPath = &jpath{text: "$"}
	}
	s.itemSelector = l.template(where, o, "ItemSelector")
	if _, ok := o.vals["ItemSelector"]; ok && s.parameters != nil {
		l.problem("%s: ItemSelector and Parameters are mutually exclusive (Parameters is the older name of ItemSelector)", where)
	} else if s.itemSelector == nil {
		s.itemSelector = s.parameters
	}
	s.parameters = nil // a Map has no payload of its own: Parameters selects items
	if n, ok := l.integer(where, o, "MaxConcurrency", 0, maxMapConcurrency); ok {
		s.maxConcurrency = n
	}

	_, hasProcessor := o.vals["ItemProcessor"]
	_, hasIterator := o.vals["Iterator"]
	key := "ItemProcessor"
	switch {
	case hasProcessor && hasIterator:
		l.problem("%s: ItemProcessor and Iterator are mutually exclusive (Iterator is the older name of ItemProcessor)", where)
		return
	case hasIterator:
		key = "Iterator"
	case !hasProcessor:
		l.problem("%s: ItemProcessor is required", where)
		return
	}
	po, ok := o.vals[key].(*object)
	if !ok {
		l.problem("%s: %s must be an object", where, key)
		return
	}
	s.processor = l.processor(where, key, po)
	if s.processor == nil {
		return
	}
	distributed := s.processor.distributed
	if distributed && key == "Iterator" {
		l.problem("%s: Iterator only runs INLINE: use ItemProcessor for a DISTRIBUTED Map", where)
	}
	for _, k := range []string{"ItemBatcher", "ToleratedFailurePercentage", "ToleratedFailureCount", "Label"} {
		if _, ok := o.vals[k]; ok && !distributed {
			l.problem("%s: %s is only allowed in a DISTRIBUTED Map (ItemProcessor.ProcessorConfig.Mode)", where, k)
		}
	}
	if !distributed {
		return
	}
	if v, ok := o.vals["ItemBatcher"]; ok {
		if bo, ok := v.(*object); ok {
			s.batcher = l.batcher(where+": ItemBatcher", bo)
		} else {
			l.problem("%s: ItemBatcher must be an object", where)
		}
	}
	if n, ok := l.integer(where, o, "ToleratedFailureCount", 0, math.MaxInt64); ok {
		s.tolerance.count, s.tolerance.hasCount = n, true
	}
	if v, ok := o.vals["ToleratedFailurePercentage"]; ok {
		n, isNumber := v.(json.Number)
		f, err := n.Float64()
		if !isNumber || err != nil || f < 0 || f > 100 {
			l.problem("%s: ToleratedFailurePercentage must be a number from 0 to 100", where)
		}
		s.tolerance.percentage, s.tolerance.hasPercent = f, true
	}
	if label, ok := l.str(where, o, "Label", false); ok {
		if c, bad := forbiddenNameRune(label); bad || label == "" || utf8.RuneCountInString(label) > maxLabelLength {
			what := fmt.Sprintf("must have 1 to %d characters", maxLabelLength)
			if bad {
				what = fmt.Sprintf("contains %q, which Step Functions does not allow", c)
			}
			l.problem("%s: Label %q %s", where, label, what)
		}
		s.label = label
	}
}

func (l *loader) processor(where, key string, o *object) *processor {
	at := where + ": " + key
	for _, k := range o.keys {
		switch k {
		case "ProcessorConfig", "StartAt", "States", "Comment":
		default:
			l.problem("%s: unknown field %q", at, k)
		}
	}
	l.str(at, o, "Comment", false)
	p := &processor{}
	if v, ok := o.vals["ProcessorConfig"]; ok {
		co, ok := v.(*object)
		if !ok {
			l.problem("%s: ProcessorConfig must be an object", at)
			return nil
		}
		cat := at + ": ProcessorConfig"
		for _, k := range co.keys {
			if k != "Mode" && k != "ExecutionType" {
				l.problem("%s: unknown field %q", cat, k)
			}
		}
		switch mode, _ := l.str(cat, co, "Mode", false); mode {
		case "", "INLINE":
		case "DISTRIBUTED":
			p.distributed = true
		default:
			l.problem("%s: Mode must be INLINE or DISTRIBUTED, not %q", cat, mode)
		}
		et, hasType := l.str(cat, co, "ExecutionType", false)
		switch {
		case hasType && !p.distributed:
			l.problem("%s: ExecutionType is only allowed with Mode DISTRIBUTED", cat)
		case !hasType && p.distributed:
			l.problem("%s: ExecutionType (STANDARD or EXPRESS) is required with Mode DISTRIBUTED", cat)
		case hasType && et != "STANDARD" && et != "EXPRESS":
			l.problem("%s: ExecutionType must be STANDARD or EXPRESS, not %q", cat, et)
		}
		p.executionType = et
	}
	outer := l.at
	l.at += where + ": "
	p.graph = l.graph(key, o)
	l.at = outer
	return p
}

func (l *loader) batcher(at string, o *object) *batcher {
	b := &batcher{}
	for _, k := range o.keys {
		switch k {
		case "MaxItemsPerBatch", "MaxInputBytesPerBatch", "BatchInput":
		case "MaxItemsPerBatchPath", "MaxInputBytesPerBatchPath":
			l.problem("%s: field %q (dynamic Map settings) is not supported by the local engine", at, k)
		default:
			l.problem("%s: unknown field %q", at, k)
		}
	}
	b.maxItems, _ = l.integer(at, o, "MaxItemsPerBatch", 1, math.MaxInt32)
	b.maxBytes, _ = l.integer(at, o, "MaxInputBytesPerBatch", 1, maxBatchBytes)
	_, hasItems := o.vals["MaxItemsPerBatch"]
	_, hasBytes := o.vals["MaxInputBytesPerBatch"]
	if !hasItems && !hasBytes {
		l.problem("%s: needs MaxItemsPerBatch or MaxInputBytesPerBatch", at)
	}
	b.input = l.template(at, o, "BatchInput")
	return b
}

// mapState runs a Map state: the whole Map is one attempt for its Retry, and its failure
// goes to its Catch, as a Task's does.
func (r *run) mapState(ctx context.Context, v *visit) (any, string, error) {
	return r.withRetry(ctx, v, func(retries int) (any, error) { return r.mapAttempt(ctx, v, retries) })
}

// mapAttempt selects the items, runs them through the ItemProcessor and places the
// array of their results. A failure comes back as *failure (for Retry and Catch) or *halt.
func (r *run) mapAttempt(ctx context.Context, v *visit, retries int) (any, error) {
	s := v.s
	e, err := r.effectiveInput(v, retries)
	if err != nil {
		return nil, err
	}
	items, err := r.items(v, e)
	if err != nil {
		return nil, r.mapEnded(v, err)
	}
	r.record(Event{Type: MapStateStarted, StateName: s.name, Length: ptr(int64(len(items)))}, nil)
	var results []any
	if s.processor.distributed {
		results, err = r.mapRun(ctx, v, e, items)
	} else {
		results, err = r.iterate(ctx, v, items)
	}
	if err != nil {
		return nil, r.mapEnded(v, err)
	}
	r.record(Event{Type: MapStateSucceeded, StateName: s.name}, nil)
	var result any = results
	if s.resultSelector != nil {
		if result, err = s.resultSelector.eval(&env{input: results, context: e.context}); err != nil {
			return nil, r.runtimeError(v, describe(err, results))
		}
	}
	return r.placeResult(v, result)
}

// mapEnded records how a Map that did not succeed ended: failed, or aborted with the
// execution.
func (r *run) mapEnded(v *visit, err error) error {
	typ := MapStateFailed
	var h *halt
	if errors.As(err, &h) {
		typ = MapStateAborted
	}
	r.record(Event{Type: typ, StateName: v.s.name}, nil)
	return err
}

// items applies ItemsPath, then ItemSelector to each item.
func (r *run) items(v *visit, e *env) ([]any, error) {
	s := v.s
	val, err := s.itemsPath.eval(e)
	if err != nil {
		return nil, r.runtimeError(v, fmt.Sprintf("Invalid path '%s' : No results for path in the state input '%s'", s.itemsPath, encodeJSON(e.input)))
	}
	items, ok := val.([]any)
	if !ok {
		return nil, r.runtimeError(v, fmt.Sprintf("The ItemsPath '%s' must select a JSON array, not %s", s.itemsPath, encodeJSON(val)))
	}
	if s.itemSelector == nil {
		return items, nil
	}
	out := make([]any, len(items))
	for i, item := range items {
		ctxObj := map[string]any{}
		for k, val := range e.context.(map[string]any) {
			ctxObj[k] = val
		}
		ctxObj["Map"] = map[string]any{"Item": map[string]any{"Index": number(int64(i)), "Value": item}}
		if out[i], err = s.itemSelector.eval(&env{input: e.input, context: ctxObj}); err != nil {
			return nil, r.runtimeError(v, describe(err, e.input))
		}
	}
	return out, nil
}

// iterate runs an INLINE Map: each item goes through the ItemProcessor within this
// execution, its events in this history. The first iteration to fail fails the Map, and
// the others are stopped.
func (r *run) iterate(ctx context.Context, v *visit, items []any) ([]any, error) {
	s := v.s
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make([]any, len(items))
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	slots := concurrency(s.maxConcurrency, len(items))
schedule:
	for i, item := range items {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			break schedule
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-slots }()
			it := *r // the same execution and history; its events carry the index
			it.index = ptr(int64(i))
			it.record(Event{Type: MapIterationStarted, StateName: s.name}, nil)
			out, err := it.runGraph(ctx, &s.processor.graph, item)
			var h *halt
			switch {
			case err == nil:
				results[i] = out
				it.record(Event{Type: MapIterationSucceeded, StateName: s.name}, nil)
				return
			case errors.As(err, &h):
				it.record(Event{Type: MapIterationAborted, StateName: s.name}, nil)
			default:
				it.record(Event{Type: MapIterationFailed, StateName: s.name}, nil)
			}
			mu.Lock()
			defer mu.Unlock()
			// Only the first error counts: those after it are the others being stopped.
			if first == nil {
				first = err
				cancel()
			}
		})
	}
	wg.Wait()
	return results, first
}

// concurrency hands out at most limit (0: all n) slots at once.
func concurrency(limit int64, n int) chan struct{} {
	if limit == 0 || limit > int64(n) {
		limit = int64(max(n, 1))
	}
	return make(chan struct{}, limit)
}

func ptr[T any](v T) *T { return &v }
